from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "emotionhub.jobs"
    label = "jobs"

    def ready(self) -> None:
        from emotionhub.jobs import heartbeat  # noqa: F401 - connects worker signals
