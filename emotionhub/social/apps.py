from django.apps import AppConfig
from django.db.models.signals import post_delete


class SocialConfig(AppConfig):
    name = "emotionhub.social"
    label = "social"

    def ready(self) -> None:
        from emotionhub.social import schedules
        from emotionhub.social.models import Source

        post_delete.connect(
            schedules.delete_schedule, sender=Source, dispatch_uid="social-schedule"
        )
