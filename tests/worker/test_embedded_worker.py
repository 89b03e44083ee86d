"""The embedded shape's worker: it survives the process that runs its tasks being
SIGKILLed (as the OOM killer does), SIGTERM stops it, it ends when ``runlocal`` itself is
SIGKILLed, and ``/health`` tells a worker that
beats but takes no work from a working one. Real processes: ``manage.py runlocal`` on the
filesystem broker, a prefork worker whose pool child is stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from emotionhub.jobs.models import AnalysisJob, JobStatus, WorkerHeartbeat
from tests.conftest import TenantClient
from tests.worker.conftest import ROOT, wait_for

pytestmark = [pytest.mark.services, pytest.mark.workers]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def runlocal(transactional_db, tmp_path, request):
    """``manage.py runlocal`` with the embedded filesystem broker and the test database
    (``@pytest.mark.runlocal_env(NAME=value)`` adds environment variables)."""
    marker = request.node.get_closest_marker("runlocal_env")
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "emotionhub.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": "filesystem://",
        "EMOTIONHUB_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
        **(marker.kwargs if marker else {}),
    }
    log_path = tmp_path / "runlocal.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runlocal", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process, f"http://127.0.0.1:{port}", log_path
        finally:
            if process.poll() is None:
                # SIGTERM first: runlocal stops its worker's own process group; a SIGKILL
                # would leave that worker running on into the next test.
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=45)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            # A worker the supervisor restarted has a process group of its own.
            for pid in WorkerHeartbeat.objects.values_list("pid", flat=True):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        out = subprocess.run(
            ["pgrep", "-P", str(todo.pop())], capture_output=True, text=True, check=False
        ).stdout
        children = {int(child) for child in out.split()} - found
        found |= children
        todo += children
    return found


def submit_and_wait(base_url: str, raw_key: str, text: str, timeout: float) -> AnalysisJob:
    response = requests.post(
        f"{base_url}/api/v1/submissions",
        json={"text": [text], "analyzers": ["text_length"]},
        headers={"Authorization": f"Api-Key {raw_key}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    media_id = response.json()["items"][0]["id"]
    job = AnalysisJob.objects.get(media_id=media_id)

    def done():
        job.refresh_from_db()
        return job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    wait_for(done, timeout, message=f"job for {text!r}")
    return job


def wait_ready(process, base_url: str, log_path) -> None:
    def ready():
        assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
        try:
            requests.get(f"{base_url}/api/v1/health", timeout=5)
        except requests.RequestException:
            return False
        return WorkerHeartbeat.objects.exists()

    wait_for(ready, 90, message="runlocal's web server and worker")


def test_embedded_worker_survives_its_task_process_being_killed(runlocal):
    process, base_url, log_path = runlocal
    alice = TenantClient("alice")
    wait_ready(process, base_url, log_path)
    first = submit_and_wait(base_url, alice.raw_key, "before the kill", timeout=60)
    assert first.status == JobStatus.SUCCEEDED

    # The process that ran that task holds the models: the OOM killer's pick.
    beat = WorkerHeartbeat.objects.get()
    assert beat.last_task_pid is not None
    os.kill(beat.last_task_pid, signal.SIGKILL)

    second = submit_and_wait(base_url, alice.raw_key, "after the kill", timeout=90)
    assert second.status == JobStatus.SUCCEEDED and second.attempts == 1
    # The supervisor started a new worker (pids can be reused, start times are not).
    restarted = wait_for(
        lambda: WorkerHeartbeat.objects.filter(started_at__gt=beat.started_at).first(),
        30,
        message="the restarted worker's heartbeat",
    )
    worker_pid = restarted.pid

    # SIGTERM stops the whole tree (web server, worker, beat).
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    wait_for(lambda: not running(worker_pid), 30, message="the worker to exit")


@pytest.mark.parametrize("worker", ["first", "restarted"])
def test_a_sigkilled_runlocal_takes_its_worker_and_beat_with_it(runlocal, worker):
    """The worker runs in a process group of its own, so nothing else would stop it: it
    would hold the broker and the database with nobody left to stop it. A restarted
    worker was started by the supervisor's watcher thread, not the main thread."""
    process, base_url, log_path = runlocal
    wait_ready(process, base_url, log_path)
    if worker == "restarted":
        first = WorkerHeartbeat.objects.get()
        os.kill(first.pid, signal.SIGKILL)
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(started_at__gt=first.started_at).exists(),
            60,
            message="the restarted worker's heartbeat",
        )
    tree = descendants(process.pid)
    worker_pid = WorkerHeartbeat.objects.get().pid
    assert worker_pid in tree and len(tree) >= 2, tree  # the worker and its beat

    process.kill()
    process.wait(timeout=10)
    wait_for(lambda: not any(map(running, tree)), 30, message=f"{tree} to exit")
    # A warm shutdown: the worker removed its heartbeat on the way out.
    assert not WorkerHeartbeat.objects.exists()


# Lease and dead-worker window far longer than the wait: only the restart rule can help.
@pytest.mark.runlocal_env(EMOTIONHUB_JOB_LEASE_SECONDS="600", EMOTIONHUB_WORKER_DEAD_SECONDS="600")
def test_job_of_a_killed_embedded_worker_runs_again_after_its_restart(runlocal):
    """The restarted worker has the same name and beats, yet the job its earlier process
    was running died with it: the reconciler hands it on, not after the 600 s lease."""
    process, base_url, log_path = runlocal
    alice = TenantClient("alice")
    wait_ready(process, base_url, log_path)
    response = requests.post(
        f"{base_url}/api/v1/submissions",
        json={
            "text": ["slow"],
            "analyzers": ["slow"],
            "analyzer_settings": {"slow": {"seconds": 4}},
        },
        headers={"Authorization": f"Api-Key {alice.raw_key}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job = AnalysisJob.objects.get(media_id=response.json()["items"][0]["id"])
    wait_for(
        lambda: AnalysisJob.objects.get(pk=job.pk).status == JobStatus.RUNNING,
        60,
        message="the slow job to start",
    )
    os.kill(WorkerHeartbeat.objects.get().last_task_pid, signal.SIGKILL)

    def finished():
        job.refresh_from_db()
        return job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    wait_for(finished, 90, message="the job to run again on the restarted worker")
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert job.results.get().payload == {"attempt": 2}


def test_health_reports_a_worker_that_beats_but_takes_no_work(client, start_worker):
    worker = start_worker("frozen")
    children = worker.pool_children()
    assert children
    alice = TenantClient("alice")
    try:
        # The pool child stops (as a wedged one does); the main process keeps beating.
        for pid in children:
            os.kill(pid, signal.SIGSTOP)
        alice.submit(texts=["waits"], analyzers="text_length")

        def stalled():
            body = client.get("/api/v1/health").json()
            return body if body["workers"].get("stalled") else None

        body = wait_for(stalled, 40, message="/health to report the stalled worker")
        assert body["status"] == "degraded"
        (entry,) = body["workers"]["workers"]
        assert entry["hostname"].startswith("frozen@") and entry["stalled"] is True
        assert body["workers"]["oldest_waiting_job_since"] is not None
    finally:
        for pid in children:
            os.kill(pid, signal.SIGCONT)
    job = AnalysisJob.objects.get(tenant=alice.tenant)
    wait_for(
        lambda: AnalysisJob.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED,
        60,
        message="the job once the pool child runs again",
    )
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["workers"]["stalled"] == 0
