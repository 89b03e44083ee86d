"""Query-string filters of a report, validated the same way for the page, CSV and API."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping

from django.utils import timezone

from emotionhub.media.models import MediaKind
from emotionhub.reporting.models import Brand
from emotionhub.reporting.queries import (
    GRANULARITIES,
    MAX_BUCKETS,
    ReportFilters,
    first_data_date,
)

PARAMETERS = ("start", "end", "granularity", "analyzer", "kind", "source")
DEFAULT_DAYS = 30
_ANALYZER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class FilterError(ValueError):
    """A bad filter value: ``code`` is machine-readable, ``field`` names the parameter."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _date(params: Mapping[str, str], name: str, default: dt.date) -> dt.date:
    value = (params.get(name) or "").strip()
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError("invalid_date", f"{name} must be a date like 2026-01-31.", name) from None


def parse(brand: Brand, params: Mapping[str, str], *, strict: bool = False) -> ReportFilters:
    """``strict`` (the API) also refuses parameters it does not know."""
    if strict:
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise FilterError(
                "unknown_parameter",
                f"Unknown parameters: {', '.join(unknown)}. Allowed: {', '.join(PARAMETERS)}.",
                unknown[0],
            )
    today = timezone.now().astimezone(dt.UTC).date()
    end = _date(params, "end", today)
    start = _date(params, "start", end - dt.timedelta(days=DEFAULT_DAYS - 1))
    if end < start:
        raise FilterError("invalid_range", "end must not be before start.", "end")
    granularity = params.get("granularity") or "day"
    if not params.get("start"):
        # The default range starts at the first data (within DEFAULT_DAYS), and two days
        # or less are charted by the hour: a fresh install's results get bars of their own.
        start = first_data_date(brand, start, end) or start
        if not params.get("granularity") and (end - start).days < 2:
            granularity = "hour"
    if granularity not in GRANULARITIES:
        raise FilterError(
            "invalid_granularity",
            f"granularity must be one of {', '.join(GRANULARITIES)}.",
            "granularity",
        )
    days = (end - start).days + 1
    buckets = days if granularity == "day" else days * 24
    if buckets > MAX_BUCKETS:
        raise FilterError(
            "range_too_long",
            f"{buckets} {granularity} buckets asked for; at most {MAX_BUCKETS}.",
            "end",
        )
    analyzer = params.get("analyzer") or ""
    if analyzer and not _ANALYZER_NAME.match(analyzer):
        raise FilterError("invalid_analyzer", "analyzer is not an analyzer name.", "analyzer")
    kind = params.get("kind") or ""
    if kind and kind not in MediaKind.values:
        raise FilterError(
            "invalid_kind", f"kind must be one of {', '.join(MediaKind.values)}.", "kind"
        )
    source = params.get("source") or ""
    if source:
        try:
            source = str(uuid.UUID(source))
        except ValueError:
            raise FilterError("invalid_source", "source must be a source id.", "source") from None
        if not brand.tenant.sources.filter(pk=source).exists():
            raise FilterError("unknown_source", "No such source in this tenant.", "source")
    return ReportFilters(brand, start, end, granularity, analyzer, kind, source)
