"""Periodic retention purge (beat, ``EMOTIONHUB_RETENTION_PURGE_SECONDS``)."""

from celery import shared_task

from emotionhub.media import retention


@shared_task(name="emotionhub.media.tasks.purge_expired_media")
def purge_expired_media() -> dict:
    report = retention.purge_expired()
    return {"media": report.media, "files": report.files, "tenants": report.by_tenant}
