"""Each dashboard chart as CSV: the same rows the chart is drawn from."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from emotionhub.reporting import queries
from emotionhub.reporting.queries import SENTIMENT_LABELS, ReportFilters

_SENTIMENT_COLUMNS = ["volume", "votes", "sentiment", *SENTIMENT_LABELS]
TOP_COLUMNS = [
    "result",
    "media",
    "kind",
    "analyzer",
    "polarity",
    "label",
    "occurred_at",
    "text",
    "url",
    "source",
]

CHARTS: dict[str, tuple[Callable[[ReportFilters], list[dict[str, Any]]], list[str]]] = {
    "timeseries": (queries.timeseries, ["bucket", *_SENTIMENT_COLUMNS]),
    "emotions": (queries.emotions, ["bucket", "emotion", "count"]),
    "by_source": (queries.by_source, ["source", "source_name", *_SENTIMENT_COLUMNS]),
    "by_kind": (queries.by_kind, ["kind", *_SENTIMENT_COLUMNS]),
    "top_positive": (lambda f: queries.top_posts(f, 1), TOP_COLUMNS),
    "top_negative": (lambda f: queries.top_posts(f, -1), TOP_COLUMNS),
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def chart_csv(chart: str, filters: ReportFilters) -> str:
    """Raises KeyError for an unknown chart name."""
    compute, columns = CHARTS[chart]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in compute(filters):
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()
