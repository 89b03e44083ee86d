from django.apps import AppConfig


class LimitsConfig(AppConfig):
    name = "emotionhub.limits"
    label = "limits"
    verbose_name = "Rate limits and quotas"
