"""POST /api/v1/analyze with the real facial_emotion weights on real photographs: the
answer is what the async job would store, nothing is stored, and the submission rules
(purpose, consent, quota, rate limit, audit, upload error codes) apply."""

from __future__ import annotations

import io
import time

import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from emotionhub.accounts.models import ApiKey
from emotionhub.analyzers import registry
from emotionhub.analyzers.contract import Item
from emotionhub.analyzers.runner import run_batch
from emotionhub.audit.models import AuditEvent
from emotionhub.limits.models import DailyItemUsage
from emotionhub.realtime import engine
from tests.conftest import TenantClient, png_bytes
from tests.realtime.conftest import PHOTOS, photo_bytes
from tests.test_api_submissions import assert_error, row_counts
from tests.test_uploads import header_only_png

pytest.importorskip("torch")
pytest.importorskip("cv2")

URL = "/api/v1/analyze"


def post_raw(client: TenantClient, data: bytes, content_type="image/jpeg", query=""):
    return client.client.post(f"{URL}{query}", data, content_type=content_type)


def post_file(client: TenantClient, data: bytes, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("frame.jpg", data, content_type="image/jpeg")
    return client.client.post(URL, {"file": upload, **fields}, format="multipart")


def stored_files(settings) -> list:
    return sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())


def items_used(client: TenantClient) -> int:
    row = DailyItemUsage.objects.filter(api_key=client.key).first()
    return row.items if row else 0


def test_a_portrait_answers_the_stored_payload_with_timing_and_stores_nothing(alice, settings):
    before_rows, before_files = row_counts(), stored_files(settings)
    response = post_file(alice, photo_bytes("obama.jpg"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stored"] is False
    assert body["image"] == {"width": 512, "height": 640, "mime": "image/jpeg"}
    (entry,) = body["results"]
    assert entry["analyzer"] == "facial_emotion" and entry["error"] is None
    assert entry["device"] == "cpu"
    from ml.shipped import DEFAULT_MODEL

    assert entry["model_version"].startswith(f"{DEFAULT_MODEL}:")
    assert len(entry["weights_sha256"]) == 64
    assert entry["batch_size"] >= 1
    payload = entry["payload"]
    spec = registry.get_spec("facial_emotion")
    assert not list(Draft202012Validator(dict(spec.result_schema)).iter_errors(payload))
    (face,) = payload["faces"]
    assert face["label"] == "happy" and face["confidence"] > 0.8  # the broad smile
    assert 0 < body["decode_ms"] <= body["total_ms"]
    assert 0 < body["inference_ms"] <= body["total_ms"]
    # Exactly what a worker would store for this file with the same settings.
    analyzer, _ = registry.loaded_analyzer("facial_emotion")
    item = Item("x", "image", "image/jpeg", PHOTOS / "obama.jpg", settings=entry["settings"])
    (outcome,) = run_batch(analyzer, [item])
    assert outcome.result.payload == payload
    assert outcome.result.model_version == entry["model_version"]
    # Nothing stored; one item of the quota used; the request is in the audit log.
    assert row_counts() == before_rows and stored_files(settings) == before_files
    assert items_used(alice) == 1
    event = AuditEvent.objects.get(tenant=alice.tenant, obj_type="frame")
    assert event.action == "create" and event.count == 1
    assert event.details["analyzers"] == ["facial_emotion"] and event.details["face_count"] == 1


def test_raw_body_with_options_in_the_query_string(alice):
    settings_json = '{"facial_emotion": {"uncertain_below": 1.0, "min_face_px": 40}}'
    response = post_raw(
        alice, photo_bytes("biden.jpg"), query=f"?analyzer_settings={settings_json}"
    )
    assert response.status_code == 200, response.content
    (entry,) = response.json()["results"]
    assert entry["settings"] == {"uncertain_below": 1.0, "min_face_px": 40}
    (face,) = entry["payload"]["faces"]
    assert face["uncertain"] is True  # nothing reaches a confidence of 1.0


def test_png_with_alpha_and_a_frame_without_a_face(alice):
    response = post_raw(alice, photo_bytes("obama_rgba.png"), "image/png")
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["payload"]["face_count"] == 1
    response = post_raw(alice, png_bytes((320, 240)), "image/png")
    assert response.status_code == 200
    assert response.json()["results"][0]["payload"]["faces"] == []


def test_models_load_once_per_process(alice):
    for _ in range(2):
        assert post_raw(alice, photo_bytes("obama2.jpg")).status_code == 200
    first = engine.batcher("facial_emotion")
    assert first is engine.batcher("facial_emotion")
    assert first.analyzer is registry.loaded_analyzer("facial_emotion")[0]
    assert sum(first.batch_sizes.values()) >= 2


@pytest.mark.parametrize(
    ("analyzers", "code"),
    [
        ("example", "not_realtime"),
        ("facial_emotion,example", "not_realtime"),
        ("nope", "unknown_analyzer"),
    ],
)
def test_only_realtime_analyzers_run(alice, analyzers, code):
    response = post_file(alice, photo_bytes(), analyzers=analyzers)
    error = assert_error(response, 400, code)
    if code == "not_realtime":
        assert error["details"] == {"not_realtime": ["example"], "realtime": ["facial_emotion"]}
    assert items_used(alice) == 0


def _jpeg(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 90, 90)).save(buffer, format="JPEG")
    return buffer.getvalue()


class TestBadFrames:
    """The upload codes, never a 500, and no quota used."""

    def test_truncated_jpeg(self, alice):
        assert_error(post_raw(alice, photo_bytes()[:4000]), 400, "corrupt_image")
        assert items_used(alice) == 0

    def test_not_an_image(self, alice):
        assert_error(post_raw(alice, b"%PDF-1.7 not a frame" * 20), 415, "unsupported_media_type")

    def test_gif_is_not_a_live_frame_type(self, alice):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, format="GIF")
        assert_error(post_raw(alice, buffer.getvalue(), "image/gif"), 415, "unsupported_media_type")

    def test_other_body_types(self, alice):
        response = alice.client.post(URL, b"x", content_type="application/octet-stream")
        assert_error(response, 415, "unsupported_media_type")

    def test_too_many_pixels_refused_from_the_header(self, alice):
        error = assert_error(
            post_raw(alice, header_only_png(20_000, 20_000), "image/png"), 413, "image_too_large"
        )
        assert error["details"]["max_pixels"] == 8_294_400
        response = post_raw(alice, header_only_png(4000, 3000), "image/png")
        assert_error(response, 413, "image_too_large")

    def test_too_many_bytes(self, alice, settings):
        settings.EMOTIONHUB_REALTIME_MAX_FRAME_BYTES = 10_000
        assert_error(post_file(alice, photo_bytes()), 413, "file_too_large")
        assert_error(post_raw(alice, photo_bytes()), 413, "file_too_large")

    def test_archive_after_the_jpeg(self, alice):
        assert_error(post_raw(alice, _jpeg() + b"PK\x03\x04" + b"\x00" * 200), 400, "polyglot_file")

    def test_empty_and_missing(self, alice):
        assert_error(post_file(alice, b""), 400, "empty_file")
        assert_error(post_raw(alice, b""), 400, "no_items")  # an empty body is no frame
        assert_error(alice.client.post(URL, {}, format="multipart"), 400, "no_items")

    def test_unknown_field_and_bad_settings(self, alice):
        assert_error(post_file(alice, _jpeg(), colour="red"), 400, "unknown_field")
        response = post_file(alice, _jpeg(), analyzer_settings='{"facial_emotion": {"x": 1}}')
        assert_error(response, 400, "invalid_analyzer_settings")
        assert_error(
            post_file(alice, _jpeg(), analyzer_settings="{"), 400, "invalid_analyzer_settings"
        )
        assert items_used(alice) == 0


@pytest.mark.parametrize(
    ("purpose", "code"),
    [
        ("workplace", "purpose_prohibited"),
        ("education", "purpose_prohibited"),
        ("undeclared", "purpose_undeclared"),
    ],
)
def test_the_purpose_rule_refuses_face_emotion(db, purpose, code):
    client = TenantClient(f"p-{purpose}", purpose=purpose)
    error = assert_error(post_raw(client, photo_bytes()), 403, code)
    assert error["details"]["analyzers"] == ["facial_emotion"]
    assert items_used(client) == 0
    assert not AuditEvent.objects.filter(tenant=client.tenant, obj_type="frame").exists()


def test_consent_policy(db):
    client = TenantClient("consenting", require_consent=True)
    assert_error(post_raw(client, photo_bytes()), 422, "consent_required")
    assert post_raw(client, photo_bytes(), query="?consent=given").status_code == 200
    assert post_file(client, photo_bytes(), consent="not_required").status_code == 200
    assert_error(post_file(client, photo_bytes(), consent="maybe"), 400, "invalid_request")


def test_a_frame_is_one_item_of_the_daily_quota(alice):
    ApiKey.objects.filter(pk=alice.key.pk).update(daily_item_quota=2)
    assert post_raw(alice, photo_bytes()).status_code == 200
    assert post_raw(alice, photo_bytes()).status_code == 200
    error = assert_error(post_raw(alice, photo_bytes()), 429, "quota_exceeded")
    assert error["details"]["quota"] == 2 and items_used(alice) == 2


def test_rate_limit_applies(alice):
    ApiKey.objects.filter(pk=alice.key.pk).update(rate_limit_per_minute=1)
    if time.time() % 60 > 50:  # keep both requests in one fixed window
        time.sleep(60 - time.time() % 60 + 0.1)
    assert post_raw(alice, _jpeg()).status_code == 200
    assert_error(post_raw(alice, _jpeg()), 429, "rate_limited")


def test_credentials_and_scope(db, anonymous):
    assert_error(anonymous.post(URL, _jpeg(), content_type="image/jpeg"), 401, "not_authenticated")
    reader = TenantClient("reader", scopes=("read",))
    assert_error(post_raw(reader, _jpeg()), 403, "permission_denied")


def test_the_schema_documents_the_endpoint(alice):
    schema = alice.client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/analyze"]["post"]
    assert {"multipart/form-data", "image/jpeg", "image/png", "image/webp"} <= set(
        operation["requestBody"]["content"]
    )
    assert {"200", "400", "401", "403", "413", "415", "422", "429", "503"} <= set(
        operation["responses"]
    )
    assert "/api/v1/stream-tokens" in schema["paths"]
