"""A finished submission as a plain JSON document, for workers (webhook bodies).

Workers must not import the REST layer, yet a webhook carries exactly what
``GET /api/v1/submissions/{id}`` answers. These functions build that document from the
models alone; ``tests/test_documents.py`` pins it equal to the API serializer's output.
Needs the submission's media with their jobs and results loaded (or loads them).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from emotionhub.jobs.models import (
    ACTIVE_STATUSES,
    AnalysisJob,
    AnalysisResult,
    JobStatus,
    Submission,
)
from emotionhub.media.models import Media

JOB_STATES = ("queued", "running", "succeeded", "partial", "failed", "cancelled")


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, as DRF writes datetimes."""
    if value is None:
        return None
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def submission_status(statuses: list[str]) -> str:
    """queued → running → succeeded | partial | failed | cancelled."""
    counts = Counter(statuses)
    if not statuses:
        return "succeeded"
    if any(counts[s] for s in ACTIVE_STATUSES):
        return "queued" if counts["queued"] == len(statuses) else "running"
    if counts["succeeded"] == len(statuses):
        return "succeeded"
    if counts["succeeded"]:
        return "partial"
    return "cancelled" if counts["cancelled"] == len(statuses) else "failed"


def job_document(job: AnalysisJob) -> dict[str, Any]:
    error = {"code": job.error_code, "message": job.error_message} if job.error_code else None
    return {
        "id": str(job.pk),
        "media": _id(job.media_id),
        "submission": _id(job.submission_id),
        "analyzer": job.analyzer,
        "analyzer_version": job.analyzer_version,
        "settings": job.settings,
        "status": job.status,
        "progress": float(job.progress),
        "partial": job.partial_result if job.status == JobStatus.RUNNING else None,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": error,
        "quarantined": job.quarantined,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "next_attempt_at": iso(job.next_attempt_at),
        "finished_at": iso(job.finished_at),
    }


def result_document(result: AnalysisResult) -> dict[str, Any]:
    submission = result.media.submission
    return {
        "id": str(result.pk),
        "media": _id(result.media_id),
        "consent": submission.consent if submission else None,
        "job": _id(result.job_id),
        "analyzer": result.analyzer,
        "analyzer_version": result.analyzer_version,
        "model_version": result.model_version,
        "weights_sha256": result.weights_sha256,
        "payload": result.payload,
        "device": result.device,
        "duration_ms": float(result.duration_ms),
        "batch_size": result.batch_size,
        "created_at": iso(result.created_at),
    }


def media_detail_document(media: Media) -> dict[str, Any]:
    return {
        "id": str(media.pk),
        "kind": media.kind,
        "mime": media.mime,
        "size": media.size,
        "sha256": media.sha256,
        "width": media.width,
        "height": media.height,
        "duration_seconds": media.duration_seconds,
        "original_name": media.original_name,
        "text": media.text,
        "submission": _id(media.submission_id),
        "source_post": _id(media.source_post_id),
        "created_at": iso(media.created_at),
        "jobs": [job_document(job) for job in media.jobs.all()],
        "results": [result_document(result) for result in media.results.all()],
    }


def submission_document(submission: Submission) -> dict[str, Any]:
    """What ``GET /api/v1/submissions/{id}`` answers for ``submission``."""
    media = list(submission.media.all())
    jobs = [job for item in media for job in item.jobs.all()]
    done = sum(1.0 if job.finished_at else job.progress for job in jobs)
    webhook = None
    if submission.webhook_url:
        webhook = {
            "url": submission.webhook_url,
            "status": submission.webhook_status,
            "attempts": submission.webhook_attempts,
            "last_error": submission.webhook_last_error,
        }
    return {
        "id": str(submission.pk),
        "status": submission_status([job.status for job in jobs]),
        "progress": round(done / len(jobs), 4) if jobs else 1.0,
        "job_counts": dict(Counter(job.status for job in jobs)),
        "idempotency_key": submission.idempotency_key,
        "consent": submission.consent,
        "created_at": iso(submission.created_at),
        "finished_at": iso(submission.finished_at),
        "webhook": webhook,
        "items": [media_detail_document(item) for item in media],
    }
