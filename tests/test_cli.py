"""The ``emotionhub`` console script against a real server (pytest-django's live server,
real HTTP): submit with progress while waiting, results, export, and refusals."""

from __future__ import annotations

import csv
import io
import json
import threading
import time

import pytest

from emotionhub import cli
from emotionhub.analyzers.contract import Result
from emotionhub.jobs import lifecycle
from emotionhub.jobs.models import AnalysisJob, Submission
from tests.conftest import TenantClient, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(live_server, monkeypatch):
    tenant = TenantClient("clico")
    monkeypatch.setenv("EMOTIONHUB_URL", live_server.url)
    monkeypatch.setenv("EMOTIONHUB_API_KEY", tenant.raw_key)
    return tenant


def run(*argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    status = cli.main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def finish_jobs_when_submitted(shown: io.StringIO) -> threading.Thread:
    """Plays the worker: once the client has shown its first progress line on ``shown``
    (the waiting state), claims and completes each job through the state machine."""

    def work() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not shown.getvalue():
            time.sleep(0.05)
        for job in AnalysisJob.objects.order_by("created_at"):
            running = lifecycle.claim(job.pk, "cli-test")
            lifecycle.record_success(
                running,
                Result({"width": 1}),
                model_version="m",
                weights_sha256="",
                device="cpu",
                duration_ms=1.0,
            )
            time.sleep(0.3)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_submit_waits_with_progress_then_results_and_export(server, tmp_path):
    photo = tmp_path / "a.png"
    photo.write_bytes(png_bytes())
    shown = io.StringIO()
    worker = finish_jobs_when_submitted(shown)
    status, out, err = run(
        "submit",
        str(photo),
        "--text",
        "hello there",
        "--analyzers",
        "example",
        "--wait",
        "--interval",
        "0.2",
        "--timeout",
        "60",
        stderr=shown,
    )
    worker.join(5)
    assert status == 0, err
    submission = json.loads(out)
    assert submission["status"] == "succeeded" and len(submission["items"]) == 2
    lines = err.strip().splitlines()
    assert "queued" in lines[0] and "(0/2 jobs done)" in lines[0]
    assert lines[-1].endswith("succeeded 100.0% (2/2 jobs done)")

    status, out, _ = run("results", submission["id"], "--results-only")
    results = json.loads(out)
    assert status == 0 and {r["analyzer"] for r in results} == {"example"} and len(results) == 2

    target = tmp_path / "out.csv"
    status, _, err = run("export", "--analyzer", "example", "--format", "csv", "-o", str(target))
    rows = list(csv.DictReader(target.open()))
    assert status == 0 and "2 results exported" in err
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in results)
    assert json.loads(rows[0]["payload"]) == {"width": 1}
    status, out, _ = run("export", "--analyzer", "text_length")
    assert status == 0 and out == ""


def test_refusals_come_back_with_the_servers_code(server, tmp_path):
    status, _, err = run("submit", "--text", "hi", "--analyzers", "no_such_analyzer")
    assert status == 1 and "unknown_analyzer" in err
    status, _, err = run("results", "00000000-0000-0000-0000-000000000000")
    assert status == 1 and "not_found" in err
    status, _, err = run("submit", str(tmp_path / "missing.png"))
    assert status == 2 and "no such file" in err
    assert not Submission.objects.exists()


def test_wait_gives_up_after_its_timeout(server):
    status, _, err = run(
        "submit",
        "--text",
        "hi",
        "--analyzers",
        "text_length",
        "--wait",
        "--timeout",
        "0.5",
        "--interval",
        "0.2",
    )
    assert status == 3 and "gave up after" in err


def test_a_missing_key_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("EMOTIONHUB_API_KEY", raising=False)
    status, _, err = run("results", "x")
    assert status == 2 and "EMOTIONHUB_API_KEY" in err
