"""The dashboard's aggregates, computed in the database over ``ResultFact``.

One :class:`ReportFilters` (brand, date range, granularity, analyzer, media kind, source)
scopes every chart, so the page, its CSV exports and the REST API always agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour

from emotionhub.media.models import Media
from emotionhub.reporting.emotions import common_emotion
from emotionhub.reporting.models import Brand, ResultFact
from emotionhub.social.models import Post

GRANULARITIES = ("day", "hour")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
MAX_BUCKETS = 24 * 62  # an hourly chart of two months at most
TOP_POSTS = 5


@dataclasses.dataclass(frozen=True)
class ReportFilters:
    brand: Brand
    start: dt.date
    end: dt.date  # inclusive
    granularity: str = "day"
    analyzer: str = ""
    kind: str = ""
    source_id: str = ""

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        """Exclusive end: midnight after ``end``."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    @functools.cached_property
    def brand_match(self) -> Q:
        """Computed once per filters object, shared by every chart query."""
        return brand_q(self.brand, self.start_at, self.end_at)

    def buckets(self) -> list[dt.datetime]:
        step = dt.timedelta(days=1) if self.granularity == "day" else dt.timedelta(hours=1)
        out, at = [], self.start_at
        while at < self.end_at:
            out.append(at)
            at += step
        return out

    def as_query(self) -> dict[str, str]:
        """The filters as query-string values (CSV links, API examples)."""
        query = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "granularity": self.granularity,
        }
        for key in ("analyzer", "kind"):
            if getattr(self, key):
                query[key] = getattr(self, key)
        if self.source_id:
            query["source"] = str(self.source_id)
        return query


def brand_q(brand: Brand, start_at: dt.datetime, end_at: dt.datetime) -> Q:
    """Facts that belong to a brand: from its sources, or mentioning one of its keywords.

    Keyword matches are looked up once (posts of the range, then direct text submissions)
    and become id lists, so the chart queries never join post or media text.
    """
    source_ids = list(brand.sources.values_list("pk", flat=True))
    keywords = [k.strip() for k in brand.keywords if isinstance(k, str) and k.strip()]
    if not source_ids and not keywords:
        return Q()
    match = Q(source_id__in=source_ids) if source_ids else Q(pk__in=[])
    if keywords:
        mentions = Q()
        for keyword in keywords:
            mentions |= Q(text__icontains=keyword)
        in_range = Q(posted_at__gte=start_at, posted_at__lt=end_at) | Q(
            posted_at__isnull=True, ingested_at__gte=start_at, ingested_at__lt=end_at
        )
        posts = Post.objects.filter(mentions, in_range, tenant_id=brand.tenant_id)
        if source_ids:
            posts = posts.exclude(source_id__in=source_ids)
        direct = Media.objects.filter(
            mentions,
            tenant_id=brand.tenant_id,
            source_post__isnull=True,
            created_at__gte=start_at,
            created_at__lt=end_at,
        )
        match |= Q(post_id__in=list(posts.values_list("pk", flat=True)))
        match |= Q(media_id__in=list(direct.values_list("pk", flat=True)))
    return match


def scoped(filters: ReportFilters) -> QuerySet[ResultFact]:
    queryset = ResultFact.objects.filter(
        filters.brand_match,
        tenant_id=filters.brand.tenant_id,
        current=True,
        occurred_at__gte=filters.start_at,
        occurred_at__lt=filters.end_at,
    )
    if filters.analyzer:
        queryset = queryset.filter(analyzer=filters.analyzer)
    if filters.kind:
        queryset = queryset.filter(media_kind=filters.kind)
    if filters.source_id:
        queryset = queryset.filter(source_id=filters.source_id)
    return queryset


def _sentiment_aggregates() -> dict[str, Any]:
    voted = Q(polarity__isnull=False)
    return {
        "volume": Count("media_id", distinct=True),
        "votes": Count("polarity"),
        "sentiment": Avg("polarity"),
        **{label: Count("pk", filter=voted & Q(label=label)) for label in SENTIMENT_LABELS},
    }


def _row(values: dict[str, Any]) -> dict[str, Any]:
    sentiment = values.get("sentiment")
    return {
        "volume": values.get("volume", 0),
        "votes": values.get("votes", 0),
        "sentiment": round(sentiment, 4) if sentiment is not None else None,
        **{label: values.get(label, 0) for label in SENTIMENT_LABELS},
    }


def _trunc(filters: ReportFilters):
    cls = TruncDay if filters.granularity == "day" else TruncHour
    return cls("occurred_at", tzinfo=dt.UTC)


def timeseries(filters: ReportFilters) -> list[dict[str, Any]]:
    """Volume, mean polarity and label counts per bucket; empty buckets included."""
    rows = (
        scoped(filters)
        .annotate(bucket=_trunc(filters))
        .values("bucket")
        .annotate(**_sentiment_aggregates())
    )
    by_bucket = {row["bucket"]: row for row in rows}
    return [{"bucket": at, **_row(by_bucket.get(at, {}))} for at in filters.buckets()]


def emotions(filters: ReportFilters) -> list[dict[str, Any]]:
    """Results per dominant emotion per bucket, in the common emotion set
    (``reporting.emotions``): faces' expressions and texts' emotions on one scale."""
    rows = (
        scoped(filters)
        .exclude(emotion="")
        .annotate(bucket=_trunc(filters))
        .values("bucket", "emotion")
        .annotate(count=Count("pk"))
    )
    merged: dict[tuple, int] = {}
    for r in rows:
        key = (r["bucket"], common_emotion(r["emotion"]))
        merged[key] = merged.get(key, 0) + r["count"]
    return [
        {"bucket": bucket, "emotion": emotion, "count": count}
        for (bucket, emotion), count in sorted(merged.items())
    ]


def emotion_breakdown(filters: ReportFilters) -> list[dict[str, Any]]:
    """Totals per analyzer, media kind and the analyzer's own label, with the common label
    each one is charted as: the per-modality view under the Emotions chart."""
    rows = (
        scoped(filters)
        .exclude(emotion="")
        .values("analyzer", "media_kind", "emotion")
        .annotate(count=Count("pk"))
        .order_by("analyzer", "media_kind", "-count", "emotion")
    )
    return [
        {
            "analyzer": r["analyzer"],
            "kind": r["media_kind"],
            "label": r["emotion"],
            "emotion": common_emotion(r["emotion"]),
            "count": r["count"],
        }
        for r in rows
    ]


def chart_analyzers(filters: ReportFilters) -> dict[str, list[str]]:
    """Which analyzers' results feed the sentiment charts and the emotions chart."""
    queryset = scoped(filters)
    sentiment = queryset.filter(polarity__isnull=False).values_list("analyzer", flat=True)
    emotion = queryset.exclude(emotion="").values_list("analyzer", flat=True)
    return {
        "sentiment": sorted(set(sentiment.distinct())),
        "emotions": sorted(set(emotion.distinct())),
    }


def first_data_date(brand: Brand, since: dt.date, until: dt.date) -> dt.date | None:
    """The day of the brand's oldest result between ``since`` and ``until`` (inclusive):
    where a default date range starts, so a fresh install's data is not squeezed into the
    last bars of an empty month."""
    start_at = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    end_at = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    earliest = (
        ResultFact.objects.filter(
            brand_q(brand, start_at, end_at),
            tenant_id=brand.tenant_id,
            current=True,
            occurred_at__gte=start_at,
            occurred_at__lt=end_at,
        )
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return earliest.astimezone(dt.UTC).date() if earliest else None


def by_source(filters: ReportFilters) -> list[dict[str, Any]]:
    rows = (
        scoped(filters)
        .values("source_id", "source__name")
        .annotate(**_sentiment_aggregates())
        .order_by("source__name")
    )
    return [
        {
            "source": str(r["source_id"]) if r["source_id"] else None,
            "source_name": r["source__name"] or "(direct submissions)",
            **_row(r),
        }
        for r in rows
    ]


def by_kind(filters: ReportFilters) -> list[dict[str, Any]]:
    rows = (
        scoped(filters)
        .values("media_kind")
        .annotate(**_sentiment_aggregates())
        .order_by("media_kind")
    )
    return [{"kind": r["media_kind"], **_row(r)} for r in rows]


def top_posts(filters: ReportFilters, sign: int, limit: int = TOP_POSTS) -> list[dict[str, Any]]:
    """The most positive (sign=1) or negative (sign=-1) items with a sentiment vote."""
    order = "-polarity" if sign > 0 else "polarity"
    queryset = scoped(filters)
    queryset = queryset.filter(polarity__gt=0) if sign > 0 else queryset.filter(polarity__lt=0)
    facts = queryset.select_related("media", "post", "result").order_by(
        order, "-occurred_at", "pk"
    )[:limit]
    out = []
    for fact in facts:
        assert fact.polarity is not None  # filtered on polarity above
        post, media = fact.post, fact.media
        text = (post.text if post else "") or media.text or image_text(fact.result.payload)
        out.append(
            {
                "result": str(fact.result_id),
                "media": str(media.pk),
                "kind": fact.media_kind,
                "analyzer": fact.analyzer,
                "polarity": round(fact.polarity, 4),
                "label": fact.label,
                "occurred_at": fact.occurred_at,
                "text": text[:280],
                "url": post.url if post else "",
                "source": str(fact.source_id) if fact.source_id else None,
                "thumbnail": media.kind == "image",
            }
        )
    return out


def image_text(payload: Any) -> str:
    """Text an image result read or was given: OCR text, else the caption (image_sentiment's
    components), so an image without a post still shows what it says."""
    if not isinstance(payload, dict):
        return ""
    found = {}
    for component in payload.get("components") or []:
        details = component.get("details") if isinstance(component, dict) else None
        if isinstance(details, dict) and isinstance(details.get("text"), str):
            found[component.get("name")] = details["text"].strip()
    return found.get("ocr_text") or found.get("caption") or ""


def report(filters: ReportFilters) -> dict[str, Any]:
    """Every chart of the dashboard for one set of filters."""
    return {
        "timeseries": timeseries(filters),
        "emotions": emotions(filters),
        "by_source": by_source(filters),
        "by_kind": by_kind(filters),
        "top_positive": top_posts(filters, 1),
        "top_negative": top_posts(filters, -1),
    }
