"""The job state machine on its own: no broker, no worker process (SQLite or PostgreSQL,
whichever the run has). The real-worker tests in tests/worker cover the same rules end to
end; these pin each transition and its fencing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from emotionhub.analyzers.contract import AnalyzerError, Result
from emotionhub.jobs import dispatch, lifecycle
from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus, Submission
from tests.conftest import png_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice) -> AnalysisJob:
    """One queued ``example`` job (its dispatch waits for a commit that never comes)."""
    alice.submit(files=[upload("a.png", png_bytes())], analyzers="example")
    return AnalysisJob.objects.get()


def succeed(job: AnalysisJob) -> None:
    lifecycle.record_success(
        job,
        Result({"width": 1}),
        model_version="m",
        weights_sha256="",
        device="cpu",
        duration_ms=1.0,
    )


def expire_lease(job: AnalysisJob) -> None:
    AnalysisJob.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_claim_takes_a_queued_job_once(job):
    first = lifecycle.claim(job.pk, "w1")
    assert first is not None and (first.status, first.attempts, first.worker) == (
        JobStatus.RUNNING,
        1,
        "w1",
    )
    assert first.lease_expires_at > timezone.now()
    assert lifecycle.claim(job.pk, "w2") is None  # a duplicated message finds it taken


def test_an_expired_lease_is_claimed_again_and_fences_the_first_worker(job):
    stale = lifecycle.claim(job.pk, "w1")
    expire_lease(job)
    fresh = lifecycle.claim(job.pk, "w2")
    assert fresh is not None and fresh.attempts == 2 and fresh.worker == "w2"
    succeed(stale)  # the first worker comes back late: its write is fenced off
    assert AnalysisJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
    lifecycle.report_progress(stale, 0.9)  # nor may it extend the new lease
    assert AnalysisJob.objects.get(pk=job.pk).progress == 0.0
    succeed(fresh)
    done = AnalysisJob.objects.get(pk=job.pk)
    assert (done.status, done.progress, done.lease_expires_at) == (JobStatus.SUCCEEDED, 1.0, None)
    assert AnalysisResult.objects.filter(job=job).count() == 1
    assert Submission.objects.get(pk=job.submission_id).finished_at is not None


def test_a_live_lease_is_not_taken_over(job):
    lifecycle.claim(job.pk, "w1")
    assert lifecycle.claim(job.pk, "w2") is None
    assert AnalysisJob.objects.get(pk=job.pk).worker == "w1"


def test_a_worker_lost_on_every_attempt_quarantines_the_job(job, settings):
    for attempt in range(job.max_attempts):
        assert lifecycle.claim(job.pk, f"w{attempt}") is not None
        expire_lease(job)  # the worker died
    assert lifecycle.claim(job.pk, "last") is None
    lost = AnalysisJob.objects.get(pk=job.pk)
    assert (lost.status, lost.error_code, lost.quarantined) == (
        JobStatus.FAILED,
        "worker_lost",
        True,
    )
    assert Submission.objects.get(pk=job.submission_id).finished_at is not None


def test_a_transient_failure_is_retried_then_quarantined(job):
    for attempt in range(1, job.max_attempts + 1):
        AnalysisJob.objects.filter(pk=job.pk).update(next_attempt_at=None)
        running = lifecycle.claim(job.pk, "w")
        assert running.attempts == attempt
        lifecycle.record_failure(running, AnalyzerError("flaky", "try again"))
        state = AnalysisJob.objects.get(pk=job.pk)
        if attempt < job.max_attempts:
            assert state.status == JobStatus.QUEUED and state.next_attempt_at > timezone.now()
    assert (state.status, state.quarantined) == (JobStatus.FAILED, True)
    assert "gave up after" in state.error_message


def test_a_permanent_failure_fails_at_once(job):
    running = lifecycle.claim(job.pk, "w")
    lifecycle.record_failure(running, AnalyzerError("corrupt", "never", permanent=True))
    failed = AnalysisJob.objects.get(pk=job.pk)
    assert (failed.status, failed.error_code, failed.attempts) == (JobStatus.FAILED, "corrupt", 1)


def test_cancel_takes_queued_jobs_only_and_finishes_the_submission(alice):
    alice.submit(
        files=[upload("a.png", png_bytes()), upload("b.png", png_bytes(color=(9, 9, 9)))],
        analyzers="example",
    )
    first, second = AnalysisJob.objects.order_by("created_at", "id")
    running = lifecycle.claim(first.pk, "w")
    assert lifecycle.cancel_jobs(AnalysisJob.objects.all()) == 1
    assert AnalysisJob.objects.get(pk=second.pk).status == JobStatus.CANCELLED
    assert Submission.objects.get().finished_at is None  # one job still runs
    succeed(running)
    assert Submission.objects.get().finished_at is not None
    assert lifecycle.claim(second.pk, "w") is None  # a cancelled job is never claimed


def test_the_finishing_job_queues_the_webhook_after_commit(
    alice, django_capture_on_commit_callbacks, monkeypatch
):
    alice.submit(
        files=[upload("a.png", png_bytes())],
        analyzers="example",
        webhook_url="https://hooks.example.org/x",
    )
    job = AnalysisJob.objects.get()
    sent = []
    monkeypatch.setattr(dispatch, "send_task", lambda name, args, **kw: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        succeed(lifecycle.claim(job.pk, "w"))
    assert sent == [(dispatch.DELIVER_WEBHOOK, [str(job.submission_id)])]
    assert Submission.objects.get().webhook_status == "pending"
