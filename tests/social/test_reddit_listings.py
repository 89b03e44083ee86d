"""Reddit as it really answers (tests/social/fixtures/reddit_new.json, the /new.json shape):
unknown subreddits, gallery order, unprocessed galleries, link-card previews, removed and
deleted posts, rendered self text and the NSFW flag."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from emotionhub.core.http import SafeClient
from emotionhub.social import runs
from emotionhub.social.connectors import clean_config
from emotionhub.social.connectors.reddit import RedditConnector, SourceNotFound
from emotionhub.social.models import Post, RunStatus
from tests.social.conftest import Reply, jpeg_bytes, make_source

LISTING = json.loads((Path(__file__).parent / "fixtures" / "reddit_new.json").read_text())
PATH = "/r/espresso/new.json"


def listing(now: float | None = None) -> dict:
    """The fixture with its posts made recent (the unprocessed gallery is 2 minutes old)."""
    body = copy.deepcopy(LISTING)
    now = now or time.time()
    for n, child in enumerate(body["data"]["children"]):
        child["data"]["created_utc"] = now - 120 - 60 * n
    return body


def by_name(batch) -> dict:
    return {p.external_id: p for p in batch.items}


def config(upstream, **extra) -> dict:
    return clean_config("reddit", {"subreddit": "espresso", "base_url": upstream.url, **extra})


def fetch(upstream, cursor=None, **extra):
    with SafeClient() as client:
        return RedditConnector().fetch(client, config(upstream, **extra), cursor or {}, limit=50)


def test_gallery_images_keep_gallery_data_order(upstream):
    upstream.routes[PATH] = Reply(body=listing())
    post = by_name(fetch(upstream))["t3_1gq8x01"]
    assert [u.split("?")[0].rsplit("/", 1)[1] for u in post.image_urls] == [
        "m3c0ver.jpg",  # the cover, first in gallery_data, last in media_metadata
        "a1side.jpg",
        "z9top.jpg",
    ]
    assert post.media_role == "photo"


def test_an_unprocessed_gallery_is_held_back_until_its_images_exist(upstream):
    body = listing()
    upstream.routes[PATH] = Reply(body=body)
    first = fetch(upstream)
    assert "t3_1gq8x02" not in by_name(first)
    assert {"post": "t3_1gq8x02", "code": "media_pending"} in [
        {k: v for k, v in o.items() if k != "message"} for o in first.left_out
    ]
    pending_created = body["data"]["children"][1]["data"]["created_utc"]
    assert first.cursor == {"newest": None, "newest_created_utc": pending_created}
    # Reddit finishes processing; the next run walks back to the gallery and takes it.
    gallery = body["data"]["children"][1]["data"]
    for media_id in ("pend1", "pend2"):
        gallery["media_metadata"][media_id] = {
            "status": "valid",
            "e": "Image",
            "m": "image/png",
            "s": {"x": 800, "y": 600, "u": f"https://i.redd.it/{media_id}.png"},
            "id": media_id,
        }
    second = fetch(upstream, first.cursor)
    assert by_name(second)["t3_1gq8x02"].image_urls == [
        "https://i.redd.it/pend1.png",
        "https://i.redd.it/pend2.png",
    ]
    assert "t3_1gq8x01" in by_name(second)  # newer posts come again; ingest drops repeats
    assert second.cursor["newest"] == "t3_1gq8x01"


def test_a_gallery_unprocessed_for_over_an_hour_is_taken_without_images(upstream):
    body = listing(now=time.time() - 7200)
    upstream.routes[PATH] = Reply(body=body)
    batch = fetch(upstream)
    assert by_name(batch)["t3_1gq8x02"].image_urls == []
    assert batch.cursor["newest"] == "t3_1gq8x01"


def test_link_and_video_previews_are_marked_preview_or_skipped(upstream):
    upstream.routes[PATH] = Reply(body=listing())
    posts = by_name(fetch(upstream))
    link, video, image = posts["t3_1gq8x03"], posts["t3_1gq8x04"], posts["t3_1gq8x08"]
    assert link.image_urls == ["https://external-preview.redd.it/beans.jpg?auto=webp&s=44"]
    assert (link.media_role, video.media_role, image.media_role) == ("preview", "preview", "photo")
    skipped = by_name(fetch(upstream, preview_media="skip"))
    assert skipped["t3_1gq8x03"].image_urls == [] and skipped["t3_1gq8x04"].image_urls == []
    assert skipped["t3_1gq8x03"].text == "Bean prices are up 30% this year"  # the text stays
    assert skipped["t3_1gq8x08"].image_urls == ["https://i.redd.it/spill.jpeg"]


def test_removed_and_deleted_posts_are_left_out_and_self_text_is_rendered(upstream):
    upstream.routes[PATH] = Reply(body=listing())
    batch = fetch(upstream)
    posts = by_name(batch)
    assert "t3_1gq8x05" not in posts and "t3_1gq8x06" not in posts
    codes = {o["post"]: o["code"] for o in batch.left_out}
    assert codes["t3_1gq8x05"] == codes["t3_1gq8x06"] == "removed_post"
    review = posts["t3_1gq8x07"]
    assert review.text == "Review after a month\n\nI love this machine.\nquiet\nfast\nbest purchase"
    assert "**" not in review.text and "&gt;" not in review.text


def test_nsfw_is_kept_on_the_post_and_a_source_may_skip_it(upstream):
    upstream.routes[PATH] = Reply(body=listing())
    posts = by_name(fetch(upstream))
    assert posts["t3_1gq8x08"].nsfw is True and posts["t3_1gq8x07"].nsfw is False
    batch = fetch(upstream, skip_nsfw=True)
    assert "t3_1gq8x08" not in by_name(batch)
    assert {"t3_1gq8x08": "nsfw_skipped"}.items() <= {
        o["post"]: o["code"] for o in batch.left_out
    }.items()


def test_unknown_subreddit_redirected_to_search_is_source_not_found(upstream):
    upstream.routes["/r/nosuchsub42/new.json"] = Reply(
        302, b"", {"Location": "/subreddits/search.json?q=nosuchsub42&limit=100&raw_json=1"}
    )
    upstream.routes["/subreddits/search.json"] = Reply(
        body={"kind": "Listing", "data": {"after": None, "dist": 0, "children": []}}
    )
    cfg = clean_config("reddit", {"subreddit": "nosuchsub42", "base_url": upstream.url})
    with SafeClient() as client, pytest.raises(SourceNotFound) as missing:
        RedditConnector().fetch(client, cfg, {}, limit=10)
    assert missing.value.code == "source_not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["redirect", "banned"])
def test_a_missing_subreddit_fails_the_run_and_the_source_page_says_so(alice, upstream, answer):
    if answer == "redirect":
        upstream.routes["/r/nosuchsub42/new.json"] = Reply(
            302, b"", {"Location": "/subreddits/search.json?q=nosuchsub42"}
        )
        upstream.routes["/subreddits/search.json"] = Reply(
            body={"kind": "Listing", "data": {"after": None, "dist": 0, "children": []}}
        )
    else:
        upstream.routes["/r/nosuchsub42/new.json"] = Reply(
            404, {"reason": "banned", "message": "Not Found", "error": 404}
        )
    source = make_source(
        alice.tenant, "reddit", {"subreddit": "nosuchsub42", "base_url": upstream.url}
    )
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.FAILED and run.error_code == "source_not_found"
    page = alice.client.get(f"/api/v1/sources/{source.pk}").json()
    assert page["last_run"]["error"]["code"] == "source_not_found"
    assert "nosuchsub42" in page["last_run"]["error"]["message"]


@pytest.mark.django_db
def test_a_run_stores_roles_and_nsfw_and_counts_what_it_left_out(alice, upstream):
    body = listing()
    children = body["data"]["children"]
    children[2]["data"]["preview"]["images"][0]["source"]["url"] = upstream.url + "/card.jpg"
    children[7]["data"]["url"] = children[7]["data"]["url_overridden_by_dest"] = (
        upstream.url + "/spill.jpeg"
    )
    for child in children:  # no other downloads
        if child["data"]["name"] != "t3_1gq8x03":
            child["data"].pop("preview", None)
        if child["data"].get("is_gallery"):
            child["data"]["media_metadata"] = {}
            child["data"]["gallery_data"] = {"items": []}
    upstream.routes[PATH] = Reply(body=body)
    upstream.routes["/card.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    upstream.routes["/spill.jpeg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    source = make_source(
        alice.tenant, "reddit", {"subreddit": "espresso", "base_url": upstream.url}
    )
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    posts = {p.external_id: p for p in Post.objects.filter(source=source)}
    assert posts["t3_1gq8x03"].media_role == "preview"
    assert posts["t3_1gq8x08"].media_role == "photo" and posts["t3_1gq8x08"].nsfw is True
    assert posts["t3_1gq8x07"].media_role == "" and posts["t3_1gq8x07"].nsfw is False
    assert "t3_1gq8x05" not in posts and "t3_1gq8x06" not in posts
    assert run.fetched == 8 and run.new == 6 and run.skipped == 2
    assert {w["code"] for w in run.warnings} >= {"removed_post"}
    listed = alice.client.get("/api/v1/posts", {"source": str(source.pk), "media_role": "preview"})
    assert [p["external_id"] for p in listed.json()["results"]] == ["t3_1gq8x03"]
