from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "emotionhub.social"
    label = "social"
