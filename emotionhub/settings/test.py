"""Test settings: the real PostgreSQL and Redis that ``scripts/testenv.py`` starts.

Without ``DATABASE_URL`` the suite falls back to SQLite and the tests marked
``services`` skip themselves, so a quick ``pytest`` works on any machine.
"""

import os
import tempfile
from pathlib import Path

from emotionhub.settings.base import *  # noqa: F403
from emotionhub.settings.env import env_float, env_int, env_list

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Shared with the worker processes the tests start (they inherit the environment).
MEDIA_ROOT = Path(os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="emotionhub-media-")))
# Tests that need an extra test analyzer set EMOTIONHUB_ANALYZERS for their workers.
EMOTIONHUB_ANALYZERS = env_list(
    "EMOTIONHUB_ANALYZERS",
    [
        "example",
        "flaky",
        "broken",
        "crasher",
        "slow",
        "text_length",
        "facial_emotion",
        "text_sentiment",
        "image_sentiment",
    ],
)
EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = True
# Load and fuzz tests send hundreds of requests a minute with one key; the rate-limit
# tests set per-key limits (tests/test_limits.py).
EMOTIONHUB_RATE_LIMIT_PER_MINUTE = env_int("EMOTIONHUB_RATE_LIMIT_PER_MINUTE", 0)
EMOTIONHUB_RETRY_BASE_SECONDS = 0.2
EMOTIONHUB_RETRY_MAX_SECONDS = 1.0
EMOTIONHUB_MAX_ATTEMPTS = 3
# Short leases and a fast reconciler so fault tests finish in seconds.
EMOTIONHUB_JOB_LEASE_SECONDS = env_int("EMOTIONHUB_JOB_LEASE_SECONDS", 4)
EMOTIONHUB_QUEUED_REENQUEUE_SECONDS = env_int("EMOTIONHUB_QUEUED_REENQUEUE_SECONDS", 8)
CELERY_BEAT_RECONCILE_SECONDS = env_float("EMOTIONHUB_RECONCILE_SECONDS", 1.0)
EMOTIONHUB_WORKER_HEARTBEAT_SECONDS = env_float("EMOTIONHUB_WORKER_HEARTBEAT_SECONDS", 0.5)
EMOTIONHUB_WORKER_DEAD_SECONDS = env_float("EMOTIONHUB_WORKER_DEAD_SECONDS", 4.0)
EMOTIONHUB_WORKER_STALL_SECONDS = env_float("EMOTIONHUB_WORKER_STALL_SECONDS", 6.0)
EMOTIONHUB_WEBHOOK_MAX_ATTEMPTS = 2
