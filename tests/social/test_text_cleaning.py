"""NUL bytes and lone surrogates in upstream text: cleaned before PostgreSQL sees them.

SQLite stores both, so the end-to-end test needs the real database
(``python scripts/testenv.py -- python -m pytest tests/social/test_text_cleaning.py``)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from emotionhub.social import runs
from emotionhub.social.cleaning import storable, storable_text
from emotionhub.social.models import Post, RunStatus
from tests.social.conftest import Reply, make_source
from tests.social.test_connectors import status


@given(st.text())
def test_storable_text_is_utf8_without_nul_and_idempotent(value):
    cleaned = storable_text(value)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # a lone surrogate would raise here
    assert storable_text(cleaned) == cleaned
    if "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        assert cleaned == value


def test_storable_cleans_nested_json():
    assert storable({"a\x00": ["x\ud800", 1, {"b": "\x00"}]}) == {"a": ["x\ufffd", 1, {"b": ""}]}


@pytest.mark.django_db
def test_nul_and_lone_surrogate_in_a_status_reach_postgresql_cleaned(alice, upstream):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (scripts/testenv.py): SQLite stores NUL and surrogates")
    entry = status(1)
    entry["content"] = "<p>happy\u0000 day \ud83d</p>"
    entry["account"]["acct"] = "ann\u0000@mastodon.example"
    # json.dumps writes the lone surrogate as the escape "\ud83d", as a server would.
    body = json.dumps([entry])
    assert "\\ud83d" in body and "\\u0000" in body
    upstream.routes["/api/v1/timelines/tag/cats"] = Reply(body=body)
    source = make_source(alice.tenant, "mastodon", {"instance": upstream.url, "hashtag": "cats"})
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    post = Post.objects.get(source=source)
    assert post.text == "happy day \ufffd"
    assert post.author == "ann@mastodon.example"
    assert post.submission.media.get(kind="text").text == post.text
