"""Responsible use in social ingestion (docs/responsible-use.md): posts whose analysis would
infer emotion from faces for a prohibited or undeclared purpose are skipped with the code
as the run's warning, and a tenant that requires consent gets the text of posts analysed
but none of their images downloaded. Real fetch runs and pushes against local upstreams."""

from __future__ import annotations

import pytest

from emotionhub.accounts.models import AnalysisPurpose
from emotionhub.jobs.models import AnalysisJob, Submission
from emotionhub.media.models import Media
from emotionhub.social import runs
from emotionhub.social.models import Post, RunStatus, Source
from tests.social.conftest import Reply, jpeg_bytes, make_source
from tests.social.test_connectors import MastodonTimeline, status
from tests.social.test_push import push

pytestmark = pytest.mark.django_db

FACE_ANALYZERS = ["facial_emotion", "image_sentiment"]


@pytest.fixture
def tenant(alice):
    return alice.tenant


def stored_files(settings) -> list:
    return sorted(p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())


def mastodon_source(tenant, upstream, **fields) -> Source:
    return make_source(tenant, "mastodon", {"instance": upstream.url, "hashtag": "cats"}, **fields)


def timeline_with_a_photo_post(upstream) -> tuple[str, str]:
    """Status 1 has text and a photo, status 2 only text; their external ids."""
    upstream.routes["/media/1-0.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    MastodonTimeline(
        upstream,
        [status(1, "smiles all round", images=1, base=upstream.url), status(2, "just words")],
    )
    return status(1)["id"], status(2)["id"]


def set_tenant(tenant, **fields) -> None:
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.save(update_fields=list(fields))


@pytest.mark.parametrize("purpose", [AnalysisPurpose.WORKPLACE, AnalysisPurpose.EDUCATION])
@pytest.mark.parametrize("face_analyzer", FACE_ANALYZERS)
def test_posts_needing_face_emotion_are_skipped_once_the_purpose_became_prohibited(
    tenant, upstream, settings, purpose, face_analyzer
):
    # Configured while allowed (customer feedback), then the tenant's purpose changed.
    source = mastodon_source(tenant, upstream, analyzers=[face_analyzer, "text_length"])
    set_tenant(tenant, purpose=purpose)
    photo_id, text_id = timeline_with_a_photo_post(upstream)
    files_before = stored_files(settings)

    run = runs.fetch_source(str(source.pk))

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert (run.fetched, run.new, run.skipped, run.media_stored) == (2, 1, 1, 0)
    warnings = [w for w in run.warnings if w["post"] == photo_id]
    assert [w["code"] for w in warnings] == ["purpose_prohibited"]
    assert "Art. 5(1)(f)" in warnings[0]["message"]
    assert "docs/responsible-use.md" in warnings[0]["message"]
    # The photo post is absent as a whole: no post, media, submission, job or file.
    assert list(Post.objects.filter(source=source).values_list("external_id", flat=True)) == [
        text_id
    ]
    assert not Media.objects.filter(kind="image").exists()
    assert not AnalysisJob.objects.filter(analyzer__in=FACE_ANALYZERS).exists()
    assert stored_files(settings) == files_before
    # Text alone needs no face analyzer: that post is analysed as usual.
    text_post = Post.objects.get(source=source)
    assert text_post.submission is not None
    jobs = AnalysisJob.objects.filter(submission=text_post.submission)
    assert [(j.media.kind, j.analyzer) for j in jobs] == [("text", "text_length")]
    assert Submission.objects.count() == 1


def test_undeclared_purpose_skips_posts_for_the_default_analyzers_with_purpose_undeclared(
    tenant, upstream
):
    set_tenant(tenant, purpose=AnalysisPurpose.UNDECLARED)
    # An empty list means every enabled analyzer, face ones included.
    source = mastodon_source(tenant, upstream, analyzers=[])
    photo_id, text_id = timeline_with_a_photo_post(upstream)

    run = runs.fetch_source(str(source.pk))

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert (run.new, run.skipped) == (1, 1)
    assert [w["code"] for w in run.warnings if w["post"] == photo_id] == ["purpose_undeclared"]
    assert set(Post.objects.values_list("external_id", flat=True)) == {text_id}
    assert not Media.objects.filter(kind="image").exists()
    assert not AnalysisJob.objects.filter(analyzer__in=FACE_ANALYZERS).exists()


def test_allowed_purpose_analyses_the_same_posts_with_face_analyzers(tenant, upstream):
    """The control: with customer feedback both posts and the photo's face job exist."""
    source = mastodon_source(tenant, upstream, analyzers=["facial_emotion", "text_length"])
    timeline_with_a_photo_post(upstream)
    run = runs.fetch_source(str(source.pk))
    assert (run.new, run.skipped, run.media_stored) == (2, 0, 1)
    assert AnalysisJob.objects.filter(analyzer="facial_emotion", media__kind="image").count() == 1


def test_a_push_for_a_prohibited_purpose_answers_skipped_with_the_code(tenant, upstream):
    upstream.routes["/p.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    hook = make_source(tenant, "webhook", {}, analyzers=["image_sentiment", "text_length"])
    set_tenant(tenant, purpose=AnalysisPurpose.WORKPLACE)
    payload = {
        "posts": [
            {"id": "photo", "text": "team offsite", "images": [upstream.url + "/p.jpg"]},
            {"id": "words", "text": "the canteen is great"},
        ]
    }
    response = push(hook, payload)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["received"], body["created"], body["skipped"]) == (2, 1, 1)
    assert {p["id"]: p["status"] for p in body["posts"]} == {
        "photo": "skipped",
        "words": "created",
    }
    run = hook.runs.get()
    assert [w["code"] for w in run.warnings if w["post"] == "photo"] == ["purpose_prohibited"]
    assert list(Post.objects.values_list("external_id", flat=True)) == ["words"]
    assert not AnalysisJob.objects.filter(analyzer="image_sentiment").exists()


@pytest.mark.parametrize("analyzers", [["example", "text_length"], ["facial_emotion", "example"]])
def test_consent_required_skips_post_images_without_downloading_and_analyses_the_text(
    tenant, upstream, analyzers
):
    set_tenant(tenant, require_consent=True)
    source = mastodon_source(tenant, upstream, analyzers=analyzers)
    photo_id, _ = timeline_with_a_photo_post(upstream)

    run = runs.fetch_source(str(source.pk))

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert (run.new, run.skipped, run.media_stored, run.media_skipped) == (2, 0, 0, 1)
    assert upstream.hits("/media/1-0.jpg") == []  # never downloaded
    post = Post.objects.get(source=source, external_id=photo_id)
    assert post.skipped_media == [
        {
            "url": upstream.url + "/media/1-0.jpg",
            "code": "consent_required",
            "message": "the tenant requires consent, which posts do not state",
        }
    ]
    assert post.text == "smiles all round #cats"
    assert list(post.media.values_list("kind", flat=True)) == ["text"]
    assert post.submission.consent == "unknown"
    text_analyzers = [a for a in analyzers if a in ("example", "text_length")]
    jobs = AnalysisJob.objects.filter(submission=post.submission)
    assert sorted(jobs.values_list("analyzer", flat=True)) == sorted(text_analyzers)
    assert not Media.objects.filter(kind="image").exists()


def test_consent_required_push_of_an_image_only_post_is_skipped_as_empty(tenant, upstream):
    upstream.routes["/p.jpg"] = Reply(body=jpeg_bytes(), content_type="image/jpeg")
    hook = make_source(tenant, "webhook", {})
    set_tenant(tenant, require_consent=True)
    payload = {
        "posts": [
            {"id": "only-photo", "images": [upstream.url + "/p.jpg"]},
            {"id": "with-text", "text": "hello", "images": [upstream.url + "/p.jpg"]},
        ]
    }
    response = push(hook, payload)
    assert response.status_code == 201, response.json()
    assert {p["id"]: p["status"] for p in response.json()["posts"]} == {
        "only-photo": "skipped",
        "with-text": "created",
    }
    assert upstream.hits("/p.jpg") == []
    post = Post.objects.get()
    assert [m["code"] for m in post.skipped_media] == ["consent_required"]
    assert list(post.media.values_list("kind", flat=True)) == ["text"]
    run = hook.runs.get()
    assert [w["code"] for w in run.warnings if w["post"] == "only-photo"] == ["empty_post"]
