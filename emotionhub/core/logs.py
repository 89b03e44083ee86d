"""Log lines that say which job, submission and tenant they are about, as text or JSON.

The worker sets the context around the jobs it runs (:func:`job_context`); a logging filter
copies it onto every record, and ``EMOTIONHUB_LOG_FORMAT=json`` writes one JSON object per
line for log shippers (time, level, logger, message, job_id, submission_id, tenant_id,
process, exception).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

LOG_FORMATS = ("plain", "json")
CONTEXT_FIELDS = ("job_id", "submission_id", "tenant_id")
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "emotionhub_log_context", default=None
)
# LogRecord attributes that are not extras passed with ``log.info(..., extra={...})``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _joined(values: Iterable[Any]) -> str:
    unique = sorted({str(v) for v in values if v is not None})
    return ",".join(unique)


@contextlib.contextmanager
def job_context(jobs: Iterable[Any]) -> Iterator[None]:
    """Log lines inside are about these jobs (objects with ``pk``, ``submission_id`` and
    ``tenant_id``); several jobs (a micro-batch) are listed comma-separated."""
    jobs = list(jobs)
    token = _context.set(
        {
            "job_id": _joined(job.pk for job in jobs),
            "submission_id": _joined(job.submission_id for job in jobs),
            "tenant_id": _joined(job.tenant_id for job in jobs),
        }
    )
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Adds job_id, submission_id and tenant_id ("" outside a job) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or {}
        for name in CONTEXT_FIELDS:
            if not getattr(record, name, ""):
                setattr(record, name, context.get(name, ""))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for name in CONTEXT_FIELDS:
            entry[name] = getattr(record, name, "") or None
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING for ``EMOTIONHUB_LOG_FORMAT`` (plain text carries the job ids too)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(
            f"EMOTIONHUB_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}"
        )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "emotionhub.core.logs.ContextFilter"}},
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s"
                " [job=%(job_id)s submission=%(submission_id)s tenant=%(tenant_id)s]"
            },
            "json": {"()": "emotionhub.core.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }
