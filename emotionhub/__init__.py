"""EmotionHub: a self-hosted, plugin-based emotion and sentiment analytics server."""

from emotionhub.celery import app as celery_app

__all__ = ["celery_app"]
__version__ = "0.1.0"
