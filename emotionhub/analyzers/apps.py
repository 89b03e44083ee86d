from django.apps import AppConfig


class AnalyzersConfig(AppConfig):
    name = "emotionhub.analyzers"
    label = "analyzers"

    def ready(self) -> None:
        from emotionhub.analyzers import checks  # noqa: F401 - registers the checks
