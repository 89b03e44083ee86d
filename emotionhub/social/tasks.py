"""Celery tasks of social ingestion (queue ``ingest``); beat sends ``fetch_source`` per source."""

from __future__ import annotations

from celery import shared_task

from emotionhub.social import runs
from emotionhub.social.models import RunTrigger

FETCH_TASK = "emotionhub.social.tasks.fetch_source"


@shared_task(name=FETCH_TASK)
def fetch_source(source_id: str, trigger: str = RunTrigger.SCHEDULE) -> str:
    run = runs.fetch_source(source_id, trigger)
    return "not due" if run is None else f"{run.status} {run.error_code}".strip()
