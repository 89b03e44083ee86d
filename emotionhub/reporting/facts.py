"""Pull the chartable numbers out of result payloads into ``ResultFact`` rows.

Results are written by the workers with ``INSERT … ON CONFLICT DO NOTHING`` (no Django
signals), so facts are filled by :func:`sync`: every dashboard request calls it for results
newer than the newest fact (an index probe when nothing is new), and the periodic reporting
task also looks back a safety margin for results whose transaction committed late.
``sync(full=True)`` (the ``sync_report_facts`` command) backfills everything.

Which columns a result fills comes from its analyzer's declared capabilities
(``emotionhub.analyzers.contract``): ``faces`` gives the dominant face label and count,
``sentiment`` the polarity (the same ``sentiment_polarity`` rule as post summaries),
``emotion`` the item's emotion label.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Max

from emotionhub.analyzers.contract import sentiment_polarity
from emotionhub.analyzers.registry import analyzers_producing
from emotionhub.jobs.models import AnalysisResult
from emotionhub.reporting.models import ResultFact

# Longer than any transaction that writes a result: one committed later than this after
# its created_at would be missed by the incremental sync (the full sync still finds it).
SYNC_MARGIN = dt.timedelta(hours=1)
BATCH = 2000


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
        return float(value)
    return None


def _faces(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    faces = payload.get("faces") if "faces" in payload else payload.get("tracks")
    return [f for f in faces or [] if isinstance(f, Mapping)]


def dominant_label(faces: list[Mapping[str, Any]]) -> str:
    """The label most faces share; ties go to the larger summed confidence."""
    counts: Counter[str] = Counter()
    weight: defaultdict[str, float] = defaultdict(float)
    for face in faces:
        label = face.get("label")
        if isinstance(label, str):
            counts[label] += 1
            weight[label] += _number(face.get("confidence"), 0.0, 1.0) or 0.0
    if not counts:
        return ""
    return max(counts, key=lambda label: (counts[label], weight[label], label))


def extract(analyzer: str, payload: Any) -> dict[str, Any]:
    """The fact columns of one payload; unknown shapes give an empty fact, never an error."""
    fields: dict[str, Any] = {
        "label": "",
        "polarity": None,
        "confidence": None,
        "emotion": "",
        "face_count": 0,
        "disagreement": False,
    }
    if not isinstance(payload, Mapping):
        return fields
    if analyzer in analyzers_producing("faces"):
        faces = _faces(payload)
        label = dominant_label(faces)
        confidences = [c for f in faces if (c := _number(f.get("confidence"), 0, 1)) is not None]
        fields.update(
            label=label,
            emotion=label,
            confidence=min(confidences) if confidences else None,
            face_count=len(faces),
        )
        return fields
    given = payload.get("label")
    fields["label"] = given[:32] if isinstance(given, str) else ""
    fields["confidence"] = _number(payload.get("confidence"), 0.0, 1.0)
    if analyzer in analyzers_producing("emotion"):
        emotion = payload.get("emotion_label")
        fields["emotion"] = emotion[:32] if isinstance(emotion, str) else ""
    if analyzer in analyzers_producing("sentiment"):
        fields["polarity"] = sentiment_polarity(payload)
        fields["disagreement"] = payload.get("disagreement") is True
        count = payload.get("face_count")
        fields["face_count"] = count if isinstance(count, int) and count >= 0 else 0
    return fields


def fact_for(result: AnalysisResult) -> ResultFact:
    """Needs ``media`` and ``media.source_post`` loaded (select_related)."""
    media = result.media
    post = media.source_post
    occurred = (post.posted_at or post.ingested_at) if post else media.created_at
    return ResultFact(
        result_id=result.pk,
        tenant_id=result.tenant_id,
        media_id=media.pk,
        post_id=post.pk if post else None,
        source_id=post.source_id if post else None,
        analyzer=result.analyzer,
        model_version=result.model_version,
        media_kind=media.kind,
        occurred_at=occurred,
        result_created_at=result.created_at,
        **extract(result.analyzer, result.payload),
    )


def sync(*, full: bool = False, margin: dt.timedelta = SYNC_MARGIN) -> int:
    """Create the missing facts and mark superseded ones; returns how many were created.

    Requests pass ``margin=0``: only results newer than the newest fact, an index probe
    when there are none. The periodic task keeps the margin for late commits.
    """
    pending = AnalysisResult.objects.filter(fact__isnull=True)
    if not full:
        newest = ResultFact.objects.aggregate(newest=Max("result_created_at"))["newest"]
        if newest is not None:
            newer = AnalysisResult.objects.filter(created_at__gt=newest)
            if margin == dt.timedelta(0) and not newer.exists():
                return 0
            pending = pending.filter(created_at__gte=newest - margin)
    pending = pending.select_related("media", "media__source_post").order_by("created_at")
    created = 0
    while True:
        batch = [fact_for(result) for result in pending[:BATCH]]
        if not batch:
            return created
        with transaction.atomic():
            ResultFact.objects.bulk_create(batch, ignore_conflicts=True)
            _mark_superseded({(f.media_id, f.analyzer) for f in batch})
        created += len(batch)
        if len(batch) < BATCH:
            return created


def _mark_superseded(keys: set[tuple[Any, str]]) -> None:
    """Only the newest result of a media and analyzer stays ``current``."""
    media_ids = {media_id for media_id, _ in keys}
    rows = (
        ResultFact.objects.filter(media_id__in=media_ids)
        .order_by("media_id", "analyzer", "-result_created_at", "-result_id")
        .values_list("result_id", "media_id", "analyzer", "current")
    )
    seen: set[tuple[Any, str]] = set()
    stale, fresh = [], []
    for result_id, media_id, analyzer, current in rows:
        key = (media_id, analyzer)
        if key not in keys:
            continue
        newest = key not in seen
        seen.add(key)
        if newest and not current:
            fresh.append(result_id)
        elif not newest and current:
            stale.append(result_id)
    if stale:
        ResultFact.objects.filter(result_id__in=stale).update(current=False)
    if fresh:
        ResultFact.objects.filter(result_id__in=fresh).update(current=True)


def sync_for_request() -> int:
    """What a dashboard or API request calls before reading facts."""
    return sync(margin=dt.timedelta(0))
