"""The one way producers reach Celery: tasks are sent by name, after the transaction that
wrote their rows commits, so nothing here imports the consumers (``jobs.tasks``, the
executor); the job rows stay the truth and the reconciler re-sends what was lost.

Analysis jobs go to the analyzer's queue in batches of its ``max_batch_size``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from celery import current_app
from django.db import transaction

from emotionhub.analyzers import registry
from emotionhub.jobs.models import AnalysisJob

log = logging.getLogger(__name__)

RUN_JOBS = "emotionhub.jobs.tasks.run_jobs"
DELIVER_WEBHOOK = "emotionhub.jobs.tasks.deliver_webhook"


def send_task(name: str, args: list, **options) -> None:
    """Send the task ``name``; raises when the broker is unreachable (callers decide)."""
    current_app.send_task(name, args=args, **options)


def batches_by_analyzer(jobs: Iterable[AnalysisJob]) -> list[tuple[str, list[str]]]:
    """``(queue, job ids)`` pairs, each a batch for one analyzer."""
    by_analyzer: dict[str, list[str]] = defaultdict(list)
    for job in jobs:
        by_analyzer[job.analyzer].append(str(job.pk))
    out: list[tuple[str, list[str]]] = []
    for name, ids in sorted(by_analyzer.items()):
        try:
            spec = registry.get_spec(name)
            size, queue = spec.max_batch_size, spec.queue
        except registry.UnknownAnalyzer:
            # Let a worker record the permanent failure rather than lose the job.
            size, queue = 1, "analysis_cpu"
        out.extend((queue, ids[i : i + size]) for i in range(0, len(ids), size))
    return out


def send_batches(batches: list[tuple[str, list[str]]], countdown: float | None = None) -> None:
    for queue, ids in batches:
        try:
            send_task(RUN_JOBS, [ids], queue=queue, countdown=countdown)
        except Exception:
            # The rows are committed as queued: the reconciler enqueues them again.
            log.exception("broker unavailable; %d jobs wait for the reconciler", len(ids))


def enqueue_after_commit(jobs: Iterable[AnalysisJob], countdown: float | None = None) -> None:
    batches = batches_by_analyzer(jobs)
    transaction.on_commit(lambda: send_batches(batches, countdown))


def deliver_webhook_after_commit(submission_id) -> None:
    """Queue the finished submission's webhook once the finishing transaction commits."""
    transaction.on_commit(lambda: send_webhook(submission_id))


def send_webhook(submission_id) -> None:
    try:
        send_task(DELIVER_WEBHOOK, [str(submission_id)])
    except Exception:
        log.exception("could not enqueue webhook for %s; the reconciler will", submission_id)
