"""The job state machine. Every transition is a conditional UPDATE, so two deliveries of
the same message, a reconciler and a late worker can never both win.

``attempts`` doubles as a fencing token: a worker only writes the outcome of the attempt
it claimed, so a worker whose lease expired cannot overwrite the run that replaced it.
"""

from __future__ import annotations

import logging
import os
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from emotionhub.analyzers.contract import AnalyzerError, Result
from emotionhub.jobs import dispatch
from emotionhub.jobs.dbretry import retry_on_disconnect
from emotionhub.jobs.models import (
    ACTIVE_STATUSES,
    AnalysisJob,
    AnalysisResult,
    JobStatus,
    Submission,
    WebhookStatus,
)

log = logging.getLogger(__name__)


def _lease_deadline():
    return timezone.now() + timedelta(seconds=settings.EMOTIONHUB_JOB_LEASE_SECONDS)


def _claimable(now) -> Q:
    return Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)


@retry_on_disconnect
def claim_waiting(analyzer: str, limit: int, worker: str, exclude: set[str]) -> list[AnalysisJob]:
    """Claim up to ``limit`` more queued jobs of ``analyzer`` to fill a micro-batch.

    Their own broker messages still arrive later and find the jobs taken (``claim``
    returns None), so stealing is safe and every job still runs exactly once.
    """
    if limit <= 0:
        return []
    now = timezone.now()
    candidates = (
        AnalysisJob.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            status=JobStatus.QUEUED,
            analyzer=analyzer,
            attempts__lt=F("max_attempts"),
        )
        .exclude(pk__in=exclude)
        .order_by("created_at")
        .values_list("pk", flat=True)[: limit * 2]
    )
    claimed: list[AnalysisJob] = []
    for job_id in candidates:
        if len(claimed) >= limit:
            break
        if job := claim(job_id, worker):
            claimed.append(job)
    return claimed


@retry_on_disconnect
def claim(job_id, worker: str) -> AnalysisJob | None:
    """Take a job for this worker, or return None when it is not ours to run."""
    now = timezone.now()
    claimed = AnalysisJob.objects.filter(
        _claimable(now), pk=job_id, attempts__lt=F("max_attempts")
    ).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        lease_expires_at=_lease_deadline(),
        worker=worker[:255],
        worker_pid=os.getpid(),
        progress=0.0,
        partial_result=None,
        next_attempt_at=None,
    )
    if claimed:
        return AnalysisJob.objects.select_related("media").get(pk=job_id)
    # Every attempt so far ended with the worker gone (killed, out of memory): poison.
    with transaction.atomic():
        job = AnalysisJob.objects.filter(pk=job_id).only("submission_id").first()
        if job is None:
            return None
        _lock_submission(job.submission_id)
        gave_up = AnalysisJob.objects.filter(
            _claimable(now), pk=job_id, attempts__gte=F("max_attempts")
        ).update(
            status=JobStatus.FAILED,
            error_code="worker_lost",
            error_message="The worker running this job stopped before it finished, on every "
            "attempt; the job is quarantined.",
            quarantined=True,
            finished_at=now,
            lease_expires_at=None,
        )
        if gave_up:
            _finish_submission_if_done(job.submission_id)
    return None


@retry_on_disconnect
def report_progress(job: AnalysisJob, fraction: float) -> None:
    """Record progress and extend the lease, so long analyses are not taken over."""
    AnalysisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        progress=max(0.0, min(1.0, fraction)), lease_expires_at=_lease_deadline()
    )


def report_partial(job: AnalysisJob, partial: dict) -> None:
    """Store the running attempt's partial result (and extend the lease, as progress does)."""
    AnalysisJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        partial_result=partial, lease_expires_at=_lease_deadline()
    )


@retry_on_disconnect
def record_success(
    job: AnalysisJob,
    result: Result,
    *,
    model_version: str,
    weights_sha256: str,
    device: str,
    duration_ms: float,
    batch_size: int = 1,
) -> None:
    with transaction.atomic():
        _lock_submission(job.submission_id)
        if not AnalysisJob.objects.filter(pk=job.pk).exists():
            # The media was deleted while it ran (deletion takes the same lock first).
            log.info("job %s was deleted while running; result dropped", job.pk)
            return
        # ON CONFLICT DO NOTHING: a duplicated run never doubles a result.
        AnalysisResult.objects.bulk_create(
            [
                AnalysisResult(
                    tenant_id=job.tenant_id,
                    media_id=job.media_id,
                    job=job,
                    analyzer=job.analyzer,
                    analyzer_version=job.analyzer_version,
                    model_version=result.model_version or model_version,
                    weights_sha256=result.weights_sha256 or weights_sha256,
                    payload=dict(result.payload),
                    device=device,
                    duration_ms=duration_ms,
                    batch_size=batch_size,
                )
            ],
            ignore_conflicts=True,
        )
        _finish(
            job,
            JobStatus.SUCCEEDED,
            progress=1.0,
            error_code="",
            error_message="",
            partial_result=None,  # the result holds it all now
        )


@retry_on_disconnect
def record_failure(job: AnalysisJob, error: AnalyzerError) -> None:
    """Fail at once when the error is permanent; else retry with back-off until the
    attempts are used up, then quarantine."""
    with transaction.atomic():
        _lock_submission(job.submission_id)
        if error.permanent:
            _finish(job, JobStatus.FAILED, error_code=error.code, error_message=error.message)
        elif job.attempts >= job.max_attempts:
            _finish(
                job,
                JobStatus.FAILED,
                error_code=error.code,
                error_message=f"{error.message} (gave up after {job.attempts} attempts)",
                quarantined=True,
            )
        else:
            delay = retry_delay(job.attempts)
            moved = AnalysisJob.objects.filter(
                pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts
            ).update(
                status=JobStatus.QUEUED,
                error_code=error.code,
                error_message=error.message,
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
                enqueued_at=timezone.now(),
                lease_expires_at=None,
            )
            if moved:
                dispatch.enqueue_after_commit([job], countdown=delay)


def retry_delay(attempts: int) -> float:
    """Exponential back-off with ±20% jitter so retries of a batch do not stampede."""
    base = settings.EMOTIONHUB_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return min(settings.EMOTIONHUB_RETRY_MAX_SECONDS, base) * random.uniform(0.8, 1.2)


def cancel_jobs(jobs_queryset) -> int:
    """Cancel the queued jobs of a queryset; running ones finish their attempt."""
    now = timezone.now()
    submission_ids = set(jobs_queryset.values_list("submission_id", flat=True))
    with transaction.atomic():
        for submission_id in submission_ids:
            _lock_submission(submission_id)
        count = jobs_queryset.filter(status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED,
            finished_at=now,
            error_code="cancelled",
            error_message="Cancelled by the client.",
        )
        for submission_id in submission_ids:
            _finish_submission_if_done(submission_id)
    return count


def _finish(job: AnalysisJob, status: str, quarantined: bool = False, **fields) -> bool:
    finished = AnalysisJob.objects.filter(
        pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts
    ).update(
        status=status,
        finished_at=timezone.now(),
        lease_expires_at=None,
        quarantined=quarantined,
        **fields,
    )
    if not finished:
        log.warning("job %s attempt %s lost its lease; outcome not recorded", job.pk, job.attempts)
        return False
    _finish_submission_if_done(job.submission_id)
    return True


def _lock_submission(submission_id) -> None:
    """Serialises the jobs of one submission as they finish, so exactly one of them sees
    that all are done (a plain check races under READ COMMITTED)."""
    if submission_id is not None:
        list(Submission.objects.select_for_update().filter(pk=submission_id).values("pk"))


def _finish_submission_if_done(submission_id) -> None:
    if submission_id is None:
        return
    if AnalysisJob.objects.filter(submission_id=submission_id, status__in=ACTIVE_STATUSES).exists():
        return
    finished = Submission.objects.filter(pk=submission_id, finished_at__isnull=True).update(
        finished_at=timezone.now()
    )
    if not finished:
        return
    has_webhook = Submission.objects.filter(pk=submission_id).exclude(webhook_url="")
    # A submission finishing again (its jobs were re-run) gets a fresh delivery budget.
    if has_webhook.update(
        webhook_status=WebhookStatus.PENDING, webhook_attempts=0, webhook_last_error=""
    ):
        dispatch.deliver_webhook_after_commit(submission_id)
