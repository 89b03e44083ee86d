"""Submitting media over the API: what is created, and bad input that must leave nothing."""

from __future__ import annotations

import json

import pytest

from emotionhub.jobs.models import AnalysisJob, Submission
from emotionhub.media.models import Media
from tests.conftest import png_bytes, upload


def row_counts() -> tuple[int, int, int]:
    return Submission.objects.count(), Media.objects.count(), AnalysisJob.objects.count()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def test_image_and_text_batch_creates_one_job_per_item_and_accepting_analyzer(alice):
    response = alice.submit(
        files=[upload("face.png", png_bytes())],
        texts=["what a lovely day"],
        analyzers="example,text_length",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert response["Location"] == f"/api/v1/submissions/{body['id']}"
    image, text = sorted(body["items"], key=lambda item: item["kind"])
    assert (image["kind"], image["width"], image["height"]) == ("image", 64, 48)
    assert [job["analyzer"] for job in image["jobs"]] == ["example"]
    assert text["text"] == "what a lovely day"
    assert sorted(job["analyzer"] for job in text["jobs"]) == ["example", "text_length"]
    assert {job["status"] for job in image["jobs"] + text["jobs"]} == {"queued"}


def test_default_analyzers_are_all_enabled_that_accept_the_kind(alice):
    response = alice.submit(files=[upload("x.png", png_bytes())])
    assert response.status_code == 202
    (item,) = response.json()["items"]
    assert sorted(job["analyzer"] for job in item["jobs"]) == [
        "broken",
        "crasher",
        "example",
        "facial_emotion",
        "flaky",
        "image_sentiment",
        "slow",
    ]


def test_content_sniffing_ignores_the_file_name(alice):
    response = alice.submit(files=[upload("photo.jpg", b"just some words\n")])
    assert response.status_code == 202
    (item,) = response.json()["items"]
    assert (item["kind"], item["mime"], item["text"]) == ("text", "text/plain", "just some words\n")


def test_json_text_submission(alice):
    response = alice.client.post(
        "/api/v1/submissions",
        {
            "text": ["good", "bad"],
            "analyzers": ["text_length"],
            "analyzer_settings": {"text_length": {"ignore_whitespace": True}},
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    jobs = [job for item in response.json()["items"] for job in item["jobs"]]
    assert [job["settings"] for job in jobs] == [{"ignore_whitespace": True}] * 2


BAD_REQUESTS = [
    ("no items", {}, 400, "no_items"),
    ("empty file", {"file": [("empty.png", b"")]}, 400, "empty_file"),
    ("unknown analyzer", {"text": ["hi"], "analyzers": "example,nope"}, 400, "unknown_analyzer"),
    ("wrong field", {"text": ["hi"], "colour": "blue"}, 400, "unknown_field"),
    ("binary junk", {"file": [("x.bin", b"\x00\x01\x02\xff" * 10)]}, 415, "unsupported_media_type"),
    ("corrupt png", {"file": [("x.png", png_bytes()[:60])]}, 400, "corrupt_image"),
    (
        "corrupt video",
        {"file": [("x.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)]},
        400,
        "corrupt_video",
    ),
    ("blank text", {"text": ["   "]}, 400, "empty_text"),
    (
        "kind nobody accepts",
        {"file": [("x.png", None)], "analyzers": "text_length"},
        400,
        "no_analyzer_for_kind",
    ),
    (
        "bad settings",
        {
            "text": ["hi"],
            "analyzers": "text_length",
            "analyzer_settings": json.dumps({"text_length": {"colour": 1}}),
        },
        400,
        "invalid_analyzer_settings",
    ),
    (
        "settings for unused analyzer",
        {
            "text": ["hi"],
            "analyzers": "text_length",
            "analyzer_settings": json.dumps({"example": {}}),
        },
        400,
        "invalid_analyzer_settings",
    ),
    ("settings not json", {"text": ["hi"], "analyzer_settings": "{nope"}, 400, "invalid_request"),
    (
        "webhook not http",
        {"text": ["hi"], "webhook_url": "ftp://example.com/x"},
        400,
        "invalid_webhook_url",
    ),
]


@pytest.mark.parametrize(
    ("label", "fields", "status", "code"), BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS]
)
def test_bad_input_gets_4xx_with_code_and_leaves_no_rows(alice, label, fields, status, code):
    files = [
        upload(name, data if data is not None else png_bytes())
        for name, data in fields.pop("file", [])
    ]
    # A valid image first proves nothing of the batch is kept when a later item is bad.
    if files:
        files.insert(0, upload("good.png", png_bytes()))
    before = row_counts()
    response = alice.submit(files=files, texts=fields.pop("text", []), **fields)
    assert_error(response, status, code)
    assert row_counts() == before


def test_oversized_image_pixels_refused_without_decoding(alice, settings):
    settings.EMOTIONHUB_MAX_IMAGE_PIXELS = 1000
    response = alice.submit(files=[upload("big.png", png_bytes(size=(100, 100)))])
    assert_error(response, 413, "image_too_large")
    assert row_counts() == (0, 0, 0)


def test_too_many_items(alice, settings):
    settings.EMOTIONHUB_MAX_ITEMS_PER_SUBMISSION = 2
    assert_error(alice.submit(texts=["a", "b", "c"]), 400, "too_many_items")


def test_no_stored_files_are_left_after_a_rejected_batch(alice, settings):
    before = sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    response = alice.submit(
        files=[upload("a.png", png_bytes()), upload("b.png", png_bytes())],
        analyzers="example",
        analyzer_settings=json.dumps({"example": {"x": 1}}),
    )
    assert response.status_code == 400
    assert sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()) == before


def test_missing_and_wrong_credentials(anonymous, alice):
    assert_error(anonymous.get("/api/v1/jobs"), 401, "not_authenticated")
    anonymous.credentials(HTTP_AUTHORIZATION="Api-Key ehk_wrong")
    assert_error(anonymous.get("/api/v1/jobs"), 401, "authentication_failed")


def test_read_only_key_cannot_submit(db):
    from tests.conftest import TenantClient

    reader = TenantClient("reader", scopes=("read",))
    assert reader.client.get("/api/v1/submissions").status_code == 200
    assert_error(reader.submit(texts=["hi"]), 403, "permission_denied")


def test_unknown_api_path_is_json_404(alice):
    assert_error(alice.client.get("/api/v1/nothing-here"), 404, "not_found")


class TestIdempotency:
    def test_same_key_returns_the_first_submission(self, alice):
        headers = {"Idempotency-Key": "order-42"}
        first = alice.submit(texts=["hello"], analyzers="text_length", headers=headers)
        again = alice.submit(texts=["hello"], analyzers="text_length", headers=headers)
        assert (first.status_code, again.status_code) == (202, 200)
        assert again["Idempotent-Replayed"] == "true"
        assert first.json()["id"] == again.json()["id"]
        assert row_counts() == (1, 1, 1)

    def test_same_key_with_other_content_is_refused(self, alice):
        headers = {"Idempotency-Key": "order-43"}
        alice.submit(texts=["hello"], analyzers="text_length", headers=headers)
        response = alice.submit(texts=["goodbye"], analyzers="text_length", headers=headers)
        assert_error(response, 422, "idempotency_key_reused")
        assert row_counts() == (1, 1, 1)

    def test_keys_are_per_tenant(self, alice, bob):
        headers = {"Idempotency-Key": "shared"}
        a = alice.submit(texts=["x"], analyzers="text_length", headers=headers)
        b = bob.submit(texts=["x"], analyzers="text_length", headers=headers)
        assert (a.status_code, b.status_code) == (202, 202)
        assert a.json()["id"] != b.json()["id"]


def test_lists_paginate_filter_and_order(alice):
    for word in ["one", "two", "three"]:
        alice.submit(texts=[word], analyzers="example,text_length")
    page = alice.client.get("/api/v1/jobs", {"page_size": 2, "analyzer": "text_length"}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    media = alice.client.get("/api/v1/media", {"ordering": "created_at", "kind": "text"}).json()
    assert [m["text"] for m in media["results"]] == ["one", "two", "three"]
    queued = alice.client.get("/api/v1/jobs", {"status": "queued"}).json()
    assert queued["count"] == 6
    assert alice.client.get("/api/v1/jobs", {"status": "bogus"}).status_code == 400


def test_cancel_a_queued_job(alice):
    body = alice.submit(texts=["x"], analyzers="text_length").json()
    job_id = body["items"][0]["jobs"][0]["id"]
    response = alice.client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    submission = alice.client.get(f"/api/v1/submissions/{body['id']}").json()
    assert submission["status"] == "cancelled" and submission["finished_at"]
    assert_error(alice.client.post(f"/api/v1/jobs/{job_id}/cancel"), 409, "not_cancellable")


def test_delete_media_removes_file_and_rows(alice, settings, django_capture_on_commit_callbacks):
    body = alice.submit(files=[upload("a.png", png_bytes())], analyzers="example").json()
    media_id = body["items"][0]["id"]
    media = Media.objects.get(pk=media_id)
    path = settings.MEDIA_ROOT / media.file.name
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.client.delete(f"/api/v1/media/{media_id}").status_code == 204
    assert not path.exists()
    assert not AnalysisJob.objects.filter(media_id=media_id).exists()


def test_analyzers_endpoint_lists_specs(alice, settings):
    specs = alice.client.get("/api/v1/analyzers").json()
    names = [spec["name"] for spec in specs]
    assert names == sorted(settings.EMOTIONHUB_ANALYZERS)
    assert {"example", "facial_emotion", "text_sentiment"} <= set(names)
    example = alice.client.get("/api/v1/analyzers/example").json()
    assert example["media_kinds"] == ["image", "text"] and example["max_batch_size"] == 8
    assert example["queue"] == "analysis_cpu" and example["result_schema"]["type"] == "object"
    assert_error(alice.client.get("/api/v1/analyzers/nope"), 404, "not_found")


def test_expired_and_revoked_keys_are_refused(alice):
    from datetime import timedelta

    from django.utils import timezone

    alice.key.expires_at = timezone.now() - timedelta(seconds=1)
    alice.key.save()
    assert_error(alice.client.get("/api/v1/jobs"), 401, "authentication_failed")
    alice.key.expires_at, alice.key.revoked_at = None, timezone.now()
    alice.key.save()
    assert_error(alice.client.get("/api/v1/jobs"), 401, "authentication_failed")


def test_private_webhook_addresses_are_refused_unless_allowed(alice, settings):
    settings.EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE = False
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest",
    ]:
        response = alice.submit(texts=["x"], webhook_url=url)
        assert_error(response, 400, "invalid_webhook_url")
    assert row_counts() == (0, 0, 0)


def _clip(tmp_path, seconds: float, suffix: str = ".mp4") -> bytes:
    pytest.importorskip("cv2")
    from ml.tests.videos import photo, write_video

    return write_video(tmp_path / f"clip{suffix}", [(photo("obama.jpg"), seconds)]).read_bytes()


@pytest.mark.parametrize(("suffix", "mime"), [(".mp4", "video/mp4"), (".webm", "video/webm")])
def test_video_upload_is_probed(alice, tmp_path, suffix, mime):
    response = alice.submit(files=[upload("holiday.bin", _clip(tmp_path, 2.0, suffix))])
    assert response.status_code == 202, response.content
    (item,) = response.json()["items"]
    assert (item["kind"], item["mime"]) == ("video", mime)
    assert (item["width"], item["height"]) == (320, 240)
    assert item["duration_seconds"] == pytest.approx(2.0, abs=0.15)
    assert "facial_emotion" in [job["analyzer"] for job in item["jobs"]]


def test_video_probed_from_a_temporary_upload_file(alice, tmp_path, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # Django spools the upload to disk
    response = alice.submit(files=[upload("clip.mp4", _clip(tmp_path, 2.0))])
    assert response.status_code == 202, response.content
    assert response.json()["items"][0]["duration_seconds"] == pytest.approx(2.0, abs=0.15)


def test_video_without_recorded_duration_is_accepted_unmeasured(alice, tmp_path, settings):
    """Browsers' live WebM has no duration; finding it would mean decoding the upload."""
    pytest.importorskip("cv2")
    from ml.tests.videos import photo, without_duration, write_video

    settings.EMOTIONHUB_MAX_VIDEO_SECONDS = 1.0
    clip = without_duration(write_video(tmp_path / "live.webm", [(photo("obama.jpg"), 2.0)]))
    response = alice.submit(files=[upload("live.webm", clip.read_bytes())])
    assert response.status_code == 202, response.content
    (item,) = response.json()["items"]
    assert item["kind"] == "video" and item["duration_seconds"] is None


def test_too_long_video_is_refused_and_leaves_nothing(alice, tmp_path, settings):
    settings.EMOTIONHUB_MAX_VIDEO_SECONDS = 1.0
    before = row_counts()
    response = alice.submit(files=[upload("long.mp4", _clip(tmp_path, 2.0))])
    assert_error(response, 413, "video_too_long")
    assert row_counts() == before
