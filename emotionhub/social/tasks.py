"""Celery tasks of social ingestion (queue ``ingest``); beat sends ``fetch_source`` per source."""

from __future__ import annotations

from celery import shared_task

from emotionhub.social import imports, runs
from emotionhub.social.models import RunTrigger

FETCH_TASK = "emotionhub.social.tasks.fetch_source"


@shared_task(name=FETCH_TASK)
def fetch_source(source_id: str, trigger: str = RunTrigger.SCHEDULE) -> str:
    run = runs.fetch_source(source_id, trigger)
    return "not due" if run is None else f"{run.status} {run.error_code}".strip()


@shared_task(name=imports.IMPORT_TASK)
def process_import(import_id: str) -> str:
    return imports.process_import(import_id)


@shared_task(name="emotionhub.social.tasks.resume_imports")
def resume_imports() -> int:
    """Beat: imports whose worker died (lease expired) are queued again."""
    return imports.resume_stalled()
