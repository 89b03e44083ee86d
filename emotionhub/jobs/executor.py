"""What a worker does with a message: claim the jobs, run them through their analyzer as
one batch, and record each outcome.

Micro-batching: when an analyzer takes batches (``max_batch_size`` > 1) and the message
brought fewer jobs, the worker claims other queued jobs of the same analyzer (from any
submission) to fill the batch, so a GPU worker does not run one image at a time while
work waits in the queue."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from emotionhub.accounts.models import Tenant
from emotionhub.accounts.purpose import face_emotion_refusal
from emotionhub.analyzers import registry
from emotionhub.analyzers.contract import AnalyzerError, Item
from emotionhub.analyzers.runner import run_batch
from emotionhub.core.logs import job_context
from emotionhub.jobs import lifecycle, worker_metrics
from emotionhub.jobs.models import AnalysisJob

log = logging.getLogger(__name__)
PROGRESS_WRITE_INTERVAL_SECONDS = 1.0


def execute_jobs(job_ids: list[str], worker: str) -> None:
    claimed = [job for job_id in job_ids if (job := lifecycle.claim(job_id, worker))]
    by_analyzer: dict[str, list[AnalysisJob]] = defaultdict(list)
    for job in claimed:
        by_analyzer[job.analyzer].append(job)
    for name, jobs in by_analyzer.items():
        with job_context(jobs):
            _run_analyzer(name, jobs, worker)


def _run_analyzer(name: str, jobs: list[AnalysisJob], worker: str) -> None:
    try:
        analyzer, device = registry.loaded_analyzer(name)
    except registry.UnknownAnalyzer:
        error = AnalyzerError(
            "analyzer_unavailable",
            f"Analyzer {name!r} is not installed or not enabled on this worker.",
            permanent=True,
        )
        for job in jobs:
            lifecycle.record_failure(job, error)
        return
    except Exception as exc:
        log.exception("analyzer %s failed to load", name)
        error = AnalyzerError("analyzer_load_failed", f"{type(exc).__name__}: {exc}")
        for job in jobs:
            lifecycle.record_failure(job, error)
        return

    spec = analyzer.spec
    if settings.EMOTIONHUB_MICRO_BATCH and spec.max_batch_size > len(jobs):
        room = spec.max_batch_size - len(jobs)
        jobs = jobs + lifecycle.claim_waiting(name, room, worker, {str(j.pk) for j in jobs})
    if spec.infers_emotion_from_faces:
        jobs = _refuse_prohibited_purposes(name, jobs)
    runnable: list[tuple[AnalysisJob, Item]] = []
    for job in jobs:
        try:
            runnable.append((job, build_item(job)))
        except AnalyzerError as error:
            lifecycle.record_failure(job, error)
    if not runnable:
        return
    with job_context(job for job, _ in runnable):
        log.info("running %d job(s) of %s on %s", len(runnable), name, device)
        outcomes = run_batch(analyzer, [item for _, item in runnable])
    for (job, _), outcome in zip(runnable, outcomes, strict=True):
        with job_context([job]):
            _record(job, outcome, spec, device, len(runnable))


def _record(job: AnalysisJob, outcome, spec, device: str, batch_size: int) -> None:
    seconds = outcome.duration_ms / 1000 if outcome.duration_ms is not None else None
    worker_metrics.record(job.analyzer, device, outcome.result is not None, seconds)
    if outcome.result is not None:
        log.info("job succeeded in %.0f ms", outcome.duration_ms)
        lifecycle.record_success(
            job,
            outcome.result,
            model_version=spec.model_version,
            weights_sha256=spec.weights_sha256,
            device=device,
            duration_ms=outcome.duration_ms,
            batch_size=batch_size,
        )
    else:
        log.info("job failed: %s", outcome.error.code)
        lifecycle.record_failure(job, outcome.error)


def _refuse_prohibited_purposes(name: str, jobs: list[AnalysisJob]) -> list[AnalysisJob]:
    """Fail (permanently) the jobs of tenants whose purpose now forbids this analyzer.

    The API refuses such submissions; this catches a purpose changed after submitting.
    Undeclared purposes are not refused here: those jobs were accepted before the rule.
    """
    purposes = dict(
        Tenant.objects.filter(pk__in={job.tenant_id for job in jobs}).values_list("id", "purpose")
    )
    allowed = []
    for job in jobs:
        refusal = face_emotion_refusal(purposes[job.tenant_id], [name], require_declared=False)
        if refusal is None:
            allowed.append(job)
        else:
            lifecycle.record_failure(
                job, AnalyzerError(refusal.code, refusal.message, permanent=True)
            )
    return allowed


def build_item(job: AnalysisJob) -> Item:
    media = job.media
    path = None
    if media.file:
        try:
            path = Path(default_storage.path(media.file.name))
        except NotImplementedError:  # remote storage: analyzers need a local file
            raise AnalyzerError(
                "storage_unsupported",
                "Media storage must be a local filesystem.",
                permanent=True,
            ) from None
        if not path.exists():
            raise AnalyzerError(
                "media_missing", f"The stored file for media {media.pk} is gone.", permanent=True
            )
    defaults = settings.EMOTIONHUB_ANALYZER_SETTINGS.get(job.analyzer, {})
    merged_settings = {**defaults, **job.settings}
    return Item(
        id=str(job.pk),
        kind=media.kind,
        mime=media.mime,
        path=path,
        text=media.text or None,
        settings=merged_settings,
        metadata={
            "media_id": str(media.pk),
            "width": media.width,
            "height": media.height,
            "duration_seconds": media.duration_seconds,
            "original_name": media.original_name,
            "attempt": job.attempts,
        },
        report_progress=_progress_reporter(job),
        report_partial=_partial_reporter(job),
    )


def _partial_reporter(job: AnalysisJob):
    """At most one write per interval; the newest partial result wins (a later one holds
    everything an earlier one did)."""
    last_write = 0.0

    def report(partial) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write >= PROGRESS_WRITE_INTERVAL_SECONDS:
            last_write = now
            try:
                lifecycle.report_partial(job, dict(partial))
            except (TypeError, ValueError):  # not JSON-able: a plugin bug, not a failed job
                log.exception("partial result of job %s is not JSON", job.pk)

    return report


def _progress_reporter(job: AnalysisJob):
    last_write = 0.0

    def report(fraction: float) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write >= PROGRESS_WRITE_INTERVAL_SECONDS:
            last_write = now
            lifecycle.report_progress(job, fraction)

    return report
