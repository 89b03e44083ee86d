"""Consent on submissions (and its refusal), and model cards linked from /analyzers."""

from __future__ import annotations

import pytest

from emotionhub.jobs.models import AnalysisJob, Submission
from emotionhub.media.models import Media
from tests.conftest import TenantClient, png_bytes, upload


@pytest.fixture
def strict(db) -> TenantClient:
    return TenantClient("clinic", require_consent=True)


def nothing_written(settings, files_before) -> bool:
    files = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    counts = (Submission.objects.count(), Media.objects.count(), AnalysisJob.objects.count())
    return counts == (0, 0, 0) and files == files_before


@pytest.mark.parametrize("consent", [None, "unknown"])
def test_images_without_consent_are_refused_when_the_tenant_requires_it(strict, settings, consent):
    before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    fields = {"consent": consent} if consent else {}
    response = strict.submit(
        files=[upload("a.png", png_bytes())], texts=["hi"], analyzers="example", **fields
    )
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "consent_required" and error["details"]["items"] == [0]
    assert "docs/responsible-use.md" in error["message"]
    assert nothing_written(settings, before)


def test_consent_given_is_stored_and_shown_on_submission_and_results(strict):
    response = strict.submit(
        files=[upload("a.png", png_bytes())], analyzers="example", consent="given"
    )
    assert response.status_code == 202, response.content
    assert response.json()["consent"] == "given"
    assert Submission.objects.get().consent == "given"
    detail = strict.client.get(f"/api/v1/submissions/{response.json()['id']}").json()
    assert detail["consent"] == "given"
    assert strict.submit(texts=["no people here"]).status_code == 202  # text needs none


def test_invalid_consent_value_is_a_400_with_a_code(alice):
    response = alice.submit(texts=["x"], consent="maybe")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert Submission.objects.count() == 0


def test_consent_is_in_the_openapi_schema(alice):
    schema = alice.client.get("/api/v1/schema/", {"format": "json"}).json()
    create = schema["components"]["schemas"]["SubmissionCreateRequest"]["properties"]
    assert "consent" in create
    assert "consent" in schema["components"]["schemas"]["Submission"]["properties"]
    spec = schema["components"]["schemas"]["AnalyzerSpec"]["properties"]
    assert {"model_card_url", "infers_emotion_from_faces"} <= set(spec)


def test_analyzers_link_their_model_cards_and_the_cards_are_served(alice, anonymous):
    entries = {e["name"]: e for e in alice.client.get("/api/v1/analyzers").json()}
    facial = entries["facial_emotion"]["model_card_url"]
    assert facial == "/api/v1/analyzers/facial_emotion/model-card"
    card = anonymous.get(facial)
    assert card.status_code == 200 and card["Content-Type"].startswith("text/markdown")
    body = b"".join(card.streaming_content).decode()
    assert body.startswith("# Model card: facial-expression classifiers")
    text = anonymous.get(entries["text_sentiment"]["model_card_url"])
    assert b"".join(text.streaming_content).decode().startswith("# Model card: tweet sentiment")
    assert entries["example"]["model_card_url"] is None
    missing = anonymous.get("/api/v1/analyzers/example/model-card")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    unknown = anonymous.get("/api/v1/analyzers/nope/model-card")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
