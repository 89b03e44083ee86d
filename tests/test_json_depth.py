"""JSON nested 10,000 deep is a 400 wherever JSON comes in (request bodies, analyzer
settings sent as a form string, the signed push endpoint, real-time settings, fetched
API documents), not a RecursionError."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from rest_framework.test import APIClient

from emotionhub.core.errors import DomainError
from emotionhub.core.jsonlimits import MAX_JSON_DEPTH, JsonTooDeep, loads
from emotionhub.jobs.models import Submission
from emotionhub.realtime.policy import parse_settings
from emotionhub.social.models import Post
from emotionhub.social.push import sign
from tests.social.conftest import make_source

pytestmark = pytest.mark.django_db
DEEP = "[" * 10_000 + "]" * 10_000


def deep_object(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def test_deep_json_body_is_a_400_with_the_error_shape(alice):
    body = '{"text": ["hi"], "analyzer_settings": {"text_length": ' + DEEP + "}}"
    response = alice.client.post("/api/v1/submissions", body, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "malformed_request" and "nested deeper than" in error["message"]
    assert not Submission.objects.exists()


def test_deep_json_body_on_another_endpoint(alice):
    body = '{"name": "Launch", "keywords": ' + DEEP + "}"
    response = alice.client.post("/api/v1/brands", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_deep_analyzer_settings_form_string_is_a_400(alice):
    response = alice.submit(texts=["hi"], analyzer_settings=deep_object(10_000))
    assert response.status_code == 400, response.content
    assert "analyzer_settings" in response.json()["error"]["details"]
    assert not Submission.objects.exists()


def test_shallow_settings_still_reach_schema_validation(alice):
    response = alice.submit(
        texts=["hi"], analyzers="text_length", analyzer_settings=json.dumps({"text_length": {}})
    )
    assert response.status_code == 202


def test_deep_push_body_is_refused(alice):
    source = make_source(alice.tenant, "webhook", {})
    body = ('{"posts": [{"id": "x", "text": "t", "images": ' + DEEP + "}]}").encode()
    timestamp, nonce = int(time.time()), secrets.token_hex(16)
    response = APIClient().post(
        f"/api/v1/sources/{source.pk}/push",
        body,
        content_type="application/json",
        headers={
            "X-EmotionHub-Timestamp": str(timestamp),
            "X-EmotionHub-Nonce": nonce,
            "X-EmotionHub-Signature": sign(source.push_secret, timestamp, nonce, body),
        },
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_json"
    assert not Post.objects.exists()


def test_deep_realtime_settings_are_refused():
    with pytest.raises(DomainError) as refused:
        parse_settings(deep_object(10_000))
    assert refused.value.code == "invalid_analyzer_settings"


def test_the_limit_itself():
    assert loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(JsonTooDeep):
        loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    # Brackets inside strings are text, not nesting.
    assert loads(json.dumps({"text": "[" * 10_000})) == {"text": "[" * 10_000}
    # Many shallow arrays are fine.
    assert len(loads(json.dumps([[1]] * 10_000))) == 10_000
