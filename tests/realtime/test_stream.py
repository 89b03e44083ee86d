"""The /api/v1/stream WebSocket through the real ASGI app (channels' WebsocketCommunicator)
with the real facial_emotion weights on real photographs: auth, purpose, consent, limits,
bad frames, a client leaving mid-frame, flooding, tracking and micro-batching."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import statistics

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from PIL import Image
from rest_framework.test import APIClient

from emotionhub.accounts.models import ApiKey, TenantMembership
from emotionhub.audit.models import AuditEvent
from emotionhub.limits.models import DailyItemUsage
from tests.conftest import TenantClient
from tests.realtime.conftest import PHOTOS, webcam_frame

pytest.importorskip("torch")
pytest.importorskip("cv2")
pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60  # seconds for one answer: the first frame of a process loads the models


def app():
    from emotionhub.asgi import application

    return application


#: Communicators opened by the running scenario; ``run`` closes those still open.
_opened: list[WebsocketCommunicator] = []


def communicator(path="/api/v1/stream", key: str | None = None, headers=()):
    headers = list(headers)
    if key:
        headers.append((b"authorization", f"Api-Key {key}".encode()))
    comm = WebsocketCommunicator(app(), path, headers=headers)
    _opened.append(comm)
    return comm


def shifted_frame(dx: int) -> bytes:
    """The 640x480 webcam frame with the portrait moved ``dx`` px: a face that moves."""
    with Image.open(PHOTOS / "obama.jpg") as portrait:
        portrait = portrait.convert("RGB")
        portrait.thumbnail((640, 480))
        canvas = Image.new("RGB", (640, 480), (128, 128, 128))
        canvas.paste(portrait, (100 + dx, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


async def connect(comm) -> dict:
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    return await comm.receive_json_from(timeout=TIMEOUT)


async def refused(comm) -> tuple[dict, int]:
    """The error message and the close code of a refused connection."""
    error = await connect(comm)
    closing = await comm.receive_output(timeout=TIMEOUT)
    assert closing["type"] == "websocket.close"
    return error, closing["code"]


async def next_result(comm) -> dict:
    while True:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        if message["type"] in ("result", "error"):
            return message


async def _close_left_open() -> None:
    """Disconnect (or cancel, after 1 s) every stream the scenario left open: a consumer
    still waiting on the channel layer's blocking pop would otherwise outlive the event
    loop ``async_to_sync`` closes, and hold the test until the socket's read timeout."""
    while _opened:
        comm = _opened.pop()
        if comm._future is not None and not comm._future.done():
            await comm.disconnect()


def run(make_coroutine):
    """Run ``make_coroutine()`` (an async function or a lambda returning a coroutine)."""

    async def scenario():
        try:
            return await make_coroutine()
        finally:
            await _close_left_open()

    return async_to_sync(scenario)()


# ---- a real stream ------------------------------------------------------------------------
def test_a_moving_face_keeps_its_track_id_and_gets_smoothed_emotions(alice):
    async def scenario():
        comm = communicator(key=alice.raw_key)
        ready = await connect(comm)
        assert ready["type"] == "ready" and ready["analyzers"] == ["facial_emotion"]
        assert ready["analyzer_settings"] == {"facial_emotion": {"min_face_px": 64}}
        answers = []
        for dx in (0, 6, 12, 18, 24):
            await comm.send_to(bytes_data=shifted_frame(dx))
            answers.append(await next_result(comm))
        await comm.disconnect()
        return answers

    answers = run(scenario)
    assert [a["type"] for a in answers] == ["result"] * 5
    assert [a["seq"] for a in answers] == [1, 2, 3, 4, 5]
    track_ids = {face["track_id"] for a in answers for face in a["faces"]}
    assert all(len(a["faces"]) == 1 for a in answers) and len(track_ids) == 1
    boxes = [a["faces"][0]["box"][0] for a in answers]
    assert boxes == sorted(boxes) and boxes[-1] - boxes[0] > 15  # it did move
    from ml.shipped import DEFAULT_MODEL

    for answer in answers:
        face = answer["faces"][0]
        assert face["label"] == "happy" and face["smoothed"]["label"] == "happy"
        assert sum(face["smoothed"]["emotions"].values()) == pytest.approx(1, abs=1e-3)
        assert answer["dropped"] == 0 and answer["latency_ms"] > 0
        assert answer["inference_ms"] > 0 and answer["batch_size"] >= 1
        assert answer["device"] == "cpu"
        assert answer["model_version"].startswith(f"{DEFAULT_MODEL}:")
        assert answer["results"][0]["payload"]["face_count"] == 1
    # The first frame's smoothed values are its own; later ones lie between frame values.
    first = answers[0]["faces"][0]
    assert first["smoothed"]["emotions"] == first["emotions"]
    # Five frames = five items; the stream is in the audit log, opened and closed.
    assert DailyItemUsage.objects.get(api_key=alice.key).items == 5
    events = AuditEvent.objects.filter(tenant=alice.tenant, obj_type="stream").order_by("id")
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].details["analysed"] == 5 and events[1].details["dropped"] == 0
    assert events[0].actor_key_id == alice.key.pk and events[0].path == "/api/v1/stream"


def test_json_frames_carry_the_clients_sequence_number(alice):
    async def scenario():
        comm = communicator(key=alice.raw_key)
        await connect(comm)
        data = base64.b64encode(webcam_frame("biden.jpg")).decode()
        await comm.send_to(text_data=json.dumps({"seq": 41, "image": data}))
        first = await next_result(comm)
        await comm.send_to(
            text_data=json.dumps({"seq": 42, "image": f"data:image/jpeg;base64,{data}"})
        )
        second = await next_result(comm)
        await comm.disconnect()
        return first, second

    first, second = run(scenario)
    assert (first["seq"], second["seq"]) == (41, 42)
    assert len(first["faces"]) == 1 and first["faces"][0]["track_id"] == 1
    assert second["faces"][0]["track_id"] == 1


# ---- credentials ---------------------------------------------------------------------------
def test_auth_failures_close_with_4401_or_4403(db):
    reader = TenantClient("reader", scopes=("read",))

    async def scenario():
        return [
            await refused(communicator()),
            await refused(communicator(key="ehk_not-a-key")),
            await refused(communicator("/api/v1/stream?token=forged")),
            await refused(communicator(key=reader.raw_key)),
        ]

    results = run(scenario)
    assert [code for _, code in results] == [4401, 4401, 4401, 4403]
    none, bad_key, bad_token, scope = (error for error, _ in results)
    assert none["code"] == "not_authenticated"
    assert bad_key["code"] == bad_token["code"] == "authentication_failed"
    assert scope["code"] == "permission_denied"


def test_stream_tokens_are_short_lived_and_single_use(alice, settings):
    response = alice.client.post("/api/v1/stream-tokens")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["expires_in"] == 60 and body["stream_url"].endswith(body["token"])

    async def scenario():
        ready = await connect(communicator(body["stream_url"]))
        await asyncio.sleep(0)
        again = await refused(communicator(body["stream_url"]))
        return ready, again

    ready, (again, code) = run(scenario)
    assert ready["type"] == "ready"
    assert (again["code"], code) == ("authentication_failed", 4401)
    assert "already used" in again["message"]
    settings.EMOTIONHUB_STREAM_TOKEN_SECONDS = -1  # every token is already expired
    token = alice.client.post("/api/v1/stream-tokens").json()["token"]
    expired, code = run(lambda: refused(communicator(f"/api/v1/stream?token={token}")))
    assert code == 4401 and "expired" in expired["message"]
    # A revoked key's tokens stop working.
    settings.EMOTIONHUB_STREAM_TOKEN_SECONDS = 60
    token = alice.client.post("/api/v1/stream-tokens").json()["token"]
    ApiKey.objects.filter(pk=alice.key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    revoked, code = run(lambda: refused(communicator(f"/api/v1/stream?token={token}")))
    assert code == 4401 and "revoked" in revoked["message"]


def test_a_signed_in_member_gets_a_token_for_the_demo_page(alice):
    user = get_user_model().objects.create_user("member", password="pw")
    TenantMembership.objects.create(user=user, tenant=alice.tenant, scopes=["read", "submit"])
    browser = APIClient()
    browser.force_login(user)
    response = browser.post("/api/v1/stream-tokens")
    assert response.status_code == 201, response.content
    ready = run(lambda: connect(communicator(response.json()["stream_url"])))
    assert ready["type"] == "ready"
    assert APIClient().post("/api/v1/stream-tokens").status_code == 401


# ---- the tenant's rules ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("purpose", "code"), [("workplace", "purpose_prohibited"), ("undeclared", "purpose_undeclared")]
)
def test_the_purpose_guard_refuses_the_stream(db, purpose, code):
    client = TenantClient(f"s-{purpose}", purpose=purpose)
    error, close_code = run(lambda: refused(communicator(key=client.raw_key)))
    assert (error["code"], close_code) == (code, 4403)
    assert "docs/responsible-use.md" in error["message"]
    assert not AuditEvent.objects.filter(tenant=client.tenant, obj_type="stream").exists()


async def forbid_and_await_closing(comm, tenant) -> tuple[dict, dict]:
    """Change ``tenant``'s purpose to one that rules the stream out; the stream's error
    message and its close frame."""

    def forbid():
        tenant.purpose = "education"
        tenant.save()

    await database_sync_to_async(forbid)()
    error = await comm.receive_json_from(timeout=TIMEOUT)
    closing = await comm.receive_output(timeout=TIMEOUT)
    return error, closing


def test_a_purpose_change_closes_live_streams(alice):
    async def scenario():
        comm = communicator(key=alice.raw_key)
        await connect(comm)
        return await forbid_and_await_closing(comm, alice.tenant)

    error, closing = run(scenario)
    assert error["code"] == "purpose_prohibited" and closing["code"] == 4403


@pytest.mark.services
def test_a_stream_idle_longer_than_the_channel_layers_blocking_pop_stays_open(alice):
    """The consumer waits for channel messages with channels-redis's blocking pop: a stream
    with nothing to say for longer than that still answers frames and still gets its
    tenant's purpose recheck (before: redis-py 8's 5 s read timeout closed it)."""
    from channels_redis.core import RedisChannelLayer

    async def scenario():
        comm = communicator(key=alice.raw_key)
        await connect(comm)
        # The idle time is what is tested: nothing crosses the channel layer meanwhile.
        await asyncio.sleep(RedisChannelLayer.brpop_timeout + 1.5)
        await comm.send_to(bytes_data=webcam_frame())
        answer = await next_result(comm)
        return answer, *await forbid_and_await_closing(comm, alice.tenant)

    answer, error, closing = run(scenario)
    assert answer["type"] == "result" and len(answer["faces"]) == 1
    assert error["code"] == "purpose_prohibited" and closing["code"] == 4403


def test_not_realtime_analyzers_bad_options_and_consent(db):
    client = TenantClient("consent", require_consent=True)
    base = "/api/v1/stream?"

    async def scenario():
        return [
            await refused(communicator(base + "analyzers=example&consent=given", client.raw_key)),
            await refused(communicator(base + "analyzer_settings={&consent=given", client.raw_key)),
            await refused(communicator(base, client.raw_key)),
            await connect(communicator(base + "consent=given", client.raw_key)),
        ]

    (slow, c1), (bad, c2), (consent, c3), ready = run(scenario)
    assert (slow["code"], c1) == ("not_realtime", 4400)
    assert (bad["code"], c2) == ("invalid_analyzer_settings", 4400)
    assert (consent["code"], c3) == ("consent_required", 4422)
    assert ready["type"] == "ready"


def test_quota_counts_frames_and_the_rate_limit_counts_connections(alice):
    ApiKey.objects.filter(pk=alice.key.pk).update(daily_item_quota=2, rate_limit_per_minute=2)

    async def scenario():
        comm = communicator(key=alice.raw_key)
        await connect(comm)
        answers = []
        for _ in range(3):
            await comm.send_to(bytes_data=webcam_frame())
            answers.append(await next_result(comm))
        closing = await comm.receive_output(timeout=TIMEOUT)
        await connect(communicator(key=alice.raw_key))  # the second connection of the minute
        third = await refused(communicator(key=alice.raw_key))
        return answers, closing, third

    answers, closing, (limited, code) = run(scenario)
    assert [a["type"] for a in answers] == ["result", "result", "error"]
    assert answers[2]["code"] == "quota_exceeded" and closing["code"] == 4429
    assert DailyItemUsage.objects.get(api_key=alice.key).items == 2
    assert (limited["code"], code) == ("rate_limited", 4429)


# ---- bad frames, leaving, flooding -----------------------------------------------------------
def test_bad_frames_get_upload_codes_and_the_stream_goes_on(alice, settings):
    settings.EMOTIONHUB_REALTIME_MAX_FRAME_BYTES = 200_000
    good = webcam_frame()
    big = Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3))  # noise: no compression
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    oversized = buffer.getvalue()
    assert len(oversized) > 200_000

    async def scenario():
        comm = communicator(key=alice.raw_key)
        await connect(comm)
        answers = []
        for frame in (oversized, good[:3000], b"GIF89a not really", good):
            await comm.send_to(bytes_data=frame)
            answers.append(await next_result(comm))
        await comm.send_to(text_data="{not json")
        answers.append(await next_result(comm))
        await comm.send_to(text_data=json.dumps({"seq": 9, "image": "***"}))
        answers.append(await next_result(comm))
        await comm.disconnect()
        return answers

    answers = run(scenario)
    codes = [a.get("code") for a in answers]
    assert codes == [
        "file_too_large",
        "corrupt_image",
        "unsupported_media_type",
        None,
        "malformed_request",
        "malformed_request",
    ]
    assert [a["seq"] for a in answers[:4]] == [1, 2, 3, 4]
    assert answers[3]["type"] == "result" and len(answers[3]["faces"]) == 1
    assert DailyItemUsage.objects.get(api_key=alice.key).items == 1  # only the good frame


def test_a_client_leaving_mid_frame_breaks_nothing(alice):
    async def scenario():
        comm = communicator(key=alice.raw_key)
        await connect(comm)
        await comm.send_to(bytes_data=webcam_frame())
        await comm.send_to(bytes_data=webcam_frame("obama2.jpg"))
        await comm.disconnect()  # while the first frame is being analysed
        comm = communicator(key=alice.raw_key)
        await connect(comm)
        await comm.send_to(bytes_data=webcam_frame("biden.jpg"))
        answer = await next_result(comm)
        await comm.disconnect()
        return answer

    answer = run(scenario)
    assert answer["type"] == "result" and len(answer["faces"]) == 1
    closed = AuditEvent.objects.filter(tenant=alice.tenant, obj_type="stream", action="update")
    assert closed.count() == 2


def test_a_flooding_client_gets_the_newest_frame_analysed_and_drops_reported(alice):
    frames = [shifted_frame(dx % 20) for dx in range(40)]

    async def scenario():
        comm = communicator(key=alice.raw_key)
        await connect(comm)
        for frame in frames:  # as fast as the socket takes them
            await comm.send_to(bytes_data=frame)
        answers = []
        while not answers or answers[-1]["seq"] != len(frames):
            answers.append(await next_result(comm))
        await comm.disconnect()
        return answers

    answers = run(scenario)
    assert all(a["type"] == "result" for a in answers)
    assert answers[-1]["seq"] == 40  # the newest frame is always analysed
    assert len(answers) < 40 and sum(a["dropped"] for a in answers) == 40 - len(answers)
    assert answers[-1]["dropped_total"] == 40 - len(answers)
    # Bounded latency: frames are dropped, not queued; the newest one waits for at most
    # the analysis in progress, not for the 39 before it.
    inference = statistics.median(a["inference_ms"] for a in answers)
    assert answers[-1]["latency_ms"] < 6 * inference + 1000
    assert {f["track_id"] for a in answers for f in a["faces"]} == {1}


def test_concurrent_streams_share_micro_batches(db, settings):
    settings.EMOTIONHUB_REALTIME_BATCH_WAIT_MS = 1000.0  # a wide window: batching is certain
    settings.EMOTIONHUB_REALTIME_LATENCY_BUDGET_MS = 0  # and no cap from a slow CPU
    clients = [TenantClient(f"batch{i}") for i in range(3)]

    async def one(client):
        comm = communicator(key=client.raw_key)
        await connect(comm)
        answers = []
        for _ in range(3):  # after the first frame the batcher knows the stream is active
            await comm.send_to(bytes_data=webcam_frame())
            answers.append(await next_result(comm))
        await comm.disconnect()
        return answers

    async def scenario():
        return await asyncio.gather(*(one(c) for c in clients))

    answers = [a for stream in run(scenario) for a in stream]
    assert all(len(a["faces"]) == 1 for a in answers)
    assert max(a["batch_size"] for a in answers) >= 2
    # Frames of one batch get what each alone would get.
    alone = [a for a in answers if a["batch_size"] == 1] or answers[:1]
    for answer in answers:
        assert answer["faces"][0]["emotions"] == pytest.approx(
            alone[0]["faces"][0]["emotions"], abs=2e-4
        )


def test_the_latency_budget_caps_batches_by_the_measured_frame_time(settings):
    from emotionhub.realtime.engine import batcher

    facial = batcher("facial_emotion")
    measured = facial.per_frame_ms
    try:
        settings.EMOTIONHUB_REALTIME_LATENCY_BUDGET_MS = 200
        facial.per_frame_ms = 45.0  # a busy CPU: four frames fit
        assert facial.batch_limit() == 4
        facial.per_frame_ms = 500.0  # slower than the budget: one frame at a time
        assert facial.batch_limit() == 1
        facial.per_frame_ms = 2.0  # CUDA: the analyzer's batch size
        assert facial.batch_limit() == facial.max_batch == 16
        settings.EMOTIONHUB_REALTIME_LATENCY_BUDGET_MS = 0
        facial.per_frame_ms = 500.0
        assert facial.batch_limit() == 16
    finally:
        facial.per_frame_ms = measured
