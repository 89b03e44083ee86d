"""Sends job ids to the right Celery queue after the transaction that created them
commits, grouped into batches of the analyzer's ``max_batch_size``."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from emotionhub.analyzers import registry
from emotionhub.jobs.models import AnalysisJob

log = logging.getLogger(__name__)


def batches_by_analyzer(jobs: Iterable[AnalysisJob]) -> list[tuple[str, list[str]]]:
    """``(queue, job ids)`` pairs, each a batch for one analyzer."""
    by_analyzer: dict[str, list[str]] = defaultdict(list)
    for job in jobs:
        by_analyzer[job.analyzer].append(str(job.pk))
    out = []
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
    from emotionhub.jobs.tasks import run_jobs

    for queue, ids in batches:
        try:
            run_jobs.apply_async(args=[ids], queue=queue, countdown=countdown)
        except Exception:
            # The rows are committed as queued: the reconciler enqueues them again.
            log.exception("broker unavailable; %d jobs wait for the reconciler", len(ids))


def enqueue_after_commit(jobs: Iterable[AnalysisJob], countdown: float | None = None) -> None:
    batches = batches_by_analyzer(jobs)
    transaction.on_commit(lambda: send_batches(batches, countdown))
