"""Production settings: `check --deploy` is clean, and start-up refuses missing secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "emotionhub.settings.production",
    "SECRET_KEY": "k3Q9-a-fifty-plus-character-random-looking-secret-for-tests-only-x7",
    "ALLOWED_HOSTS": "emotionhub.example.org",
    "DATABASE_URL": "postgres://emotionhub:pw@127.0.0.1:1/emotionhub",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Without the test run's fault plugins (PYTHONPATH) and test-only variables.
    dropped = {*PRODUCTION_ENV, "DEBUG", "PYTHONPATH"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_production_refuses_a_short_secret_key():
    result = manage("check", **{**PRODUCTION_ENV, "SECRET_KEY": "short"})
    assert result.returncode != 0 and "at least 50" in result.stderr
