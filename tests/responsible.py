"""Helpers for the responsible-use tests: a real photo analysed by the real analyzers
in-process (the executor a worker runs), and a census of every row tied to media."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.db import models

from emotionhub.jobs import executor
from emotionhub.jobs.models import AnalysisJob, AnalysisResult
from emotionhub.media.models import Media
from emotionhub.reporting import facts
from tests.conftest import upload

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "docs" / "examples" / "astronaut.jpg"


def submit_photo(client, path: Path = ASTRONAUT, analyzers: str = "facial_emotion,example"):
    """Submit ``path``, run its jobs as a worker would and sync the reporting facts."""
    response = client.submit(files=[upload(path.name, path.read_bytes())], analyzers=analyzers)
    assert response.status_code == 202, response.content
    media = Media.objects.get(pk=response.json()["items"][0]["id"])
    run_jobs(media)
    return media


def run_jobs(media: Media) -> None:
    job_ids = [
        str(pk) for pk in AnalysisJob.objects.filter(media=media).values_list("pk", flat=True)
    ]
    executor.execute_jobs(job_ids, worker="test-worker")
    assert AnalysisResult.objects.filter(media=media).count() == len(job_ids), list(
        AnalysisJob.objects.filter(media=media).values("analyzer", "error_code", "error_message")
    )
    facts.sync(full=True)


def related_ids(media_ids, submission_ids=(), post_ids=()) -> dict[str, list[str]]:
    """The ids of the media and of the rows hanging off them; capture before deleting."""
    media_ids = [str(i) for i in media_ids]
    results = AnalysisResult.objects.filter(media_id__in=media_ids)
    jobs = AnalysisJob.objects.filter(media_id__in=media_ids)
    return {
        "media.media": media_ids,
        "jobs.analysisresult": [str(pk) for pk in results.values_list("pk", flat=True)],
        "jobs.analysisjob": [str(pk) for pk in jobs.values_list("pk", flat=True)],
        "jobs.submission": [str(i) for i in submission_ids],
        "social.post": [str(i) for i in post_ids],
    }


def rows_left(targets: dict[str, list[str]]) -> dict[str, int]:
    """Rows still there: the targets themselves, and rows of every installed model with a
    foreign key to one of them (non-zero counts only)."""
    found = {}
    for label, ids in targets.items():
        if ids and (count := apps.get_model(label).objects.filter(pk__in=ids).count()):
            found[label] = count
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not isinstance(field, models.ForeignKey | models.OneToOneField):
                continue
            ids = targets.get(field.related_model._meta.label_lower)
            if not ids or not field.concrete:
                continue
            if count := model.objects.filter(**{f"{field.name}__in": ids}).count():
                found[f"{model._meta.label}.{field.name}"] = count
    return found
