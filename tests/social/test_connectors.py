"""Each connector against a local server answering in that service's documented format."""

from __future__ import annotations

import pytest

from emotionhub.core.http import FetchError, RateLimited, SafeClient
from emotionhub.social.connectors import InvalidConfig, clean_config
from emotionhub.social.connectors.base import MalformedPayload, html_to_text
from emotionhub.social.connectors.bluesky import BlueskyConnector
from emotionhub.social.connectors.mastodon import MastodonConnector, link_param
from emotionhub.social.connectors.reddit import RedditConnector
from emotionhub.social.connectors.rss import RssConnector
from tests.social.conftest import Reply

# --- Mastodon -------------------------------------------------------------------------------


def status(n: int, text: str = "", images: int = 0, base: str = "http://127.0.0.1") -> dict:
    return {
        "id": str(109_000_000_000_000_000 + n),
        "created_at": f"2026-11-01T10:00:{n % 60:02d}.000Z",
        "url": f"https://mastodon.example/@ann/{n}",
        "uri": f"https://mastodon.example/users/ann/statuses/{n}",
        "content": f"<p>{text or f'status {n}'} <a href='x'>#cats</a></p>",
        "spoiler_text": "",
        "account": {"id": "1", "acct": "ann@mastodon.example"},
        "media_attachments": [
            {"type": "image", "url": f"{base}/media/{n}-{i}.jpg", "preview_url": None}
            for i in range(images)
        ]
        + [{"type": "video", "url": f"{base}/media/{n}.mp4"}],
    }


class MastodonTimeline:
    """/api/v1/timelines/tag/cats over ``statuses`` (ids ascending), as Mastodon pages it."""

    def __init__(self, upstream, statuses: list[dict]) -> None:
        self.statuses = statuses
        self.upstream = upstream
        upstream.routes["/api/v1/timelines/tag/cats"] = self

    def __call__(self, request):
        limit = int(request.query.get("limit", 20))
        ordered = sorted(self.statuses, key=lambda s: int(s["id"]))
        if "min_id" in request.query:  # immediately newer than min_id: oldest first, then flip
            newer = [s for s in ordered if int(s["id"]) > int(request.query["min_id"])]
            page = newer[:limit][::-1]
        else:
            older = [s for s in ordered if int(s["id"]) < int(request.query.get("max_id", 10**30))]
            page = older[::-1][:limit]
        headers = {}
        if page:
            base = f"{self.upstream.url}/api/v1/timelines/tag/cats"
            headers["Link"] = (
                f'<{base}?max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return Reply(body=page, headers=headers)


def mastodon_config(upstream) -> dict:
    return clean_config("mastodon", {"instance": upstream.url, "hashtag": "#cats"})


def test_mastodon_first_run_takes_the_newest_page(upstream):
    MastodonTimeline(upstream, [status(n, images=1 if n == 5 else 0) for n in range(1, 8)])
    with SafeClient() as client:
        batch = MastodonConnector().fetch(client, mastodon_config(upstream), {}, limit=3)
    assert [p.external_id[-1] for p in batch.items] == ["7", "6", "5"]
    assert batch.cursor == {"min_id": batch.items[0].external_id}
    post = batch.items[2]
    assert post.text == "status 5 #cats" and post.author == "ann@mastodon.example"
    assert post.image_urls == ["http://127.0.0.1/media/5-0.jpg"]  # the video is not an image
    assert post.posted_at.isoformat() == "2026-11-01T10:00:05+00:00"


def test_mastodon_later_runs_walk_forward_with_min_id_and_link_prev(upstream):
    timeline = MastodonTimeline(upstream, [status(n) for n in range(1, 4)])
    config = mastodon_config(upstream)
    with SafeClient() as client:
        first = MastodonConnector().fetch(client, config, {}, limit=40)
        timeline.statuses += [status(n) for n in range(4, 100)]  # 96 new, more than a page
        second = MastodonConnector().fetch(client, config, first.cursor, limit=90)
        third = MastodonConnector().fetch(client, config, second.cursor, limit=90)
    ids = [int(p.external_id) % 1000 for p in second.items]
    assert sorted(ids) == list(range(4, 94))  # oldest new ones first: no gap
    assert sorted(int(p.external_id) % 1000 for p in third.items) == list(range(94, 100))
    walk = [r.query for r in upstream.hits("/api/v1/timelines/tag/cats")][1:]
    assert walk[0]["min_id"] == first.cursor["min_id"]
    # The next min_id came from the Link header's rel="prev".
    assert int(walk[1]["min_id"]) % 1000 == 43


def test_mastodon_account_timeline(upstream):
    upstream.routes["/api/v1/accounts/42/statuses"] = Reply(body=[status(1, "hello")])
    config = clean_config("mastodon", {"instance": upstream.url, "account_id": "42"})
    with SafeClient() as client:
        batch = MastodonConnector().fetch(client, config, {}, limit=10)
    assert batch.items[0].text == "hello #cats"
    assert upstream.requests[0].query["exclude_reblogs"] == "true"


def test_mastodon_rate_limit_and_malformed_payloads(upstream):
    config = mastodon_config(upstream)
    path = "/api/v1/timelines/tag/cats"
    with SafeClient() as client:
        upstream.routes[path] = Reply(429, {"error": "Too many requests"}, {"Retry-After": "90"})
        with pytest.raises(RateLimited) as limited:
            MastodonConnector().fetch(client, config, {}, limit=10)
        assert limited.value.retry_after == 90
        for body in ({"error": "x"}, [{"id": 5}], [{"content": "no id"}], "not json"):
            upstream.routes[path] = Reply(body=body)
            with pytest.raises(MalformedPayload):
                MastodonConnector().fetch(client, config, {}, limit=10)
        upstream.routes[path] = Reply(500, {"error": "boom"})
        with pytest.raises(FetchError) as failed:
            MastodonConnector().fetch(client, config, {}, limit=10)
        assert failed.value.code == "upstream_http_error" and failed.value.http_status == 500


def test_link_header_parsing():
    header = (
        '<https://m.example/api?max_id=10>; rel="next", '
        '<https://m.example/api?min_id=20>; rel="prev"'
    )
    assert link_param(header, "prev", "min_id") == "20"
    assert link_param(header, "next", "max_id") == "10"
    assert link_param("", "prev", "min_id") is None


@pytest.mark.parametrize(
    "config",
    [
        {"instance": "https://m.example"},
        {"instance": "https://m.example", "hashtag": "a", "account_id": "1"},
        {"instance": "ftp://m.example", "hashtag": "cats"},
        {"instance": "https://m.example", "hashtag": "two words"},
        {"instance": "https://m.example", "account_id": "../admin"},
        {"instance": "https://m.example", "hashtag": "cats", "extra": 1},
    ],
)
def test_mastodon_bad_configs(config):
    with pytest.raises(InvalidConfig):
        clean_config("mastodon", config)


# --- Reddit ---------------------------------------------------------------------------------


def link(n: int, **data) -> dict:
    return {
        "kind": "t3",
        "data": {
            "name": f"t3_{n:05d}",
            "id": f"{n:05d}",
            "title": f"Post {n}",
            "selftext": "body" if n % 2 else "",
            "author": "bob",
            "created_utc": 1_780_000_000 + n,
            "permalink": f"/r/python/comments/{n:05d}/post/",
            "url": f"https://www.reddit.com/r/python/comments/{n:05d}/post/",
            **data,
        },
    }


class RedditListing:
    """/r/python/new.json over ``links`` (newest first), paging with ``after``."""

    def __init__(self, upstream, links: list[dict]) -> None:
        self.links = links
        upstream.routes["/r/python/new.json"] = self

    def __call__(self, request):
        limit = int(request.query.get("limit", 25))
        names = [c["data"]["name"] for c in self.links]
        start = names.index(request.query["after"]) + 1 if "after" in request.query else 0
        page = self.links[start : start + limit]
        after = page[-1]["data"]["name"] if start + limit < len(self.links) else None
        return Reply(
            body={
                "kind": "Listing",
                "data": {"after": after, "before": None, "dist": len(page), "children": page},
            }
        )


def reddit_config(upstream) -> dict:
    return clean_config("reddit", {"subreddit": "r/python", "base_url": upstream.url})


def test_reddit_walks_back_with_after_until_the_cursor(upstream):
    listing = RedditListing(upstream, [link(n) for n in range(30, 0, -1)])
    config = reddit_config(upstream)
    with SafeClient() as client:
        first = RedditConnector().fetch(client, config, {}, limit=12)
        assert [p.external_id for p in first.items][:2] == ["t3_00030", "t3_00029"]
        assert len(first.items) == 12 and first.cursor["newest"] == "t3_00030"
        listing.links = [link(n) for n in range(35, 0, -1)]
        second = RedditConnector().fetch(client, config, first.cursor, limit=12)
    assert [p.external_id for p in second.items] == [f"t3_{n:05d}" for n in range(35, 30, -1)]
    assert second.cursor["newest"] == "t3_00035"
    post = second.items[0]
    assert post.text == "Post 35\n\nbody" and post.author == "bob"
    assert post.url == "https://www.reddit.com/r/python/comments/00035/post/"
    assert upstream.requests[0].query["raw_json"] == "1"


def test_reddit_pages_with_after(upstream):
    RedditListing(upstream, [link(n) for n in range(250, 0, -1)])
    with SafeClient() as client:
        batch = RedditConnector().fetch(client, reddit_config(upstream), {}, limit=150)
    assert len(batch.items) == 150
    queries = [r.query for r in upstream.requests]
    assert queries[0]["limit"] == "100" and "after" not in queries[0]
    assert queries[1] == {"limit": "50", "raw_json": "1", "after": "t3_00151"}


def test_reddit_images_direct_gallery_and_preview(upstream):
    RedditListing(
        upstream,
        [
            link(3, url="https://i.redd.it/a.jpg", post_hint="image"),
            link(
                2,
                is_gallery=True,
                media_metadata={"x": {"s": {"u": "https://i.redd.it/g1.png"}}},
            ),
            link(1, preview={"images": [{"source": {"url": "https://preview.redd.it/p.jpg"}}]}),
        ],
    )
    with SafeClient() as client:
        batch = RedditConnector().fetch(client, reddit_config(upstream), {}, limit=10)
    assert [p.image_urls for p in batch.items] == [
        ["https://i.redd.it/a.jpg"],
        ["https://i.redd.it/g1.png"],
        ["https://preview.redd.it/p.jpg"],
    ]


def test_reddit_rate_limit_uses_ratelimit_reset_and_malformed_listing_fails(upstream):
    path = "/r/python/new.json"
    with SafeClient() as client:
        upstream.routes[path] = Reply(
            429, {"message": "Too Many Requests", "error": 429}, {"x-ratelimit-reset": "240"}
        )
        with pytest.raises(RateLimited) as limited:
            RedditConnector().fetch(client, reddit_config(upstream), {}, limit=10)
        assert limited.value.retry_after == 240
        for body in (
            {"kind": "t3"},
            {"kind": "Listing", "data": {"children": "no"}},
            {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"name": "x"}}]}},
            [],
        ):
            upstream.routes[path] = Reply(body=body)
            with pytest.raises(MalformedPayload):
                RedditConnector().fetch(client, reddit_config(upstream), {}, limit=10)


# --- Bluesky --------------------------------------------------------------------------------


def post_view(n: int, images: int = 0) -> dict:
    view = {
        "uri": f"at://did:plc:abc/app.bsky.feed.post/3k{n:04d}",
        "cid": f"bafy{n}",
        "author": {"did": "did:plc:abc", "handle": "ann.bsky.social"},
        "record": {
            "$type": "app.bsky.feed.post",
            "text": f"skeet {n}",
            "createdAt": f"2026-11-01T12:{n // 60:02d}:{n % 60:02d}.000Z",
        },
        "indexedAt": f"2026-11-01T12:{n // 60:02d}:{n % 60:02d}.500Z",
    }
    if images:
        view["embed"] = {
            "$type": "app.bsky.embed.images#view",
            "images": [
                {"thumb": "https://cdn.example/t.jpg", "fullsize": f"https://cdn.example/{i}.jpg"}
                for i in range(images)
            ],
        }
    return view


class BlueskySearch:
    PATH = "/xrpc/app.bsky.feed.searchPosts"

    def __init__(self, upstream, posts: list[dict]) -> None:
        self.posts = posts  # newest first
        upstream.routes[self.PATH] = self

    def __call__(self, request):
        if "q" not in request.query:
            return Reply(400, {"error": "InvalidRequest", "message": "q is required"})
        posts = [p for p in self.posts if p["indexedAt"] >= request.query.get("since", "")]
        start = int(request.query.get("cursor", 0))
        limit = int(request.query.get("limit", 25))
        page = posts[start : start + limit]
        body = {"posts": page, "hitsTotal": len(posts)}
        if start + limit < len(posts):
            body["cursor"] = str(start + limit)
        return Reply(body=body)


def test_bluesky_pages_with_cursor_then_uses_since(upstream):
    search = BlueskySearch(
        upstream, [post_view(n, images=2 if n == 9 else 0) for n in range(9, 0, -1)]
    )
    config = clean_config("bluesky", {"q": "cats", "service": upstream.url})
    with SafeClient() as client:
        first = BlueskyConnector().fetch(client, config, {}, limit=100)
        # The high-water is sortAt: the earlier of indexedAt and createdAt.
        assert len(first.items) == 9 and first.cursor["hw"] == post_view(9)["record"]["createdAt"]
        assert first.items[0].image_urls == [
            "https://cdn.example/0.jpg",
            "https://cdn.example/1.jpg",
        ]
        assert first.items[0].url == "https://bsky.app/profile/ann.bsky.social/post/3k0009"
        search.posts = [post_view(n) for n in range(12, 0, -1)]
        second = BlueskyConnector().fetch(client, config, first.cursor, limit=2)
    # since reaches back an overlap window; posts of the last run are recognised as seen.
    assert [p.text for p in second.items] == ["skeet 12", "skeet 11"]
    last = upstream.requests[-1].query
    assert last["since"] == "2026-11-01T11:58:09.000Z" and last["sort"] == "latest"
    # The cap stopped the run at skeet 10: it and older are left for the next run.
    assert second.cursor["gaps"] == [["2026-11-01T11:58:09.000Z", "2026-11-01T12:00:10.001Z"]]


def test_bluesky_walks_pages(upstream):
    BlueskySearch(upstream, [post_view(n) for n in range(250, 0, -1)])
    config = clean_config("bluesky", {"q": "cats", "service": upstream.url})
    with SafeClient() as client:
        batch = BlueskyConnector().fetch(client, config, {}, limit=180)
    assert len(batch.items) == 180
    assert [r.query.get("cursor") for r in upstream.requests] == [None, "100"]


def test_bluesky_errors(upstream):
    config = clean_config("bluesky", {"q": "cats", "service": upstream.url})
    path = BlueskySearch.PATH
    with SafeClient() as client:
        upstream.routes[path] = Reply(
            429, {"error": "RateLimitExceeded"}, {"ratelimit-reset": "30"}
        )
        with pytest.raises(RateLimited):
            BlueskyConnector().fetch(client, config, {}, limit=10)
        for body in ({"feed": []}, {"posts": [{"uri": "https://x"}]}, {"posts": [5]}):
            upstream.routes[path] = Reply(body=body)
            with pytest.raises(MalformedPayload):
                BlueskyConnector().fetch(client, config, {}, limit=10)


# --- RSS / Atom -----------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Example</title><link>https://news.example/</link><description>d</description>
<item><guid>item-2</guid><title>Second</title><link>https://news.example/2</link>
  <description>&lt;p&gt;Great &amp;amp; &lt;b&gt;happy&lt;/b&gt; news&lt;/p&gt;</description>
  <pubDate>Sun, 01 Nov 2026 10:00:00 GMT</pubDate>
  <enclosure url="https://news.example/2.jpg" type="image/jpeg" length="100"/>
  <media:content url="https://news.example/2b.png" medium="image"/></item>
<item><guid>item-1</guid><title>First</title><link>https://news.example/1</link>
  <description>Sad news</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
<updated>2026-11-01T10:00:00Z</updated>
<entry><id>urn:a:1</id><title>Atom entry</title><updated>2026-11-01T10:00:00Z</updated>
<link href="https://atom.example/1"/><author><name>Cy</name></author>
<content type="html">&lt;p&gt;Atom body&lt;/p&gt;</content></entry></feed>"""


def test_rss_items_text_media_and_conditional_get(upstream):
    def feed(request):
        if request.headers.get("If-None-Match") == '"v1"':
            return Reply(304, b"", content_type="application/rss+xml")
        return Reply(body=RSS, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    upstream.routes["/feed.xml"] = feed
    config = clean_config("rss", {"url": upstream.url + "/feed.xml"})
    with SafeClient() as client:
        batch = RssConnector().fetch(client, config, {}, limit=10)
        again = RssConnector().fetch(client, config, batch.cursor, limit=10)
    second, first = batch.items
    assert second.external_id == "item-2" and second.text == "Second\n\nGreat & happy news"
    assert second.image_urls == ["https://news.example/2.jpg", "https://news.example/2b.png"]
    assert second.posted_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert first.text == "First\n\nSad news" and first.image_urls == []
    assert batch.cursor == {"etag": '"v1"'}
    assert again.items == [] and again.http_status == 304 and again.cursor == batch.cursor


def test_atom_feed(upstream):
    upstream.routes["/atom"] = Reply(body=ATOM, content_type="application/atom+xml")
    config = clean_config("rss", {"url": upstream.url + "/atom"})
    with SafeClient() as client:
        (entry,) = RssConnector().fetch(client, config, {}, limit=10).items
    assert (entry.external_id, entry.text, entry.author) == (
        "urn:a:1",
        "Atom entry\n\nAtom body",
        "Cy",
    )


def test_rss_malformed_and_http_errors(upstream):
    config = clean_config("rss", {"url": upstream.url + "/feed.xml"})
    with SafeClient() as client:
        upstream.routes["/feed.xml"] = Reply(
            body="<html><body>nope</body></html>", content_type="text/html"
        )
        with pytest.raises(MalformedPayload):
            RssConnector().fetch(client, config, {}, limit=10)
        upstream.routes["/feed.xml"] = Reply(
            body=b"\x00\x01garbage", content_type="application/xml"
        )
        with pytest.raises(MalformedPayload):
            RssConnector().fetch(client, config, {}, limit=10)
        upstream.routes["/feed.xml"] = Reply(410, "gone", content_type="text/plain")
        with pytest.raises(FetchError) as gone:
            RssConnector().fetch(client, config, {}, limit=10)
    assert gone.value.http_status == 410


def test_rss_config_and_html_text():
    with pytest.raises(InvalidConfig):
        clean_config("rss", {"url": "file:///etc/passwd"})
    with pytest.raises(InvalidConfig):
        clean_config("rss", {})
    assert html_to_text("<p>a<br>b</p><script>x()</script><p>c &amp; d</p>") == "a\nb\nc & d"
