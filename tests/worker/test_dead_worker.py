"""A worker that dies mid-job hands its job on once its heartbeat stops, not only when the
job's lease runs out (600 s in production): real workers, the whole one SIGKILLed, or
only the pool process running the job while its parent lives on and keeps beating."""

from __future__ import annotations

import os
import signal
import time

import pytest

from emotionhub.jobs.models import AnalysisResult, JobStatus, WorkerHeartbeat
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


def test_job_of_a_killed_pool_child_runs_again_while_its_worker_lives(start_worker):
    """The OOM killer's pick is the pool process holding the model, not its parent: the
    parent keeps beating, so only its list of live pool processes shows the job is gone."""
    worker = start_worker("parent", **LONG_LEASE)
    alice = TenantClient("alice")
    submission = alice.submit(
        texts=["slow one"], analyzers="slow", analyzer_settings='{"slow": {"seconds": 3}}'
    ).json()
    job = wait_job(job_of(submission, "slow"), {JobStatus.RUNNING}, timeout=30)
    child = WorkerHeartbeat.objects.get(hostname=job.worker).last_task_pid
    assert child in worker.pool_children() and child != worker.process.pid
    os.kill(child, signal.SIGKILL)
    killed_at = time.monotonic()
    job = wait_job(job, {JobStatus.SUCCEEDED, JobStatus.FAILED}, timeout=40)
    recovered_in = time.monotonic() - killed_at
    assert worker.process.poll() is None, "the parent worker must have lived on"
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert job.worker.startswith("parent@")
    assert AnalysisResult.objects.get(media_id=job.media_id).payload == {"attempt": 2}
    # A heartbeat (0.5 s here), a reconciler round (1 s), the 3 s job: far below the lease.
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
