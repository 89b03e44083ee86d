"""The webhook body (jobs.documents, built without the REST layer) is exactly what the API
answers for the same submission."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from emotionhub.api.serializers import SubmissionSerializer
from emotionhub.api.views import _submission_queryset
from emotionhub.jobs.documents import iso, submission_document
from emotionhub.jobs.models import AnalysisJob, JobStatus, Submission
from tests.conftest import png_bytes, submit_with_result, upload

pytestmark = pytest.mark.django_db


def api_json(submission: Submission) -> dict:
    return json.loads(JSONRenderer().render(SubmissionSerializer(submission).data))


def test_the_document_equals_the_api_representation(alice, settings):
    body, _job, _result = submit_with_result(alice)
    more = alice.submit(
        files=[upload("a.png", png_bytes()), upload("b.png", png_bytes(color=(1, 2, 3)))],
        texts=["hello there"],
        analyzers="example,text_length",
        webhook_url="https://hooks.example.org/done",
        consent="given",
    )
    assert more.status_code == 202, more.json()
    more = more.json()
    failed = AnalysisJob.objects.filter(submission_id=more["id"]).first()
    failed.status, failed.error_code, failed.error_message = JobStatus.FAILED, "boom", "No."
    failed.started_at = failed.finished_at = timezone.now()
    failed.progress = 0.25
    failed.save()
    running = AnalysisJob.objects.filter(submission_id=more["id"]).exclude(pk=failed.pk).first()
    running.status = JobStatus.RUNNING
    running.partial_result = {"seconds_done": 2.0, "frames_analyzed": 2, "timeline": []}
    running.save()
    for submission_id in (body["id"], more["id"]):
        submission = _submission_queryset().get(pk=submission_id)
        document = json.loads(json.dumps(submission_document(submission)))
        assert document == api_json(submission)
    assert document["webhook"]["url"] == "https://hooks.example.org/done"
    assert any(job["error"] for item in document["items"] for job in item["jobs"])


def test_iso_writes_utc_with_z():
    import datetime as dt

    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert iso(moment) == "2026-01-02T01:04:05.000678Z"
    assert iso(None) is None
