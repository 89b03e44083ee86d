from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "emotionhub.reporting"
    label = "reporting"
    verbose_name = "Reporting"
