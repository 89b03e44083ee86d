from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "emotionhub.realtime"
    label = "realtime"
    verbose_name = "Real-time analysis"
