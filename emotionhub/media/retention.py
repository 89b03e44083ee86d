"""Retention: a tenant's images and videos older than ``media_retention_days`` lose their
stored file and the face data of their results; the rows and labels stay for reporting.

What is removed: the file (after commit), every face box, landmark and crop in the
results' payloads (:data:`FACE_KEYS`, at any depth: facial_emotion faces and video
tracks, image_sentiment's face component), and queued jobs of the media (cancelled: they
could only fail on a missing file). What stays: emotion probabilities, labels, counts,
``ResultFact`` rows and review labels. Text items have no file or face data and are kept
(delete them, or their post, over the API).

Safe to run concurrently and repeatedly: each batch locks its rows with ``SKIP LOCKED``
and only takes media not purged yet, so two runs never purge the same media and a second
run finds nothing left. Each batch is one transaction with its audit event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from emotionhub import audit
from emotionhub.accounts.models import Tenant
from emotionhub.jobs import lifecycle
from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus
from emotionhub.media.deletion import lock_submissions
from emotionhub.media.models import Media, MediaKind

log = logging.getLogger(__name__)
#: Payload keys that locate or depict a face; their values are removed by a purge.
FACE_KEYS = frozenset({"box", "boxes", "last_box", "landmarks", "crop", "crops"})
PURGED_MARKER = "face_data_purged"
DEFAULT_BATCH_SIZE = 200


@dataclasses.dataclass
class PurgeReport:
    media: int = 0
    files: int = 0
    results_stripped: int = 0
    jobs_cancelled: int = 0
    by_tenant: dict[str, int] = dataclasses.field(default_factory=dict)


def strip_face_data(payload: Any) -> tuple[Any, bool]:
    """``payload`` without :data:`FACE_KEYS` at any depth, and whether anything went."""
    if isinstance(payload, dict):
        changed = False
        out = {}
        for key, value in payload.items():
            if key in FACE_KEYS:
                changed = True
                continue
            out[key], sub_changed = strip_face_data(value)
            changed = changed or sub_changed
        return out, changed
    if isinstance(payload, list):
        pairs = [strip_face_data(value) for value in payload]
        return [value for value, _ in pairs], any(changed for _, changed in pairs)
    return payload, False


def expired(tenant: Tenant, now: dt.datetime) -> QuerySet[Media]:
    """The tenant's images and videos past retention that still hold a file or face data."""
    assert tenant.media_retention_days is not None  # called for tenants_with_retention()
    cutoff = now - dt.timedelta(days=tenant.media_retention_days)
    return Media.objects.filter(
        tenant=tenant,
        kind__in=(MediaKind.IMAGE, MediaKind.VIDEO),
        purged_at__isnull=True,
        created_at__lt=cutoff,
    )


def tenants_with_retention() -> Iterator[Tenant]:
    yield from Tenant.objects.filter(media_retention_days__isnull=False).order_by("slug")


def purge_expired(
    *, now: dt.datetime | None = None, batch_size: int = DEFAULT_BATCH_SIZE, dry_run: bool = False
) -> PurgeReport:
    """Purge every tenant's expired media; ``dry_run`` only counts what would go."""
    now = now or timezone.now()
    report = PurgeReport()
    for tenant in tenants_with_retention():
        if dry_run:
            count = expired(tenant, now).count()
        else:
            count = 0
            while purged := _purge_batch(tenant, now, batch_size, report):
                count += purged
        if count:
            report.by_tenant[tenant.slug] = count
            report.media += count if dry_run else 0
    return report


def _purge_batch(tenant: Tenant, now: dt.datetime, batch_size: int, report: PurgeReport) -> int:
    with transaction.atomic():
        batch = list(
            expired(tenant, now)
            .select_for_update(skip_locked=True)
            .order_by("created_at", "pk")
            .only("pk", "file", "submission_id")[:batch_size]
        )
        if not batch:
            return 0
        ids = [media.pk for media in batch]
        lock_submissions({m.submission_id for m in batch if m.submission_id is not None})
        files = [(media.file.storage, media.file.name) for media in batch if media.file]
        Media.objects.filter(pk__in=ids).update(file="", purged_at=now)
        stripped = 0
        results = AnalysisResult.objects.select_for_update().filter(media_id__in=ids)
        for result in results.only("pk", "payload"):
            payload, changed = strip_face_data(result.payload)
            if changed and isinstance(payload, dict):
                payload[PURGED_MARKER] = True
            if changed:
                AnalysisResult.objects.filter(pk=result.pk).update(payload=payload)
                stripped += 1
        cancelled = lifecycle.cancel_jobs(
            AnalysisJob.objects.filter(media_id__in=ids, status=JobStatus.QUEUED)
        )
        audit.record(
            audit.Action.PURGE,
            tenant=tenant,
            obj_type="media",
            count=len(ids),
            details={
                "reason": "retention",
                "retention_days": tenant.media_retention_days,
                "media": [str(pk) for pk in ids],
                "files": len(files),
                "results_stripped": stripped,
            },
        )
        transaction.on_commit(lambda: _remove_files(files))
    report.media += len(ids)
    report.files += len(files)
    report.results_stripped += stripped
    report.jobs_cancelled += cancelled
    log.info("purged %d media of tenant %s (retention)", len(ids), tenant.slug)
    return len(ids)


def _remove_files(files) -> None:
    for storage, name in files:
        try:
            storage.delete(name)
        except OSError:
            log.exception("retention could not remove %s", name)
