"""Emotion inference on faces is refused for purposes the law forbids (and undeclared ones),
at submission, when a social source is configured, and again in the worker."""

from __future__ import annotations

import pytest

from emotionhub.accounts.models import AnalysisPurpose
from emotionhub.jobs import executor
from emotionhub.jobs.models import AnalysisJob, JobStatus, Submission
from emotionhub.media.models import Media
from tests.conftest import TenantClient, png_bytes, upload

FACE_ANALYZERS = ["facial_emotion", "image_sentiment"]


def assert_refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert "docs/responsible-use.md" in error["message"]
    return error


def stored_files(settings) -> list:
    return sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())


@pytest.fixture
def workplace(db) -> TenantClient:
    return TenantClient("acme-hr", purpose=AnalysisPurpose.WORKPLACE)


@pytest.fixture
def undeclared(db) -> TenantClient:
    return TenantClient("newco", purpose=AnalysisPurpose.UNDECLARED)


def test_analyzers_declare_whether_they_read_emotion_off_faces(alice):
    response = alice.client.get("/api/v1/analyzers")
    assert response.status_code == 200
    declared = {entry["name"]: entry["infers_emotion_from_faces"] for entry in response.json()}
    assert {name for name, faces in declared.items() if faces} == set(FACE_ANALYZERS)
    assert declared["text_sentiment"] is False and declared["example"] is False


@pytest.mark.parametrize("purpose", [AnalysisPurpose.WORKPLACE, AnalysisPurpose.EDUCATION])
@pytest.mark.parametrize("analyzers", ["facial_emotion", "image_sentiment", None])
def test_prohibited_purpose_refuses_face_analyzers_and_writes_nothing(
    db, settings, purpose, analyzers
):
    tenant = TenantClient(f"t-{purpose}", purpose=purpose)
    files_before = stored_files(settings)
    fields = {"analyzers": analyzers} if analyzers else {}  # None: the default set
    response = tenant.submit(files=[upload("face.png", png_bytes())], **fields)
    error = assert_refused(response, 403, "purpose_prohibited")
    assert error["details"]["purpose"] == purpose
    assert set(error["details"]["analyzers"]) <= set(FACE_ANALYZERS)
    assert "Art. 5(1)(f)" in error["message"]
    assert (Submission.objects.count(), Media.objects.count(), AnalysisJob.objects.count()) == (
        0,
        0,
        0,
    )
    assert stored_files(settings) == files_before


def test_prohibited_purpose_may_still_analyse_text_and_use_other_image_analyzers(workplace):
    text = workplace.submit(texts=["the new canteen is great"])
    assert text.status_code == 202, text.content
    image = workplace.submit(files=[upload("x.png", png_bytes())], analyzers="example")
    assert image.status_code == 202, image.content


def test_undeclared_purpose_refuses_face_analyzers_but_not_text(undeclared):
    response = undeclared.submit(files=[upload("x.png", png_bytes())], analyzers="facial_emotion")
    assert_refused(response, 403, "purpose_undeclared")
    assert Submission.objects.count() == 0
    assert undeclared.submit(texts=["fine"], analyzers="text_sentiment").status_code == 202


def test_source_with_face_analyzers_is_refused_for_a_prohibited_purpose(workplace):
    body = {"name": "feed", "kind": "webhook", "config": {}}
    refused = workplace.client.post("/api/v1/sources", body, format="json")  # default: all
    assert_refused(refused, 403, "purpose_prohibited")
    named = {**body, "analyzers": ["image_sentiment"]}
    assert_refused(
        workplace.client.post("/api/v1/sources", named, format="json"), 403, "purpose_prohibited"
    )
    from emotionhub.social.models import Source

    assert not Source.objects.exists()
    ok = workplace.client.post(
        "/api/v1/sources", {**body, "analyzers": ["text_sentiment"]}, format="json"
    )
    assert ok.status_code == 201, ok.content
    patch = workplace.client.patch(
        f"/api/v1/sources/{ok.json()['id']}", {"analyzers": ["facial_emotion"]}, format="json"
    )
    assert_refused(patch, 403, "purpose_prohibited")
    assert Source.objects.get().analyzers == ["text_sentiment"]


def test_worker_fails_face_jobs_permanently_once_the_purpose_became_prohibited(alice):
    response = alice.submit(files=[upload("x.png", png_bytes())], analyzers="facial_emotion")
    assert response.status_code == 202, response.content
    alice.tenant.purpose = AnalysisPurpose.EDUCATION
    alice.tenant.save(update_fields=["purpose"])
    job = AnalysisJob.objects.get()
    executor.execute_jobs([str(job.pk)], worker="test-worker")
    job.refresh_from_db()
    assert (job.status, job.error_code, job.quarantined) == (
        JobStatus.FAILED,
        "purpose_prohibited",
        False,
    )
    assert job.attempts == 1 and job.next_attempt_at is None
    assert not job.results.exists()
