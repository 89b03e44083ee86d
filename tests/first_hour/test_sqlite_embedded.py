"""The embedded shape's SQLite file is written by the web server, the worker, its
heartbeat thread and beat at once: WAL, IMMEDIATE transactions and a busy timeout keep
them from failing with "database is locked" (real processes on one file)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.first_hour.embedded import REPO, embedded_env, manage

# A worker heartbeat (update_or_create: read, then write in one transaction) in a loop,
# as several workers and beat do at start; prints how many writes failed.
WRITER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from django.db import OperationalError, connection
    from django.utils import timezone
    from emotionhub.jobs.heartbeat import beat_once

    name, seconds = sys.argv[1], float(sys.argv[2])
    failures = writes = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            beat_once(name, ["default"], timezone.now(), None)
            writes += 1
        except OperationalError as exc:
            failures += 1
            print("error:", exc, file=sys.stderr)
        connection.close()
    print(writes, failures)
    """
)


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("embedded")
    manage(path, "migrate", "--no-input", "-v", "0")
    return path


def test_the_database_runs_in_wal_mode_with_a_busy_timeout(var_dir):
    probe = (
        "import django; django.setup(); from django.db import connection\n"
        "c = connection.cursor()\n"
        "print(c.execute('PRAGMA journal_mode').fetchone()[0],"
        " c.execute('PRAGMA busy_timeout').fetchone()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env=embedded_env(var_dir),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "wal"
    assert int(out[1]) >= 10_000  # milliseconds


def test_concurrent_writers_never_see_database_is_locked(var_dir):
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"worker-{i}", "4"],
            cwd=REPO,
            env=embedded_env(var_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    totals = []
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        writes, failures = (int(v) for v in out.split())
        assert failures == 0, err
        totals.append(writes)
    assert all(writes > 0 for writes in totals), totals
