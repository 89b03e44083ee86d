"""GET /posts: a post's media, jobs and results gathered, with the documented summary."""

from __future__ import annotations

import pytest

from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus
from emotionhub.social import runs
from emotionhub.social.summary import summarise
from tests.social.conftest import Reply, jpeg_bytes, make_source
from tests.social.test_connectors import MastodonTimeline, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(alice, upstream):
    upstream.routes["/media/1-0.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    MastodonTimeline(upstream, [status(1, "sunny", images=1, base=upstream.url)])
    source = make_source(alice.tenant, "mastodon", {"instance": upstream.url, "hashtag": "cats"})
    runs.fetch_source(str(source.pk))
    return source.posts.get()


def add_result(media, analyzer: str, payload: dict) -> None:
    AnalysisResult.objects.create(
        tenant=media.tenant,
        media=media,
        analyzer=analyzer,
        analyzer_version="1",
        model_version="m",
        payload=payload,
        device="cpu",
        duration_ms=1.0,
    )


def test_post_detail_gathers_media_jobs_and_results(alice, post):
    body = alice.client.get(f"/api/v1/posts/{post.pk}").json()
    assert body["text"] == "sunny #cats" and body["status"] == "queued"
    assert sorted(m["kind"] for m in body["media"]) == ["image", "text"]
    assert body["summary"]["job_counts"] == {"queued": 3}
    assert body["summary"]["analyzers"]["example"] == {"jobs": {"queued": 2}, "results": 0}
    assert body["summary"]["sentiment"] is None

    image = post.media.get(kind="image")
    text = post.media.get(kind="text")
    AnalysisJob.objects.filter(media__source_post=post).update(status=JobStatus.SUCCEEDED)
    add_result(image, "example", {"width": 32, "height": 24, "mean_brightness": 150.0})
    # The shapes text_sentiment and image_sentiment report (label + polarity score).
    add_result(text, "text_sentiment", {"scored": True, "label": "positive", "score": 0.6})
    add_result(image, "image_sentiment", {"scored": True, "label": "neutral", "score": 0.1})
    body = alice.client.get(f"/api/v1/posts/{post.pk}").json()
    assert body["status"] == "succeeded"
    sentiment = body["summary"]["sentiment"]
    assert sentiment == {
        "label": "positive",
        "score": 0.35,
        "based_on": [
            {"analyzer": "image_sentiment", "media": str(image.pk), "score": 0.1},
            {"analyzer": "text_sentiment", "media": str(text.pk), "score": 0.6},
        ],
    }
    media = {m["kind"]: m for m in body["media"]}
    assert {r["analyzer"] for r in media["image"]["results"]} == {"example", "image_sentiment"}


def test_post_list_filters_and_tenancy(alice, bob, post):
    listed = alice.client.get("/api/v1/posts", {"source": str(post.source_id)}).json()
    assert listed["count"] == 1 and listed["results"][0]["status"] == "queued"
    assert bob.client.get("/api/v1/posts").json()["count"] == 0
    assert bob.client.get(f"/api/v1/posts/{post.pk}").json()["error"]["code"] == "not_found"


def test_summary_votes_unscored_results_and_labels_without_scores(post):
    text = post.media.get(kind="text")
    image = post.media.get(kind="image")
    add_result(text, "text_sentiment", {"scored": False, "label": None, "score": None})
    add_result(image, "example", {"label": "positive", "score": 1.0})  # not a sentiment vote
    media = post.media.prefetch_related("jobs", "results")
    assert summarise(media)["sentiment"] is None
    add_result(image, "image_sentiment", {"label": "negative"})
    sentiment = summarise(post.media.prefetch_related("jobs", "results"))["sentiment"]
    assert (sentiment["label"], sentiment["score"]) == ("negative", -1.0)
