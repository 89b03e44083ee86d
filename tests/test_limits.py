"""Per-key rate limits (429 rate_limited) and daily item quotas (429 quota_exceeded)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from emotionhub.accounts.models import ApiKey
from emotionhub.limits.models import DailyItemUsage
from tests.conftest import TenantClient, png_bytes, upload
from tests.test_api_submissions import assert_error, row_counts


def _set(client: TenantClient, **fields) -> None:
    ApiKey.objects.filter(pk=client.key.pk).update(**fields)


def _fresh_window() -> None:
    """Start the test early in a minute so the fixed window cannot roll over mid-test."""
    into = time.time() % 60
    if into > 50:
        time.sleep(60 - into + 0.1)


def _stored_files(settings) -> list:
    return sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())


# ---- rate limit -----------------------------------------------------------------------
def test_fourth_request_of_a_key_limited_to_three_is_refused_with_retry_after(alice, bob):
    _set(alice, rate_limit_per_minute=3)
    _fresh_window()
    remaining = []
    for _ in range(3):
        response = alice.client.get("/api/v1/jobs")
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "3"
        remaining.append(response["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    response = alice.client.get("/api/v1/jobs")
    error = assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["X-RateLimit-Remaining"] == "0"
    assert error["details"]["limit_per_minute"] == 3
    # Another key of another tenant, and another key of the same tenant, are unaffected.
    assert bob.client.get("/api/v1/jobs").status_code == 200
    _, raw = ApiKey.issue(alice.tenant, "second", ["read"])
    second = alice.client.__class__()
    second.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert second.get("/api/v1/jobs").status_code == 200


def test_a_rate_limited_submission_writes_nothing(alice, settings):
    _set(alice, rate_limit_per_minute=1)
    _fresh_window()
    assert alice.submit(texts=["first"], analyzers="text_length").status_code == 202
    before, files = row_counts(), _stored_files(settings)
    response = alice.submit(files=[upload("a.png", png_bytes())], analyzers="example")
    assert_error(response, 429, "rate_limited")
    assert row_counts() == before and _stored_files(settings) == files


def test_the_server_default_applies_to_keys_without_their_own(alice, settings):
    settings.EMOTIONHUB_RATE_LIMIT_PER_MINUTE = 2
    _fresh_window()
    assert [alice.client.get("/api/v1/media").status_code for _ in range(3)] == [200, 200, 429]


def test_zero_means_unlimited(alice, settings):
    settings.EMOTIONHUB_RATE_LIMIT_PER_MINUTE = 1
    _set(alice, rate_limit_per_minute=0)
    assert {alice.client.get("/api/v1/media").status_code for _ in range(4)} == {200}


# ---- daily item quota -----------------------------------------------------------------
def test_quota_counts_items_across_requests_and_never_half_writes(alice, bob, settings):
    _set(alice, daily_item_quota=3)
    _set(bob, daily_item_quota=3)
    assert alice.submit(texts=["a", "b"], analyzers="text_length").status_code == 202
    before, files = row_counts(), _stored_files(settings)
    # Two more items would make four: the whole request is refused, nothing is stored.
    response = alice.submit(
        files=[upload("a.png", png_bytes())], texts=["c"], analyzers="example,text_length"
    )
    error = assert_error(response, 429, "quota_exceeded")
    assert error["details"]["quota"] == 3 and error["details"]["used"] == 2
    assert error["details"]["requested"] == 2
    assert 0 < int(response["Retry-After"]) <= 86401
    assert row_counts() == before and _stored_files(settings) == files
    assert alice.submit(texts=["c"], analyzers="text_length").status_code == 202
    assert_error(alice.submit(texts=["d"], analyzers="text_length"), 429, "quota_exceeded")
    # Bob's key has its own count.
    assert bob.submit(texts=["x", "y", "z"], analyzers="text_length").status_code == 202


def test_quota_refused_inside_the_transaction_rolls_back(alice, settings):
    """The locked check (not only the early one) refuses: with an Idempotency-Key the
    early check is skipped, so this reaches quota.consume inside the write."""
    _set(alice, daily_item_quota=1)
    before = row_counts()
    response = alice.submit(
        texts=["a", "b"], analyzers="text_length", headers={"Idempotency-Key": "k1"}
    )
    assert_error(response, 429, "quota_exceeded")
    assert row_counts() == before
    assert not DailyItemUsage.objects.filter(api_key=alice.key, items__gt=0).exists()


def test_deleting_media_does_not_give_quota_back(alice):
    _set(alice, daily_item_quota=1)
    body = alice.submit(texts=["a"], analyzers="text_length").json()
    assert alice.client.delete(f"/api/v1/media/{body['items'][0]['id']}").status_code == 204
    assert_error(alice.submit(texts=["b"], analyzers="text_length"), 429, "quota_exceeded")


def test_an_idempotent_replay_answers_when_the_quota_is_used_up(alice):
    _set(alice, daily_item_quota=1)
    first = alice.submit(texts=["a"], analyzers="text_length", headers={"Idempotency-Key": "r"})
    assert first.status_code == 202
    again = alice.submit(texts=["a"], analyzers="text_length", headers={"Idempotency-Key": "r"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_server_default_quota(alice, settings):
    settings.EMOTIONHUB_DAILY_ITEM_QUOTA = 1
    assert alice.submit(texts=["a"], analyzers="text_length").status_code == 202
    assert_error(alice.submit(texts=["b"], analyzers="text_length"), 429, "quota_exceeded")


# ---- usage endpoint -------------------------------------------------------------------
def test_usage_reports_the_keys_limits_and_use(alice):
    _set(alice, rate_limit_per_minute=50, daily_item_quota=10)
    _fresh_window()
    alice.submit(texts=["a", "b", "c"], analyzers="text_length")
    body = alice.client.get("/api/v1/usage").json()
    assert body["api_key"]["prefix"] == alice.key.prefix
    assert body["rate_limit"]["limit_per_minute"] == 50
    assert body["rate_limit"]["remaining"] == 48  # the submission and this request
    assert body["daily_items"] == {
        "quota": 10,
        "used": 3,
        "remaining": 7,
        "resets_at": body["daily_items"]["resets_at"],
    }
    assert body["daily_items"]["resets_at"].endswith("T00:00:00+00:00")


def test_usage_works_for_a_submit_only_key(db):
    client = TenantClient("subonly", scopes=("submit",))
    assert client.client.get("/api/v1/usage").status_code == 200


# ---- concurrency (PostgreSQL row locks) -------------------------------------------------
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_never_exceed_the_quota(alice):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    _set(alice, daily_item_quota=4)
    codes: list[int] = []

    def submit(index: int) -> None:
        try:
            client = TenantClient.__new__(TenantClient)
            client.client = alice.client.__class__()
            client.client.credentials(HTTP_AUTHORIZATION=f"Api-Key {alice.raw_key}")
            codes.append(client.submit(texts=[f"t{index}"], analyzers="text_length").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [202] * 4 + [429] * 6
    assert DailyItemUsage.objects.get(api_key=alice.key).items == 4
