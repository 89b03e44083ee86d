"""Imported survey comments next to a social source in one brand's dashboard report: the
jobs are really run (text_sentiment), facts filled, and the report splits by source."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from emotionhub.jobs import executor
from emotionhub.jobs.models import AnalysisJob
from emotionhub.reporting import facts
from emotionhub.reporting.models import Brand
from emotionhub.social import imports, runs
from tests.social.conftest import make_source
from tests.social.test_connectors import MastodonTimeline, status

pytestmark = pytest.mark.django_db


def test_imported_feedback_is_reported_like_any_source(alice, upstream):
    survey = make_source(alice.tenant, "import", {}, analyzers=["text_sentiment"])
    survey.name = "Q4 survey"
    survey.save()
    today = timezone.now().date().isoformat()
    body = (
        "id,when,comment\n"
        f"S1,{today}T09:00:00Z,I love the new checkout\n"
        f"S2,{today}T10:00:00Z,Terrible support and a broken app\n"
    ).encode()
    response = alice.client.post(
        "/api/v1/imports",
        {
            "file": SimpleUploadedFile("q4.csv", body),
            "mapping": json.dumps({"text": "comment", "time": "when", "external_id": "id"}),
            "source": str(survey.pk),
        },
        format="multipart",
    )
    assert imports.process_import(response.json()["id"]) == "succeeded"
    MastodonTimeline(upstream, [status(1, "what a great day")])
    social = make_source(
        alice.tenant,
        "mastodon",
        {"instance": upstream.url, "hashtag": "cats"},
        analyzers=["text_sentiment"],
    )
    assert runs.fetch_source(str(social.pk)).new == 1
    job_ids = [str(pk) for pk in AnalysisJob.objects.values_list("pk", flat=True)]
    executor.execute_jobs(job_ids, worker="test-worker")
    assert set(AnalysisJob.objects.values_list("status", flat=True)) == {"succeeded"}
    facts.sync(full=True)

    brand = Brand.objects.create(tenant=alice.tenant, name="Shop")
    brand.sources.add(survey, social)
    report = alice.client.get(
        f"/api/v1/brands/{brand.pk}/report", {"start": "2026-10-01", "end": today}
    ).json()
    by_source = {row["source_name"]: row["volume"] for row in report["by_source"]}
    assert by_source == {"Q4 survey": 2, "mastodon source": 1}
