from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "emotionhub.realtime"
    label = "realtime"
    verbose_name = "Real-time analysis"

    def ready(self) -> None:
        from emotionhub.realtime import signals  # noqa: F401 - connects the receivers
