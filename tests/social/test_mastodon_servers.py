"""Mastodon-API servers with opaque status ids (GoToSocial ULIDs, Pleroma/Akkoma flake
ids), paged by the server's order and Link headers; Mastodon's ISO 8601 rate-limit reset."""

from __future__ import annotations

import datetime
import random

import pytest
from django.utils import timezone

from emotionhub.core.http import RateLimited, SafeClient
from emotionhub.social import runs
from emotionhub.social.connectors import clean_config
from emotionhub.social.connectors.mastodon import MastodonConnector
from emotionhub.social.models import RunStatus, Source
from tests.social.conftest import Reply, make_source

PATH = "/api/v1/timelines/tag/cats"
ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def opaque_ids(count: int, seed: int = 7) -> list[str]:
    """ULID-shaped ids in an order that says nothing: sorting them is not the timeline."""
    rng = random.Random(seed)
    return ["".join(rng.choice(ULID_ALPHABET) for _ in range(26)) for _ in range(count)]


def gts_status(status_id: str, n: int, host: str = "gts.example") -> dict:
    """A status as GoToSocial 0.16 answers it (fields trimmed to what clients read)."""
    return {
        "id": status_id,
        "created_at": f"2026-11-05T09:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "in_reply_to_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://{host}/users/kim/statuses/{status_id}",
        "url": f"https://{host}/@kim/statuses/{status_id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "account": {
            "id": "01F8MH1H7YV1Z7D2C8K2730QBF",
            "username": "kim",
            "acct": f"kim@{host}",
            "display_name": "Kim",
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": "cats", "url": f"https://{host}/tags/cats"}],
        "content": f'<p>cat number {n} <a href="https://{host}/tags/cats" class="mention '
        'hashtag" rel="tag nofollow noreferrer noopener" target="_blank">'
        "#<span>cats</span></a></p>",
    }


class OpaqueTimeline:
    """A tag timeline that orders by position and pages by the ids it was given, as a server
    with opaque ids does: ``min_id`` gives the statuses immediately newer, ``max_id`` older,
    and the Link header names the page's edge ids."""

    def __init__(self, upstream, statuses: list[dict]) -> None:
        self.statuses = statuses  # oldest first
        self.upstream = upstream
        upstream.routes[PATH] = self

    def __call__(self, request):
        limit = min(int(request.query.get("limit", 20)), 40)
        ids = [s["id"] for s in self.statuses]
        if "min_id" in request.query:
            start = ids.index(request.query["min_id"]) + 1
            page = self.statuses[start : start + limit][::-1]
        else:
            end = ids.index(request.query["max_id"]) if "max_id" in request.query else len(ids)
            page = self.statuses[max(0, end - limit) : end][::-1]
        headers = {}
        if page:
            base = f"{self.upstream.url}{PATH}"
            headers["Link"] = (
                f'<{base}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return Reply(body=page, headers=headers)


def config(upstream) -> dict:
    return clean_config("mastodon", {"instance": upstream.url, "hashtag": "cats"})


def test_opaque_ids_are_paged_in_the_servers_order_without_gaps(upstream):
    ids = opaque_ids(140)
    assert sorted(ids) != ids  # the test would prove nothing if sorting gave the order
    timeline = OpaqueTimeline(upstream, [gts_status(i, n) for n, i in enumerate(ids[:10])])
    with SafeClient() as client:
        first = MastodonConnector().fetch(client, config(upstream), {}, limit=5)
        assert [p.external_id for p in first.items] == ids[9:4:-1]  # newest page, newest first
        assert first.cursor == {"min_id": ids[9]}
        assert first.items[0].text == "cat number 9 #cats"
        assert first.items[0].url == f"https://gts.example/@kim/statuses/{ids[9]}"
        timeline.statuses += [gts_status(i, n) for n, i in enumerate(ids[10:], start=10)]
        second = MastodonConnector().fetch(client, config(upstream), first.cursor, limit=100)
        third = MastodonConnector().fetch(client, config(upstream), second.cursor, limit=100)
        fourth = MastodonConnector().fetch(client, config(upstream), third.cursor, limit=100)
    # Newest first, exactly the 100 statuses after the cursor, then the remaining 30.
    assert [p.external_id for p in second.items] == ids[109:9:-1]
    assert second.cursor == {"min_id": ids[109]}
    assert [p.external_id for p in third.items] == ids[139:109:-1]
    assert fourth.items == [] and fourth.cursor == third.cursor
    walk = [r.query.get("min_id") for r in upstream.hits(PATH)]
    assert walk[1:5] == [ids[9], ids[49], ids[89], ids[109]]  # each from rel="prev"


def test_without_a_link_header_the_next_page_starts_at_the_pages_newest_status(upstream):
    ids = opaque_ids(60, seed=3)
    timeline = OpaqueTimeline(upstream, [gts_status(i, n) for n, i in enumerate(ids)])

    def no_link(request):
        reply = timeline(request)
        reply.headers.pop("Link", None)
        return reply

    upstream.routes[PATH] = no_link
    with SafeClient() as client:
        batch = MastodonConnector().fetch(client, config(upstream), {"min_id": ids[0]}, limit=59)
    assert [p.external_id for p in batch.items] == ids[59:0:-1]


def test_account_ids_may_be_opaque_too():
    out = clean_config(
        "mastodon", {"instance": "https://pleroma.example", "account_id": "AbC9xYz-_1"}
    )
    assert out["account_id"] == "AbC9xYz-_1"


def iso_z(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def test_iso_8601_ratelimit_reset_gives_the_wait(upstream):
    reset = timezone.now() + datetime.timedelta(seconds=200)
    upstream.routes[PATH] = Reply(
        429,
        {"error": "Too many requests"},
        {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": iso_z(reset),
        },
    )
    with SafeClient() as client, pytest.raises(RateLimited) as limited:
        MastodonConnector().fetch(client, config(upstream), {}, limit=5)
    assert 190 <= limited.value.retry_after <= 200


@pytest.mark.django_db
def test_a_run_rate_limited_by_mastodon_waits_until_the_reset(alice, upstream):
    reset = timezone.now() + datetime.timedelta(seconds=600)
    upstream.routes[PATH] = Reply(
        429,
        {"error": "Too many requests"},
        {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": iso_z(reset),
        },
    )
    source = make_source(alice.tenant, "mastodon", {"instance": upstream.url, "hashtag": "cats"})
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.FAILED and run.error_code == "rate_limited"
    source = Source.objects.get(pk=source.pk)
    # Not the generic back-off (60 s for a first failure): the reset time.
    assert abs((source.next_fetch_allowed_at - reset).total_seconds()) < 10
