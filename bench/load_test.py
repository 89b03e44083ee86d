"""Load test: many clients submitting small texts and images through gunicorn, real Celery
worker processes analysing them on PostgreSQL + Redis, and a check that no job was lost.

Locust runs as a library (headless, in this process, bounded users and duration) against a
gunicorn it starts on a free loopback port; a ``celery worker --beat`` runs beside it. Each
simulated user submits as soon as its previous answer came back (closed loop): half the
requests one text for ``text_length``, half one small PNG for ``example``. Afterwards it
waits for the backlog to drain and checks, in the database, that every accepted submission
exists with all its jobs, every job is final and every succeeded job has exactly one
result. It prints one JSON summary and exits 1 if anything was lost or duplicated.

Needs ``DATABASE_URL`` and ``REDIS_URL``, e.g. from the test environment::

    python scripts/testenv.py -- python bench/load_test.py --users 8 --duration 60
"""

# ruff: noqa: E402 - gevent must patch the standard library before anything imports it.
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import requests
from locust import HttpUser, constant, task
from locust.env import Environment
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = "emotionhub.settings.production"  # as deployed, plain HTTP on loopback
QUEUES = "default,ingest,analysis_cpu,analysis_gpu"


@dataclass
class Ledger:
    """What the server accepted, as the clients saw it: submission id -> expected jobs."""

    accepted: dict[str, int] = field(default_factory=dict)
    refused: dict[int, int] = field(default_factory=dict)  # 429/503: back-pressure, not loss
    errors: dict[str, int] = field(default_factory=dict)


LEDGER = Ledger()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png_bytes()


class Submitter(HttpUser):
    wait_time = constant(0)
    api_key = ""

    def _submit(self, name: str, data: dict, files=None) -> None:
        with self.client.post(
            "/api/v1/submissions",
            data=data,
            files=files,
            headers={"Authorization": f"Api-Key {self.api_key}"},
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code == 202:
                body = response.json()
                LEDGER.accepted[body["id"]] = len(body["items"])  # one analyzer per item
                response.success()
            elif response.status_code in (429, 503):
                LEDGER.refused[response.status_code] = (
                    LEDGER.refused.get(response.status_code, 0) + 1
                )
                response.success()
            else:
                key = f"{name}: HTTP {response.status_code}"
                LEDGER.errors[key] = LEDGER.errors.get(key, 0) + 1
                response.failure(key)

    @task
    def text(self) -> None:
        self._submit(
            "POST /submissions (text)",
            {"text": f"great service, thanks {uuid.uuid4().hex[:8]}", "analyzers": "text_length"},
        )

    @task
    def image(self) -> None:
        self._submit(
            "POST /submissions (image)",
            {"analyzers": "example"},
            files={"file": ("small.png", PNG, "image/png")},
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def server_answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/health", timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False


def issue_key() -> str:
    from emotionhub.accounts.models import ApiKey, Tenant

    tenant = Tenant.objects.create(
        name="Load test", slug=f"load-{uuid.uuid4().hex[:8]}", purpose="customer_feedback"
    )
    key, raw = ApiKey.issue(tenant, "load test", ["read", "submit"])
    key.rate_limit_per_minute = key.daily_item_quota = 10_000_000
    key.save(update_fields=["rate_limit_per_minute", "daily_item_quota"])
    return raw


def verify(ledger: Ledger, drain_timeout: float, run_started: float) -> dict:
    """Wait for every accepted submission's jobs to be final, then count what is wrong."""
    from django.db.models import Count, Max, Min

    from emotionhub.jobs.models import ACTIVE_STATUSES, AnalysisJob, AnalysisResult, Submission

    ids = list(ledger.accepted)
    jobs = AnalysisJob.objects.filter(submission_id__in=ids)
    deadline = time.monotonic() + drain_timeout
    while jobs.filter(status__in=ACTIVE_STATUSES).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    drained_at = time.time()

    expected_jobs = sum(ledger.accepted.values())
    stored = {str(pk) for pk in Submission.objects.filter(pk__in=ids).values_list("pk", flat=True)}
    per_submission = dict(
        jobs.values("submission_id").annotate(n=Count("pk")).values_list("submission_id", "n")
    )
    short = sum(
        max(0, expected - per_submission.get(uuid.UUID(sid), 0))
        for sid, expected in ledger.accepted.items()
    )
    by_status = dict(jobs.values("status").annotate(n=Count("pk")).values_list("status", "n"))
    results = AnalysisResult.objects.filter(job__submission_id__in=ids)
    result_counts = results.values("job_id").annotate(n=Count("pk"))
    duplicated = result_counts.filter(n__gt=1).count()
    succeeded_without_result = (
        jobs.filter(status="succeeded").exclude(pk__in=results.values("job_id")).count()
    )
    window = jobs.aggregate(first=Min("created_at"), last=Max("finished_at"))
    processing_s = (window["last"] - window["first"]).total_seconds() if window["first"] else 0.0
    still_active = sum(by_status.get(status, 0) for status in ACTIVE_STATUSES)
    lost = (len(ids) - len(stored)) + short + still_active + succeeded_without_result
    return {
        "accepted_submissions": len(ids),
        "expected_jobs": expected_jobs,
        "jobs_by_status": by_status,
        "missing_submissions": len(ids) - len(stored),
        "missing_jobs": short,
        "jobs_not_final": still_active,
        "succeeded_without_result": succeeded_without_result,
        "jobs_with_duplicate_results": duplicated,
        "results": results.count(),
        "lost_jobs": lost,
        "processing_seconds": round(processing_s, 2),
        "jobs_per_second": round(by_status.get("succeeded", 0) / processing_s, 2)
        if processing_s
        else 0.0,
        "drain_seconds_after_load": round(drained_at - run_started, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8, help="concurrent simulated clients")
    parser.add_argument("--spawn-rate", type=float, default=4.0, help="users started per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--concurrency", type=int, default=2, help="celery worker processes")
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            print(f"{name} is not set: run under scripts/testenv.py", file=sys.stderr)
            return 2

    work = Path(tempfile.mkdtemp(prefix="emotionhub-load-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "EMOTIONHUB_ANALYZERS": "example,text_length",
        "MEDIA_ROOT": str(work / "media"),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
        # Realistic recovery timings rather than the fault tests' seconds.
        "EMOTIONHUB_JOB_LEASE_SECONDS": "120",
        "EMOTIONHUB_QUEUED_REENQUEUE_SECONDS": "300",
        "EMOTIONHUB_RECONCILE_SECONDS": "10",
        "EMOTIONHUB_WORKER_HEARTBEAT_SECONDS": "5",
    }
    os.environ.update(env)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    import django

    django.setup()
    from emotionhub.jobs.models import WorkerHeartbeat

    Submitter.api_key = issue_key()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = start(
        [
            sys.executable, "-m", "gunicorn", "emotionhub.wsgi:application",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.web_workers),
            "--worker-class", "gthread", "--threads", str(args.web_threads),
        ],
        env,
        work / "gunicorn.log",
    )  # fmt: skip
    worker = start(
        [
            sys.executable, "-m", "celery", "-A", "emotionhub", "worker",
            "--pool", "prefork", "--concurrency", str(args.concurrency),
            "-Q", QUEUES, "-n", "load@%h", "--without-gossip", "--without-mingle",
            "--beat", "--schedule", str(work / "beat-schedule"), "--loglevel", "WARNING",
        ],
        env,
        work / "worker.log",
    )  # fmt: skip
    try:
        wait_until(lambda: server_answers(url), 60, "gunicorn")
        wait_until(
            lambda: WorkerHeartbeat.objects.filter(hostname__startswith="load@").exists(),
            60,
            "the worker's heartbeat",
        )
        environment = Environment(user_classes=[Submitter], host=url)
        runner = environment.create_local_runner()
        started = time.time()
        runner.start(args.users, spawn_rate=args.spawn_rate)
        gevent.spawn_later(args.duration, runner.quit)
        runner.greenlet.join()
        load_seconds = time.time() - started
        total = environment.stats.total
        summary = {
            "server": f"gunicorn gthread {args.web_workers}x{args.web_threads}",
            "celery_concurrency": args.concurrency,
            "users": args.users,
            "duration_seconds": round(load_seconds, 1),
            "requests": total.num_requests,
            "requests_per_second": round(total.num_requests / load_seconds, 2),
            "request_failures": total.num_failures,
            "submission_latency_ms": {
                "p50": total.get_response_time_percentile(0.5),
                "p95": total.get_response_time_percentile(0.95),
                "max": round(total.max_response_time or 0, 1),
            },
            "refused": {str(k): v for k, v in LEDGER.refused.items()},
            "errors": LEDGER.errors,
        }
        summary.update(verify(LEDGER, args.drain_timeout, started + load_seconds))
    finally:
        stop(web)
        stop(worker)
    summary["logs"] = str(work)
    print(json.dumps(summary, indent=2))
    bad = summary["lost_jobs"] or summary["jobs_with_duplicate_results"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
