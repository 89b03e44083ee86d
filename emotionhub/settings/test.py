"""Test settings: the real PostgreSQL and Redis that ``scripts/testenv.py`` starts.

Without ``DATABASE_URL`` the suite falls back to SQLite and the tests marked
``services`` skip themselves, so a quick ``pytest`` works on any machine.
"""

import os

from emotionhub.settings.base import *  # noqa: F403
from emotionhub.settings.base import VAR_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "test-media" / str(os.getpid())
EMOTIONHUB_ANALYZERS = ["example", "flaky", "broken", "crasher", "slow", "text_length"]
EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = True
EMOTIONHUB_RETRY_BASE_SECONDS = 0.2
EMOTIONHUB_RETRY_MAX_SECONDS = 1.0
EMOTIONHUB_MAX_ATTEMPTS = 3
EMOTIONHUB_WEBHOOK_MAX_ATTEMPTS = 2
