"""Responsible use in social ingestion (docs/responsible-use.md): when the tenant's purpose
rules out face emotion (prohibited, or undeclared), post images are withheld from those
analyzers, never downloaded, listed in the post's skipped media and the run's warnings with
the code, while the text is analysed; a tenant that requires consent gets the same for
every image. Real fetch runs and pushes against local upstreams."""

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
def test_images_are_withheld_from_face_emotion_once_the_purpose_became_prohibited(
    tenant, upstream, settings, purpose, face_analyzer
):
    # Configured while allowed (customer feedback), then the tenant's purpose changed.
    source = mastodon_source(tenant, upstream, analyzers=[face_analyzer, "text_length"])
    set_tenant(tenant, purpose=purpose)
    photo_id, text_id = timeline_with_a_photo_post(upstream)
    files_before = stored_files(settings)

    run = runs.fetch_source(str(source.pk))

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert (run.fetched, run.new, run.skipped, run.media_stored, run.media_skipped) == (
        2,
        2,
        0,
        0,
        1,
    )
    warnings = [w for w in run.warnings if w["post"] == photo_id]
    assert [w["code"] for w in warnings] == ["purpose_prohibited"]
    assert "Art. 5(1)(f)" in warnings[0]["message"]
    assert "docs/responsible-use.md" in warnings[0]["message"]
    assert upstream.hits("/media/1-0.jpg") == []  # never downloaded
    photo_post = Post.objects.get(source=source, external_id=photo_id)
    assert [m["code"] for m in photo_post.skipped_media] == ["purpose_prohibited"]
    # No image, face job or stored image file; both posts' text is analysed as usual.
    assert not Media.objects.filter(kind="image").exists()
    assert not AnalysisJob.objects.filter(analyzer__in=FACE_ANALYZERS).exists()
    assert len(stored_files(settings)) == len(files_before)
    for external_id in (photo_id, text_id):
        post = Post.objects.get(source=source, external_id=external_id)
        jobs = AnalysisJob.objects.filter(submission=post.submission)
        assert [(j.media.kind, j.analyzer) for j in jobs] == [("text", "text_length")]
    assert Submission.objects.count() == 2


def test_undeclared_purpose_withholds_images_from_the_default_analyzers(tenant, upstream):
    set_tenant(tenant, purpose=AnalysisPurpose.UNDECLARED)
    # An empty list means every enabled analyzer, face ones included.
    source = mastodon_source(tenant, upstream, analyzers=[])
    photo_id, text_id = timeline_with_a_photo_post(upstream)

    run = runs.fetch_source(str(source.pk))

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert (run.new, run.skipped) == (2, 0)
    assert [w["code"] for w in run.warnings if w["post"] == photo_id] == ["purpose_undeclared"]
    assert set(Post.objects.values_list("external_id", flat=True)) == {photo_id, text_id}
    assert not AnalysisJob.objects.filter(analyzer__in=FACE_ANALYZERS).exists()
    # Image analyzers that do not read faces (the example plugin) still get the image.
    assert Media.objects.filter(kind="image").count() == 1
    image_jobs = AnalysisJob.objects.filter(media__kind="image")
    assert image_jobs.exists()
    assert not {"facial_emotion", "image_sentiment"} & set(
        image_jobs.values_list("analyzer", flat=True)
    )


def test_allowed_purpose_analyses_the_same_posts_with_face_analyzers(tenant, upstream):
    """The control: with customer feedback both posts and the photo's face job exist."""
    source = mastodon_source(tenant, upstream, analyzers=["facial_emotion", "text_length"])
    timeline_with_a_photo_post(upstream)
    run = runs.fetch_source(str(source.pk))
    assert (run.new, run.skipped, run.media_stored) == (2, 0, 1)
    assert AnalysisJob.objects.filter(analyzer="facial_emotion", media__kind="image").count() == 1


def test_a_push_for_a_prohibited_purpose_keeps_the_text_and_withholds_the_image(tenant, upstream):
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
    assert (body["received"], body["created"], body["skipped"]) == (2, 2, 0)
    run = hook.runs.get()
    assert [w["code"] for w in run.warnings if w["post"] == "photo"] == ["purpose_prohibited"]
    assert upstream.hits("/p.jpg") == []
    assert set(Post.objects.values_list("external_id", flat=True)) == {"photo", "words"}
    assert not Media.objects.filter(kind="image").exists()
    assert not AnalysisJob.objects.filter(analyzer="image_sentiment").exists()
    assert AnalysisJob.objects.filter(analyzer="text_length").count() == 2


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
