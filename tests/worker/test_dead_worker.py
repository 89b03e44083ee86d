"""A worker that dies mid-job hands its job on once its heartbeat stops, not only when the
job's lease runs out (600 s in production): real workers, the whole one SIGKILLed."""

from __future__ import annotations

import time

import pytest

from emotionhub.jobs.models import AnalysisResult, JobStatus
from tests.conftest import TenantClient
from tests.worker.test_faults import job_of, wait_job

pytestmark = [pytest.mark.services, pytest.mark.workers]
# Production's lease: only the heartbeat can bring the job back within the test's wait.
LONG_LEASE = {"EMOTIONHUB_JOB_LEASE_SECONDS": "600"}


def test_job_of_a_killed_worker_is_requeued_when_its_heartbeat_stops(start_worker):
    doomed = start_worker("doomed", **LONG_LEASE)
    alice = TenantClient("alice")
    submission = alice.submit(
        texts=["slow one"], analyzers="slow", analyzer_settings='{"slow": {"seconds": 3}}'
    ).json()
    job = wait_job(job_of(submission, "slow"), {JobStatus.RUNNING}, timeout=30)
    doomed.kill()
    killed_at = time.monotonic()
    start_worker("rescuer", **LONG_LEASE)
    job = wait_job(job, {JobStatus.SUCCEEDED, JobStatus.FAILED}, timeout=40)
    recovered_in = time.monotonic() - killed_at
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2 and job.worker.startswith("rescuer@")
    assert AnalysisResult.objects.filter(media_id=job.media_id).count() == 1
    # Dead after EMOTIONHUB_WORKER_DEAD_SECONDS (4 s here), the 3 s job, start-up: far
    # below the 600 s lease.
    assert recovered_in < 40, recovered_in


def test_a_live_worker_keeps_its_long_job(start_worker):
    """The heartbeat rule must not take a job from a worker that is alive: a job running
    longer than the dead-worker window still finishes on its first attempt."""
    start_worker("steady", **LONG_LEASE)
    alice = TenantClient("alice")
    submission = alice.submit(
        texts=["long one"], analyzers="slow", analyzer_settings='{"slow": {"seconds": 8}}'
    ).json()
    job = wait_job(job_of(submission, "slow"), {JobStatus.SUCCEEDED, JobStatus.FAILED}, 60)
    assert (job.status, job.attempts, job.error_code) == (JobStatus.SUCCEEDED, 1, "")
