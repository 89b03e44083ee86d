from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "emotionhub.media"
    label = "media"

    def ready(self) -> None:
        from emotionhub.media import signals  # noqa: F401 - connects the file cleanup
