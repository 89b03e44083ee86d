"""bench/realtime.py keeps working: a real uvicorn serving emotionhub.asgi, the HTTP
endpoint and two concurrent WebSocket streams through the `websockets` client, a few
seconds each, and every frame sent is answered, dropped or refused, never lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
SMALL_RUN = ["--streams", "1,2", "--seconds", "3", "--http-frames", "3", "--naive-frames", "2"]


def test_short_bench_run_accounts_for_every_frame():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "bench/realtime.py", *SMALL_RUN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["http"]["faces_per_frame"] == [1]
    assert summary["http"]["p50_ms"] > 0
    for run in summary["streams"]:
        assert run["errors"] == 0 and run["unanswered"] == 0
        assert run["answered"] > 0 and run["answered"] + run["dropped"] == run["sent"]
        assert len(run["delivered_fps_per_stream"]) == run["streams"]
    assert summary["naive"]["naive_fps"] > 0 and summary["naive"]["ratio"] > 0
