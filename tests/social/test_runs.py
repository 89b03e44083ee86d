"""A fetch run end to end in-process: posts, media and jobs written, runs recorded,
duplicates, caps, media limits, rate limits and malformed upstreams."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from emotionhub.jobs.models import AnalysisJob
from emotionhub.media.models import Media
from emotionhub.social import runs
from emotionhub.social.models import Post, RunStatus, Source
from tests.conftest import png_bytes
from tests.social.conftest import Reply, jpeg_bytes, make_source
from tests.social.test_connectors import MastodonTimeline, RedditListing, link, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(alice):
    return alice.tenant


def mastodon_source(tenant, upstream, **fields) -> Source:
    return make_source(tenant, "mastodon", {"instance": upstream.url, "hashtag": "cats"}, **fields)


def test_a_run_creates_posts_with_media_and_jobs_then_counts_duplicates(tenant, upstream):
    upstream.routes["/media/2-0.jpg"] = Reply(body=jpeg_bytes((32, 24)), content_type="image/jpeg")
    timeline = MastodonTimeline(
        upstream, [status(1, "so happy"), status(2, "look", images=1, base=upstream.url)]
    )
    source = mastodon_source(tenant, upstream)

    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert (run.fetched, run.new, run.duplicate, run.media_stored) == (2, 2, 0, 1)
    assert run.http_status == 200 and run.finished_at
    posts = {p.text: p for p in Post.objects.filter(source=source)}
    with_image = posts["look #cats"]
    media = {m.kind: m for m in with_image.media.all()}
    assert media["image"].width == 32 and media["image"].text == "look #cats"  # caption
    assert media["text"].text == "look #cats"
    assert with_image.submission.media.count() == 2
    jobs = AnalysisJob.objects.filter(submission=with_image.submission)
    assert sorted((j.media.kind, j.analyzer) for j in jobs) == [
        ("image", "example"),
        ("text", "example"),
        ("text", "text_length"),
    ]
    assert all(j.status == "queued" and j.tenant_id == tenant.pk for j in jobs)
    source.refresh_from_db()
    assert source.cursor == {"min_id": status(2)["id"]} and source.fetch_lease_until is None
    assert source.last_fetched_at == run.finished_at

    timeline.statuses.append(status(3, "third"))
    # The upstream repeats a known status: the constraint's look-up drops it.
    Source.objects.filter(pk=source.pk).update(cursor={})
    again = runs.fetch_source(str(source.pk))
    assert (again.fetched, again.new, again.duplicate) == (3, 1, 2)
    assert Post.objects.filter(source=source).count() == 3


def test_caps_on_posts_and_media_per_run(tenant, upstream, settings):
    settings.EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_POST = 2
    for n in range(10):
        upstream.routes[f"/media/{n}-0.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
        upstream.routes[f"/media/{n}-1.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    MastodonTimeline(upstream, [status(n, images=3, base=upstream.url) for n in range(10)])
    source = mastodon_source(tenant, upstream, max_posts_per_run=4, max_media_per_run=3)
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.SUCCEEDED
    assert run.fetched == 4 and run.new == 4  # the connector asked for 4
    assert run.media_stored == 3
    # Per post: the third image is over the per-post cap; after 3 downloads the run's cap.
    assert run.media_skipped == 4 * 3 - 3
    assert Media.objects.filter(kind="image", source_post__source=source).count() == 3
    reasons = [m["code"] for p in Post.objects.filter(source=source) for m in p.skipped_media]
    assert reasons.count("media_cap") == 9


def test_rss_cap_keeps_the_newest_and_counts_the_rest_as_skipped(tenant, upstream):
    items = "".join(
        f"<item><guid>g{n}</guid><title>Entry {n}</title></item>" for n in range(9, 0, -1)
    )
    upstream.routes["/feed"] = Reply(
        body=f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
        content_type="application/rss+xml",
    )
    source = make_source(tenant, "rss", {"url": upstream.url + "/feed"}, max_posts_per_run=5)
    run = runs.fetch_source(str(source.pk))
    assert (run.fetched, run.new, run.skipped) == (9, 5, 4)
    assert set(Post.objects.values_list("external_id", flat=True)) == {"g9", "g8", "g7", "g6", "g5"}
    run = runs.fetch_source(str(source.pk))
    assert (run.new, run.duplicate, run.skipped) == (4, 5, 0)


def test_images_over_limits_or_not_images_are_skipped_and_the_post_kept(tenant, upstream, settings):
    settings.EMOTIONHUB_MAX_UPLOAD_BYTES = {**settings.EMOTIONHUB_MAX_UPLOAD_BYTES, "image": 5000}
    settings.EMOTIONHUB_MAX_IMAGE_PIXELS = 100 * 100
    big = jpeg_bytes((10, 10)) + b"\0" * 6000
    upstream.routes["/media/1-0.jpg"] = Reply(body=big, content_type="image/jpeg")
    upstream.routes["/media/1-1.jpg"] = Reply(body="<html/>", content_type="text/html")
    upstream.routes["/media/1-2.jpg"] = Reply(body=png_bytes((200, 200)), content_type="image/png")
    upstream.routes["/media/1-3.jpg"] = Reply(body=b"GIF89a not really", content_type="image/gif")
    upstream.routes["/media/1-4.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    settings.EMOTIONHUB_SOCIAL_MAX_MEDIA_PER_POST = 6
    MastodonTimeline(upstream, [status(1, "pics", images=6, base=upstream.url)])
    source = mastodon_source(tenant, upstream)
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.SUCCEEDED and run.new == 1
    assert (run.media_stored, run.media_skipped) == (1, 5)
    post = Post.objects.get(source=source)
    codes = [m["code"] for m in post.skipped_media]
    assert codes == [
        "response_too_large",
        "unexpected_content_type",
        "image_too_large",
        "corrupt_image",
        "upstream_http_error",  # /media/1-5.jpg: 404
    ]
    assert [w["code"] for w in run.warnings] == codes
    assert post.media.filter(kind="image").count() == 1


def test_429_sets_next_allowed_time_and_ticks_before_it_do_nothing(tenant, upstream):
    upstream.routes["/api/v1/timelines/tag/cats"] = Reply(
        429, {"error": "Too many requests"}, {"Retry-After": "120"}
    )
    source = mastodon_source(tenant, upstream)
    before = timezone.now()
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.FAILED and run.error_code == "rate_limited"
    assert run.http_status == 429
    source.refresh_from_db()
    wait = (source.next_fetch_allowed_at - before).total_seconds()
    assert 119 <= wait <= 122 and source.consecutive_failures == 1
    assert source.fetch_lease_until is None
    assert runs.fetch_source(str(source.pk)) is None  # not due: no request, no run
    assert len(upstream.requests) == 1 and source.runs.count() == 1
    # Once the time has passed the next tick fetches, and success clears the back-off.
    MastodonTimeline(upstream, [status(1)])
    Source.objects.filter(pk=source.pk).update(
        next_fetch_allowed_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert runs.fetch_source(str(source.pk)).status == RunStatus.SUCCEEDED
    source.refresh_from_db()
    assert source.next_fetch_allowed_at is None and source.consecutive_failures == 0


def test_failures_back_off_exponentially(tenant, upstream, settings):
    settings.EMOTIONHUB_SOCIAL_BACKOFF_BASE_SECONDS = 10
    upstream.routes["/api/v1/timelines/tag/cats"] = Reply(503, {"error": "down"})
    source = mastodon_source(tenant, upstream)
    waits = []
    for _ in range(3):
        start = timezone.now()
        run = runs.fetch_source(str(source.pk))
        assert run.error_code == "upstream_http_error" and run.http_status == 503
        source.refresh_from_db()
        waits.append(round((source.next_fetch_allowed_at - start).total_seconds()))
        Source.objects.filter(pk=source.pk).update(next_fetch_allowed_at=None)
    assert waits == [10, 20, 40]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "Listing"},
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"title": "no name"}}]}},
        "<html>maintenance</html>",
    ],
)
def test_malformed_upstream_fails_the_run_with_a_recorded_error(tenant, upstream, body):
    upstream.routes["/r/python/new.json"] = Reply(body=body)
    source = make_source(tenant, "reddit", {"subreddit": "python", "base_url": upstream.url})
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.FAILED and run.error_code == "malformed_payload"
    assert run.error_message and run.finished_at
    assert Post.objects.count() == 0
    source.refresh_from_db()
    assert source.cursor == {} and source.next_fetch_allowed_at is not None


def test_a_failed_run_keeps_the_posts_before_it_and_the_old_cursor(tenant, upstream):
    listing = RedditListing(upstream, [link(n) for n in range(150, 0, -1)])
    source = make_source(tenant, "reddit", {"subreddit": "python", "base_url": upstream.url})
    runs.fetch_source(str(source.pk))
    source.refresh_from_db()
    cursor = source.cursor
    listing.links = [link(n) for n in range(160, 0, -1)]
    upstream.routes["/r/python/new.json"] = Reply(body={"kind": "Listing", "data": None})
    run = runs.fetch_source(str(source.pk))
    assert run.error_code == "malformed_payload"
    source.refresh_from_db()
    assert source.cursor == cursor


def test_loopback_source_is_refused_under_the_default_policy(tenant, upstream, default_policy):
    MastodonTimeline(upstream, [status(1)])
    source = mastodon_source(tenant, upstream)
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.FAILED and run.error_code == "unsafe_url"
    assert upstream.requests == [] and Post.objects.count() == 0


def test_image_links_to_private_addresses_are_refused_by_default(tenant, upstream, settings):
    MastodonTimeline(upstream, [status(1, images=1, base="http://169.254.169.254")])
    source = mastodon_source(tenant, upstream)
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.SUCCEEDED and run.media_skipped == 1
    assert Post.objects.get().skipped_media[0]["code"] == "unsafe_url"


def test_disabled_analyzer_or_bad_config_fails_the_run_before_any_request(tenant, upstream):
    source = mastodon_source(tenant, upstream, analyzers=["no_such_analyzer"])
    run = runs.fetch_source(str(source.pk))
    assert run.error_code == "unknown_analyzer"
    other = mastodon_source(tenant, upstream)
    Source.objects.filter(pk=other.pk).update(config={"instance": "gopher://x"})
    assert runs.fetch_source(str(other.pk)).error_code == "invalid_config"
    assert upstream.requests == []


def test_disabled_running_or_webhook_sources_are_not_fetched(tenant, upstream):
    source = mastodon_source(tenant, upstream, enabled=False)
    assert runs.fetch_source(str(source.pk)) is None
    pushed = make_source(tenant, "webhook", {})
    assert runs.fetch_source(str(pushed.pk)) is None
    busy = mastodon_source(tenant, upstream)
    Source.objects.filter(pk=busy.pk).update(
        fetch_lease_until=timezone.now() + datetime.timedelta(minutes=5)
    )
    assert runs.fetch_source(str(busy.pk)) is None
    assert upstream.requests == []


def test_a_run_left_running_by_a_dead_worker_is_closed_on_the_next_claim(tenant, upstream):
    MastodonTimeline(upstream, [status(1)])
    source = mastodon_source(tenant, upstream)
    stale = source.runs.create(tenant=tenant, trigger="schedule")
    runs.fetch_source(str(source.pk))
    stale.refresh_from_db()
    assert stale.status == RunStatus.FAILED and stale.error_code == "worker_lost"


def test_posts_with_neither_text_nor_images_are_skipped(tenant, upstream):
    empty = status(1)
    empty["content"] = "<p> </p>"
    MastodonTimeline(upstream, [empty, status(2, "words")])
    source = mastodon_source(tenant, upstream)
    run = runs.fetch_source(str(source.pk))
    assert (run.new, run.skipped) == (1, 1)
    assert run.warnings[0]["code"] == "empty_post"
