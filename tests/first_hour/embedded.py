"""Helpers for tests that run the embedded (quick start) shape in real processes: SQLite
in a temporary var dir and the filesystem broker, whatever services the suite started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUNDLED_ANALYZERS = "facial_emotion,text_sentiment,image_sentiment"


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a quick start in ``var_dir``: no DATABASE_URL or REDIS_URL, local
    settings, and no test-only plugins on the path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL", "MEDIA_ROOT"}
    }
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if "test-plugins" not in p]
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), *paths]),
        DJANGO_SETTINGS_MODULE="emotionhub.settings.local",
        EMOTIONHUB_VAR_DIR=str(var_dir),
        HF_HUB_OFFLINE="1",
        **extra,
    )
    return env


def manage(var_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180):
    """Run ``manage.py`` in the embedded shape and return the finished process."""
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=env or embedded_env(var_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
