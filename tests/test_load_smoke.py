"""bench/load_test.py keeps working: a few seconds of load through gunicorn and a real
worker, in a database of its own, must end with every accepted job done exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

pytestmark = [pytest.mark.services, pytest.mark.workers]
ROOT = Path(__file__).resolve().parents[1]
SMALL_RUN = ["--users", "2", "--duration", "4", "--web-workers", "1", "--concurrency", "1"]


@pytest.fixture
def scratch_database_url():
    """An empty database on the test server (the script migrates it), dropped afterwards."""
    url = urlsplit(os.environ["DATABASE_URL"])
    name = f"load_smoke_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(os.environ["DATABASE_URL"])
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(url._replace(path=f"/{name}"))
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_short_load_run_loses_nothing(scratch_database_url):
    redis = urlsplit(os.environ["REDIS_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": scratch_database_url,
        # Its own Redis database: no message of another test reaches its worker.
        "REDIS_URL": urlunsplit(redis._replace(path="/7")),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "bench/load_test.py", *SMALL_RUN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout[run.stdout.index("{") :])
    assert summary["accepted_submissions"] > 0
    assert summary["lost_jobs"] == 0 and summary["jobs_with_duplicate_results"] == 0
    assert summary["jobs_by_status"] == {"succeeded": summary["expected_jobs"]}
