from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "emotionhub.accounts"
    label = "accounts"
