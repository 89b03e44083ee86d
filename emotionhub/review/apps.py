from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "emotionhub.review"
    label = "review"
    verbose_name = "Review"
