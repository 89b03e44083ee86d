from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The start page at ``/`` and the error pages people see (403)."""

    name = "emotionhub.home"
    label = "home"
