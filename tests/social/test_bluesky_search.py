"""Bluesky search as the AppView behaves: galleries, late indexing and bursts.

``SimulatedAppView`` answers ``app.bsky.feed.searchPosts`` the way the AppView does:
a post is searchable once indexed, results are ordered and filtered (``since``
inclusive, ``until`` exclusive) by ``sortAt``, the earlier of ``indexedAt`` and
``createdAt``, and ``cursor`` pages back. Its clock is the test's, so indexing lag and
bursts between runs are simulated exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from emotionhub.core.http import SafeClient
from emotionhub.social.connectors import clean_config
from emotionhub.social.connectors.bluesky import MAX_PAGES, BlueskyConnector, iso
from tests.social.conftest import Reply

PATH = "/xrpc/app.bsky.feed.searchPosts"
T0 = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)


def view(n: int, created: datetime, indexed: datetime, embed: dict | None = None) -> dict:
    out = {
        "uri": f"at://did:plc:u{n % 7}/app.bsky.feed.post/3lb{n:06d}",
        "cid": f"bafyreib{n:08d}",
        "author": {
            "did": f"did:plc:u{n % 7}",
            "handle": f"user{n % 7}.bsky.social",
            "displayName": f"User {n % 7}",
            "labels": [],
            "createdAt": "2024-02-01T10:00:00.000Z",
        },
        "record": {
            "$type": "app.bsky.feed.post",
            "createdAt": iso(created),
            "langs": ["en"],
            "text": f"coffee post {n}",
        },
        "replyCount": 0,
        "repostCount": 0,
        "likeCount": 0,
        "quoteCount": 0,
        "indexedAt": iso(indexed),
        "labels": [],
    }
    if embed:
        out["embed"] = embed
    return out


class SimulatedAppView:
    def __init__(self, upstream) -> None:
        self.now = T0
        self.posts: list[tuple[datetime, datetime, dict]] = []  # (sortAt, indexedAt, view)
        upstream.routes[PATH] = self

    def add(self, n: int, created: datetime, lag: timedelta) -> None:
        indexed = created + lag
        self.posts.append((min(created, indexed), indexed, view(n, created, indexed)))

    def __call__(self, request):
        q = request.query
        since = datetime.fromisoformat(q["since"]) if "since" in q else None
        until = datetime.fromisoformat(q["until"]) if "until" in q else None
        hits = [
            (sort, v)
            for sort, indexed, v in self.posts
            if indexed <= self.now
            and (since is None or sort >= since)
            and (until is None or sort < until)
        ]
        hits.sort(key=lambda h: (h[0], h[1]["uri"]), reverse=True)
        start = int(q.get("cursor", 0))
        limit = min(int(q.get("limit", 25)), 100)
        page = [v for _, v in hits[start : start + limit]]
        body = {"posts": page, "hitsTotal": len(hits)}
        if start + limit < len(hits):
            body["cursor"] = str(start + limit)
        return Reply(body=body)


def run_all(upstream, appview, times, limit=100, cursor=None, overlap=None):
    """Fetch at each simulated time; every post returned, the last cursor and all notes."""
    raw = {"q": "coffee", "service": upstream.url}
    if overlap is not None:
        raw["overlap_seconds"] = overlap
    config = clean_config("bluesky", raw)
    taken, notes = [], []
    cursor = cursor or {}
    with SafeClient() as client:
        for when in times:
            appview.now = when
            batch = BlueskyConnector().fetch(client, config, cursor, limit=limit)
            taken += [p.external_id for p in batch.items]
            notes += batch.notes
            cursor = batch.cursor
    return taken, cursor, notes


@pytest.mark.parametrize("lag_seconds", [5, 30, "random"])
def test_late_indexed_posts_are_not_lost(upstream, lag_seconds):
    appview = SimulatedAppView(upstream)
    rng = random.Random(18)
    for n in range(300):
        lag = rng.uniform(0, 30) if lag_seconds == "random" else lag_seconds
        appview.add(n, T0 + timedelta(seconds=n), timedelta(seconds=lag))
    # A first run before any post, then every 10 s, then two after everything is indexed.
    times = [T0 - timedelta(seconds=1)] + [T0 + timedelta(seconds=10 * k) for k in range(1, 36)]
    taken, cursor, notes = run_all(upstream, appview, times)
    assert sorted(taken) == sorted(v["uri"] for _, _, v in appview.posts)  # all 300
    assert len(taken) == 300  # and none twice
    assert cursor["gaps"] == [] and notes == []


def test_a_burst_larger_than_the_cap_is_read_back_over_the_next_runs(upstream):
    appview = SimulatedAppView(upstream)
    appview.add(0, T0, timedelta(seconds=1))
    first, cursor, _ = run_all(upstream, appview, [T0 + timedelta(seconds=5)], limit=50)
    assert len(first) == 1
    for n in range(1, 501):  # 500 posts between two runs, 10 per second
        appview.add(n, T0 + timedelta(seconds=10, milliseconds=100 * n), timedelta(seconds=2))
    later = T0 + timedelta(minutes=2)
    burst, cursor, notes = run_all(upstream, appview, [later], limit=50, cursor=cursor)
    assert len(burst) == 50 and burst[0].endswith("3lb000500")  # the newest first
    assert [n["code"] for n in notes] == ["post_cap"]
    assert len(cursor["gaps"]) == 1
    rest, cursor, _ = run_all(
        upstream, appview, [later + timedelta(seconds=k) for k in range(1, 11)], limit=50,
        cursor=cursor,
    )  # fmt: skip
    assert sorted(burst + rest) == sorted(v["uri"] for _, _, v in appview.posts[1:])
    assert len(burst + rest) == 500 and cursor["gaps"] == []


def test_the_page_bound_is_recorded_and_the_rest_read_next_run(upstream):
    appview = SimulatedAppView(upstream)
    appview.add(0, T0, timedelta(seconds=1))
    _, cursor, _ = run_all(upstream, appview, [T0 + timedelta(seconds=5)])
    count = MAX_PAGES * 100 + 300  # one a second, longer than the overlap window
    for n in range(1, count + 1):
        appview.add(n, T0 + timedelta(seconds=10 + n), timedelta(seconds=1))
    later = T0 + timedelta(seconds=count + 60)
    first, cursor, notes = run_all(upstream, appview, [later], limit=5000, cursor=cursor)
    assert len(first) == MAX_PAGES * 100
    assert notes and notes[0]["code"] == "paging_bound"
    second, cursor, notes = run_all(
        upstream, appview, [later + timedelta(seconds=1)], limit=5000, cursor=cursor
    )
    assert len(set(first + second)) == count and cursor["gaps"] == [] and notes == []


def test_an_earlier_cursor_keeps_working(upstream):
    appview = SimulatedAppView(upstream)
    for n in range(5):
        appview.add(n, T0 + timedelta(seconds=n), timedelta(seconds=0))
    # {"since": indexedAt} is what runs stored before; it reads as the high-water mark.
    taken, cursor, _ = run_all(
        upstream, appview, [T0 + timedelta(minutes=1)], cursor={"since": iso(T0)}
    )
    assert len(taken) == 5 and cursor["hw"] == iso(T0 + timedelta(seconds=4))


GALLERY = {
    "$type": "app.bsky.embed.gallery#view",
    "items": [
        {
            "$type": "app.bsky.embed.gallery#viewImage",
            "alt": f"cup {i}",
            "aspectRatio": {"width": 1000, "height": 750},
            "fullsize": f"https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:u1/bafk{i}@jpeg",
            "thumbnail": f"https://cdn.bsky.app/img/feed_thumbnail/plain/did:plc:u1/bafk{i}@jpeg",
        }
        for i in range(6)
    ],
}


def test_gallery_embeds_alone_and_in_a_quote_post_give_their_images(upstream):
    appview = SimulatedAppView(upstream)
    quote = {
        "$type": "app.bsky.embed.recordWithMedia#view",
        "record": {
            "$type": "app.bsky.embed.record#view",
            "record": {
                "$type": "app.bsky.embed.record#viewRecord",
                "uri": "at://did:plc:u3/app.bsky.feed.post/3laaaaaa",
                "cid": "bafyreiq",
                "author": {"did": "did:plc:u3", "handle": "user3.bsky.social"},
                "value": {"$type": "app.bsky.feed.post", "text": "quoted", "createdAt": iso(T0)},
                "indexedAt": iso(T0),
            },
        },
        "media": GALLERY,
    }
    for n, embed in ((1, GALLERY), (2, quote)):
        created = T0 + timedelta(seconds=n)
        appview.posts.append((created, created, view(n, created, created, embed)))
    appview.now = T0 + timedelta(minutes=1)
    with SafeClient() as client:
        batch = BlueskyConnector().fetch(
            client, clean_config("bluesky", {"q": "coffee", "service": upstream.url}), {}, 10
        )
    expected = [item["fullsize"] for item in GALLERY["items"]]
    assert [p.image_urls for p in batch.items] == [expected, expected]
    assert all(p.media_role == "photo" for p in batch.items)
