from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "emotionhub.audit"
    label = "audit"
    verbose_name = "Audit log"
