"""DELETE /posts/{id}: the post, its media and files, jobs, results, facts, labels and
submission are gone; the deletion is audit-logged."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from emotionhub.audit.models import AuditEvent
from emotionhub.jobs.models import AnalysisResult
from emotionhub.review import labels
from emotionhub.social import runs
from tests.responsible import ASTRONAUT, related_ids, rows_left, run_jobs
from tests.social.conftest import Reply, make_source
from tests.social.test_connectors import MastodonTimeline, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(alice, upstream):
    upstream.routes["/media/1-0.jpg"] = Reply(
        body=ASTRONAUT.read_bytes(), content_type="image/jpeg"
    )
    MastodonTimeline(upstream, [status(1, "launch day", images=1, base=upstream.url)])
    source = make_source(
        alice.tenant,
        "mastodon",
        {"instance": upstream.url, "hashtag": "cats"},
        analyzers=["facial_emotion", "text_length"],
    )
    runs.fetch_source(str(source.pk))
    post = source.posts.get()
    for media in post.media.all():
        run_jobs(media)
    return post


def test_deleting_a_post_removes_every_row_and_file_derived_from_it(
    alice, bob, post, settings, django_capture_on_commit_callbacks
):
    image = post.media.get(kind="image")
    result = AnalysisResult.objects.get(media=image, analyzer="facial_emotion")
    labels.record(result, "face:0", "happy", User.objects.create_user("reviewer"))
    path = settings.MEDIA_ROOT / image.file.name
    assert path.is_file()
    media_ids = list(post.media.values_list("pk", flat=True))
    assert len(media_ids) == 2
    targets = related_ids(media_ids, [post.submission_id], [post.pk])
    assert bob.client.delete(f"/api/v1/posts/{post.pk}").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.client.delete(f"/api/v1/posts/{post.pk}")
    assert response.status_code == 204, response.content
    assert rows_left(targets) == {}
    assert not path.exists()
    event = AuditEvent.objects.get(action="delete", obj_type="post")
    assert (event.obj_id, event.count) == (str(post.pk), 2)
    assert sorted(event.details["media"]) == sorted(str(pk) for pk in media_ids)
    assert post.source.posts.count() == 0  # the source itself stays
