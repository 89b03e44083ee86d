from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "emotionhub.media"
    label = "media"
