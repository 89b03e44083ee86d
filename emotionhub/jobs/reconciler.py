"""Repairs what a lost message or a dead worker left behind. Run periodically by beat.

Jobs running past their lease, on a worker whose heartbeat stopped, or in a pool process
its still-beating worker no longer has, go back to the queue (their next claim fails them
if the attempts are used up); queued jobs whose message never arrived are sent again;
finished submissions whose webhook was never sent get it sent.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from emotionhub.jobs import dispatch
from emotionhub.jobs.dispatch import batches_by_analyzer, send_batches
from emotionhub.jobs.models import (
    AnalysisJob,
    JobStatus,
    Submission,
    WebhookStatus,
    WorkerHeartbeat,
)

log = logging.getLogger(__name__)
SWEEP_LIMIT = 1000


def reconcile() -> dict[str, int]:
    now = timezone.now()
    expired_ids = list(
        AnalysisJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now).values_list(
            "pk", flat=True
        )[:SWEEP_LIMIT]
    )
    requeued = AnalysisJob.objects.filter(
        pk__in=expired_ids, status=JobStatus.RUNNING, lease_expires_at__lt=now
    ).update(
        status=JobStatus.QUEUED,
        enqueued_at=now,
        error_code="lease_expired",
        error_message="The worker stopped reporting; the job was handed to another worker.",
    )
    orphaned_ids, orphaned = _requeue_jobs_of_dead_workers(now)
    lost_ids, lost = _requeue_jobs_of_dead_task_processes(now)
    expired_ids += orphaned_ids + lost_ids
    stale_before = now - timedelta(seconds=settings.EMOTIONHUB_QUEUED_REENQUEUE_SECONDS)
    stale_ids = list(
        AnalysisJob.objects.filter(status=JobStatus.QUEUED, enqueued_at__lt=stale_before)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now))
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    resent = AnalysisJob.objects.filter(pk__in=stale_ids, status=JobStatus.QUEUED).update(
        enqueued_at=now
    )
    to_send = AnalysisJob.objects.filter(
        pk__in=expired_ids + stale_ids, status=JobStatus.QUEUED
    ).only("pk", "analyzer")
    send_batches(batches_by_analyzer(to_send))

    webhooks = _resend_pending_webhooks(now)
    counts = {
        "requeued_expired": requeued,
        "requeued_dead_worker": orphaned,
        "requeued_dead_process": lost,
        "resent_queued": resent,
        "webhooks": webhooks,
    }
    if any(counts.values()):
        log.info("reconciler: %s", counts)
    return counts


def _requeue_jobs_of_dead_workers(now) -> tuple[list, int]:
    """Re-queue running jobs whose worker's heartbeat stopped, before their lease ends.

    A job claimed before the cutoff whose worker has no heartbeat since then is orphaned
    (its worker was killed, or its host went away), and so is one claimed before its
    worker last (re)started: waiting for the lease (600 s by default) would leave it idle
    for minutes. The claim's ``attempts`` fence keeps a worker that was only slow to beat
    from recording over the new run.
    """
    cutoff = now - timedelta(seconds=settings.EMOTIONHUB_WORKER_DEAD_SECONDS)
    alive = WorkerHeartbeat.objects.filter(last_seen_at__gte=cutoff).values("hostname")
    # A worker restarted under the same name (the embedded shape's supervisor) beats
    # again, but the jobs its earlier process claimed died with that process.
    restarted = WorkerHeartbeat.objects.filter(
        hostname=OuterRef("worker"), started_at__gt=OuterRef("started_at")
    )
    running = AnalysisJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__gte=now)
    orphans = running.filter(
        (Q(started_at__lt=cutoff) & ~Q(worker__in=alive)) | Q(Exists(restarted))
    )
    ids = list(orphans.values_list("pk", flat=True)[:SWEEP_LIMIT])
    count = orphans.filter(pk__in=ids).update(
        status=JobStatus.QUEUED,
        enqueued_at=now,
        error_code="worker_gone",
        error_message="The worker running this job stopped sending heartbeats; the job was "
        "handed to another worker.",
    )
    return ids, count


def _requeue_jobs_of_dead_task_processes(now) -> tuple[list, int]:
    """Re-queue running jobs whose pool process died while its worker lives on.

    A prefork worker's parent keeps beating when the OOM killer takes the pool process
    running a job; the job's broker message comes back (``task_reject_on_worker_lost``)
    but finds the job claimed. A job claimed before the worker last listed its live task
    processes by a process missing from that list died with it. A reused pid only delays
    this to the lease.
    """
    cutoff = now - timedelta(seconds=settings.EMOTIONHUB_WORKER_DEAD_SECONDS)
    ids: list = []
    count = 0
    for beat in WorkerHeartbeat.objects.filter(last_seen_at__gte=cutoff).only(
        "hostname", "task_pids", "last_seen_at"
    ):
        if not beat.task_pids:
            continue  # a worker that cannot list its processes: the other rules apply
        lost = AnalysisJob.objects.filter(
            status=JobStatus.RUNNING,
            worker=beat.hostname,
            worker_pid__isnull=False,
            started_at__lt=beat.last_seen_at,
            lease_expires_at__gte=now,
        ).exclude(worker_pid__in=beat.task_pids)
        found = list(lost.values_list("pk", flat=True)[:SWEEP_LIMIT])
        if not found:
            continue
        ids += found
        count += lost.filter(pk__in=found).update(
            status=JobStatus.QUEUED,
            enqueued_at=now,
            error_code="worker_gone",
            error_message="The worker process running this job ended before it finished; "
            "the job was handed to another process.",
        )
    return ids, count


def _resend_pending_webhooks(now) -> int:
    grace = timedelta(seconds=settings.EMOTIONHUB_QUEUED_REENQUEUE_SECONDS)
    pending = Submission.objects.filter(
        webhook_status=WebhookStatus.PENDING, finished_at__lt=now - grace
    ).values_list("pk", flat=True)[:SWEEP_LIMIT]
    for submission_id in pending:
        dispatch.send_task(dispatch.DELIVER_WEBHOOK, [str(submission_id)])
    return len(pending)
