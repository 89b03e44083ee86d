from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "emotionhub.api"
    label = "api"

    def ready(self) -> None:
        from emotionhub.api import schema  # noqa: F401 - registers the auth extension
