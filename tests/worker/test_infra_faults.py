"""Infrastructure faults with real worker processes: the broker's Redis killed and restarted
on the same port while jobs are queued and running, and the worker's PostgreSQL connections
terminated again and again mid-job. Either way every job must end final, each succeeded job
with exactly one result, and the worker must keep working."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from emotionhub.celery import app as celery_app
from emotionhub.jobs.models import ACTIVE_STATUSES, AnalysisJob, AnalysisResult, Submission
from tests.conftest import TenantClient
from tests.worker.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.workers]
ROOT = Path(__file__).resolve().parents[2]
SLOW = '{"slow": {"seconds": 1}}'
WORKER_APP_NAME = "emotionhub-chaos-worker"


def _testenv():
    """scripts/testenv.py (not a package): its RedisServer runs our private broker."""
    name = "emotionhub_testenv"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "testenv.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _use_broker(url: str) -> None:
    """Point this process's Celery app (the API's dispatch) at ``url``."""
    celery_app.conf.broker_url = url
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def private_redis(tmp_path, monkeypatch) -> Iterator:
    """A Redis of this test's own, so killing it disturbs no other test or engineer.

    Requested before ``start_worker``: the worker and ``clean_broker`` read REDIS_URL."""
    binary = os.environ.get("EMOTIONHUB_REDIS_SERVER")
    if not binary:
        pytest.skip("EMOTIONHUB_REDIS_SERVER not set: run through scripts/testenv.py")
    testenv = _testenv()
    server = testenv.RedisServer(tmp_path, Path(binary), testenv.free_port())
    server.start()
    previous = celery_app.conf.broker_url
    monkeypatch.setenv("REDIS_URL", server.url)
    monkeypatch.setenv("CELERY_BROKER_URL", server.url)
    _use_broker(server.url)
    yield server
    _use_broker(previous)
    server.stop()


def _submit(client: TenantClient, index: int) -> str:
    response = client.submit(
        texts=[f"post {index} a", f"post {index} b"],
        analyzers="slow,text_length",
        analyzer_settings=SLOW,
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _all_final(submission_ids: list[str]) -> bool:
    jobs = AnalysisJob.objects.filter(submission_id__in=submission_ids)
    return jobs.exists() and not jobs.filter(status__in=ACTIVE_STATUSES).exists()


def assert_each_job_succeeded_once(submission_ids: list[str], expected_jobs: int) -> None:
    jobs = list(AnalysisJob.objects.filter(submission_id__in=submission_ids))
    assert len(jobs) == expected_jobs
    failed = [
        (j.analyzer, j.status, j.error_code, j.attempts) for j in jobs if j.status != "succeeded"
    ]
    assert not failed
    for job in jobs:
        assert AnalysisResult.objects.filter(job=job).count() == 1, job.pk
        assert (
            AnalysisResult.objects.filter(media_id=job.media_id, analyzer=job.analyzer).count() == 1
        )
    assert not Submission.objects.filter(pk__in=submission_ids, finished_at__isnull=True).exists()


def test_redis_killed_and_restarted_mid_run(private_redis, start_worker):
    alice = TenantClient("alice")
    worker = start_worker("survivor", concurrency=2)
    before = [_submit(alice, i) for i in range(4)]
    wait_for(
        lambda: AnalysisJob.objects.filter(submission_id__in=before, status="running").exists(),
        30,
        message="a job to be running",
    )
    os.kill(private_redis.pid, signal.SIGKILL)  # no SHUTDOWN, no save: every message is gone
    private_redis.stop()
    during = [_submit(alice, i) for i in range(4, 6)]  # accepted; their messages cannot go out
    private_redis.start()  # same port, empty

    ids = before + during
    wait_for(lambda: _all_final(ids), 180, interval=0.5, message="every job to be final")
    assert_each_job_succeeded_once(ids, expected_jobs=len(ids) * 4)
    assert worker.process.poll() is None
    # The worker reconnected and consumes new messages.
    after = [_submit(alice, 99)]
    wait_for(lambda: _all_final(after), 60, interval=0.5, message="a new submission")
    assert_each_job_succeeded_once(after, expected_jobs=4)


class BackendTerminator:
    """Terminates the worker's PostgreSQL backends every ``interval`` seconds, from a
    connection of its own, until stopped."""

    def __init__(self, application_name: str, interval: float = 0.4) -> None:
        db = connection.settings_dict
        self.dsn = {
            "host": db["HOST"],
            "port": db["PORT"],
            "user": db["USER"],
            "password": db["PASSWORD"] or None,
            "dbname": db["NAME"],
        }
        self.application_name = application_name
        self.interval = interval
        self.terminated = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendTerminator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        admin = psycopg2.connect(**self.dsn)
        admin.autocommit = True
        try:
            while not self._stop.wait(self.interval):
                with admin.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                        "FROM pg_stat_activity WHERE application_name = %s",
                        [self.application_name],
                    )
                    self.terminated += cursor.fetchone()[0]
        finally:
            admin.close()


def test_worker_database_connections_terminated_mid_job(start_worker):
    alice = TenantClient("alice")
    # libpq reads PGAPPNAME: every connection of the worker (and only the worker) carries it.
    worker = start_worker("steady", concurrency=2, PGAPPNAME=WORKER_APP_NAME)
    ids = [_submit(alice, i) for i in range(5)]
    with BackendTerminator(WORKER_APP_NAME) as terminator:
        wait_for(
            lambda: terminator.terminated >= 10 and _all_final(ids[:2]),
            120,
            interval=0.5,
            message="the first submissions to finish under repeated terminations",
        )
    wait_for(lambda: _all_final(ids), 120, interval=0.5, message="every job to be final")
    assert terminator.terminated >= 10
    assert_each_job_succeeded_once(ids, expected_jobs=len(ids) * 4)
    assert worker.process.poll() is None
    after = [_submit(alice, 99)]
    wait_for(lambda: _all_final(after), 60, interval=0.5, message="a new submission")
    assert_each_job_succeeded_once(after, expected_jobs=4)
