"""The signed push endpoint: signature, timestamp window, nonces, bad bodies, idempotency."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from rest_framework.test import APIClient

from emotionhub.jobs.models import AnalysisJob
from emotionhub.social.models import Post, PushNonce, Source, SourceRun
from emotionhub.social.push import sign
from tests.social.conftest import Reply, jpeg_bytes, make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(alice) -> Source:
    return make_source(alice.tenant, "webhook", {})


def push(source: Source, payload, *, secret=None, timestamp=None, nonce=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_hex(16)
    headers = {
        "X-EmotionHub-Timestamp": str(timestamp),
        "X-EmotionHub-Nonce": nonce,
        "X-EmotionHub-Signature": sign(secret or source.push_secret, timestamp, nonce, body),
    }
    return APIClient().post(
        f"/api/v1/sources/{source.pk}/push",
        body,
        content_type="application/json",
        headers=headers,
    )


def nothing_written() -> bool:
    return not (Post.objects.exists() or PushNonce.objects.exists() or SourceRun.objects.exists())


def test_a_push_creates_posts_and_jobs(hook, upstream):
    upstream.routes["/p.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    payload = {
        "posts": [
            {
                "id": "p1",
                "text": "What a lovely day",
                "author": "ann",
                "url": "https://example.com/p1",
                "posted_at": "2026-11-01T10:00:00Z",
                "images": [upstream.url + "/p.jpg"],
            },
            {"id": 2, "text": "second"},
        ]
    }
    response = push(hook, payload)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["received"], body["created"], body["duplicates"]) == (2, 2, 0)
    assert [p["status"] for p in body["posts"]] == ["created", "created"]
    post = Post.objects.get(external_id="p1")
    assert post.author == "ann" and post.posted_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert sorted(post.media.values_list("kind", flat=True)) == ["image", "text"]
    assert AnalysisJob.objects.filter(media__source_post=post).count() == 3
    run = SourceRun.objects.get()
    assert run.trigger == "push" and run.status == "succeeded" and run.new == 2


def test_a_repeated_post_is_idempotent(hook):
    payload = {"posts": [{"id": "same", "text": "once"}]}
    assert push(hook, payload).status_code == 201
    again = push(hook, payload)  # a fresh nonce: a legitimate retry of the same post
    assert again.status_code == 200
    assert again.json()["duplicates"] == 1 and again.json()["posts"][0]["status"] == "duplicate"
    assert Post.objects.count() == 1 and AnalysisJob.objects.count() == 2


def test_a_replayed_nonce_is_refused(hook):
    payload = {"posts": [{"id": "a", "text": "x"}]}
    now = int(time.time())
    assert push(hook, payload, nonce="n" * 20, timestamp=now).status_code == 201
    replay = push(hook, payload, nonce="n" * 20, timestamp=now)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "replayed_nonce"
    assert SourceRun.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"secret": "wrong"}, 401, "invalid_signature"),
        ({"timestamp": int(time.time()) - 3600}, 401, "stale_timestamp"),
        ({"timestamp": int(time.time()) + 3600}, 401, "stale_timestamp"),
        ({"nonce": "short"}, 400, "invalid_nonce"),
        ({"raw": b"{not json"}, 400, "invalid_json"),
        ({"raw": b'{"items": []}'}, 400, "invalid_push"),
        ({"raw": b'{"posts": []}'}, 400, "no_items"),
        ({"raw": b'{"posts": [{"text": "no id"}]}'}, 400, "invalid_push"),
        ({"raw": b'{"posts": [{"id": "x"}]}'}, 400, "invalid_push"),
        (
            {"raw": b'{"posts": [{"id": "x", "text": "t", "images": ["file:///x"]}]}'},
            400,
            "invalid_push",
        ),
        (
            {"raw": b'{"posts": [{"id": "x", "text": "t", "posted_at": "soon"}]}'},
            400,
            "invalid_push",
        ),
        ({"raw": b'{"posts": [{"id": "x", "text": "t", "mood": 1}]}'}, 400, "invalid_push"),
        # PostgreSQL refuses U+0000 in text: a 500 at the INSERT before.
        ({"raw": b'{"posts": [{"id": "x", "text": "a\\u0000b"}]}'}, 400, "invalid_push"),
        ({"raw": b'{"posts": [{"id": "x\\u0000", "text": "t"}]}'}, 400, "invalid_push"),
    ],
)
def test_bad_pushes_get_a_clear_error_and_write_nothing(hook, kwargs, status, code):
    response = push(hook, {"posts": [{"id": "ok", "text": "fine"}]}, **kwargs)
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert nothing_written()


def test_a_tampered_body_fails_the_signature(hook):
    body = json.dumps({"posts": [{"id": "a", "text": "x"}]}).encode()
    timestamp, nonce = int(time.time()), secrets.token_hex(16)
    response = APIClient().post(
        f"/api/v1/sources/{hook.pk}/push",
        body.replace(b'"x"', b'"y"'),
        content_type="application/json",
        headers={
            "X-EmotionHub-Timestamp": str(timestamp),
            "X-EmotionHub-Nonce": nonce,
            "X-EmotionHub-Signature": sign(hook.push_secret, timestamp, nonce, body),
        },
    )
    assert response.status_code == 401 and nothing_written()


def test_missing_headers_unknown_and_disabled_sources(hook, alice):
    response = APIClient().post(
        f"/api/v1/sources/{hook.pk}/push", b"{}", content_type="application/json"
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "signature_missing"
    fetched = make_source(alice.tenant, "rss", {"url": "https://example.com/feed"})
    assert push(fetched, {"posts": []}).status_code == 404
    Source.objects.filter(pk=hook.pk).update(enabled=False)
    hook.refresh_from_db()
    disabled = push(hook, {"posts": [{"id": "a", "text": "x"}]})
    assert disabled.status_code == 403 and disabled.json()["error"]["code"] == "source_disabled"
    assert nothing_written()


def test_an_image_refused_by_the_address_policy_leaves_the_post(hook, default_policy):
    response = push(
        hook, {"posts": [{"id": "a", "text": "x", "images": ["http://10.0.0.1/a.jpg"]}]}
    )
    assert response.status_code == 201
    assert Post.objects.get().skipped_media[0]["code"] == "unsafe_url"
