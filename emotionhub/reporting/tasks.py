"""Periodic reporting work (beat, ``EMOTIONHUB_REPORTING_SECONDS``): facts, then alerts."""

from celery import shared_task

from emotionhub.reporting import alerts, facts


@shared_task(name="emotionhub.reporting.tasks.refresh_reports")
def refresh_reports() -> dict:
    created = facts.sync()
    sent = alerts.deliver_due()
    return {"facts": created, "alerts": len(sent)}
