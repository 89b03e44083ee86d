"""Real Celery worker processes against the test PostgreSQL database and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from emotionhub.celery import QUEUES

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class WorkerProcess:
    """``celery worker --beat`` in its own process group, so it can be SIGKILLed whole."""

    def __init__(
        self,
        name: str,
        log_dir: Path,
        concurrency: int = 1,
        beat: bool = True,
        extra_env: dict[str, str] | None = None,
    ):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "emotionhub.settings.test",
            "DATABASE_URL": (
                f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/"
                f"{db['NAME']}"
            ),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1",
            # The test-only plugins that pytest's `pythonpath` setting exposes.
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT / "var" / "test-plugins"), os.environ.get("PYTHONPATH")])
            ),
            **(extra_env or {}),
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "emotionhub",
            "worker",
            "--loglevel",
            "INFO",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "-Q",
            ",".join(QUEUES),
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        if beat:
            command += ["--beat", "--schedule", str(log_dir / f"{name}-beat-schedule")]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def hostname_prefix(self) -> str:
        return f"{self.name}@"

    def wait_ready(self, timeout: float = 60) -> None:
        from emotionhub.jobs.models import WorkerHeartbeat

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.tail()}")
            return WorkerHeartbeat.objects.filter(
                hostname__startswith=self.hostname_prefix
            ).exists()

        wait_for(ready, timeout, message=f"worker {self.name} heartbeat")

    def pool_children(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout
        return [int(pid) for pid in out.split()]

    def kill(self) -> None:
        """SIGKILL the whole worker: main process, pool children and beat."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def tail(self, lines: int = 60) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def clean_broker():
    """Each test starts with empty queues: no delayed retry of a previous test leaks in."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def start_worker(transactional_db, clean_broker, tmp_path, request):
    workers: list[WorkerProcess] = []

    def start(
        name: str = "w1", concurrency: int = 1, beat: bool = True, **extra_env: str
    ) -> WorkerProcess:
        worker = WorkerProcess(
            name, tmp_path, concurrency=concurrency, beat=beat, extra_env=extra_env
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    failed = getattr(request.node, "rep_call", None)
    for worker in workers:
        if failed is not None and failed.failed:
            print(f"--- log of worker {worker.name} ---\n{worker.tail()}")
        worker.stop()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


class WebhookReceiver:
    """A local HTTP server that records POSTs and answers each with ``status``."""

    def __init__(self, status: int) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer

        received: list[tuple[dict, bytes]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def webhook_receiver():
    receivers: list[WebhookReceiver] = []

    def start(status: int = 204) -> WebhookReceiver:
        receivers.append(WebhookReceiver(status))
        return receivers[-1]

    yield start
    for receiver in receivers:
        receiver.server.shutdown()
