"""Embedded defaults for the quick start: SQLite, filesystem broker, no external services."""

from emotionhub.settings.base import *  # noqa: F403
from emotionhub.settings.env import env_bool

DEBUG = env_bool("DEBUG", True)
EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = env_bool("EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE", True)
