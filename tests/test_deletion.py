"""DELETE /media/{id} and /posts/{id} leave no row and no file behind."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from emotionhub.jobs.models import AnalysisResult
from emotionhub.media.models import Media
from emotionhub.reporting.models import ResultFact
from emotionhub.review import labels
from emotionhub.review.models import ReviewLabel
from tests.responsible import related_ids, rows_left, submit_photo

pytestmark = pytest.mark.django_db


def label_first_face(media: Media) -> None:
    result = AnalysisResult.objects.get(media=media, analyzer="facial_emotion")
    assert result.payload["face_count"] >= 1
    reviewer = User.objects.create_user("reviewer")
    labels.record(result, "face:0", "happy", reviewer)


def test_deleting_media_removes_file_jobs_results_facts_and_labels(
    alice, settings, django_capture_on_commit_callbacks
):
    media = submit_photo(alice)
    label_first_face(media)
    path = settings.MEDIA_ROOT / media.file.name
    assert path.is_file()
    assert ResultFact.objects.filter(media=media).count() == 2
    assert ReviewLabel.objects.filter(result__media=media).count() == 1
    targets = related_ids([media.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.client.delete(f"/api/v1/media/{media.pk}")
    assert response.status_code == 204, response.content
    assert rows_left(targets) == {}
    assert not path.exists()
    assert alice.client.get(f"/api/v1/media/{media.pk}").status_code == 404


def test_deleting_media_of_another_tenant_is_not_found_and_removes_nothing(alice, bob):
    media = submit_photo(alice, analyzers="example")
    response = bob.client.delete(f"/api/v1/media/{media.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Media.objects.filter(pk=media.pk).exists()


def test_deleting_a_submission_row_takes_the_files_with_it(
    alice, settings, django_capture_on_commit_callbacks
):
    """Any deletion path (admin, tenant removal) removes files, not only the API's."""
    media = submit_photo(alice, analyzers="example")
    path = settings.MEDIA_ROOT / media.file.name
    with django_capture_on_commit_callbacks(execute=True):
        media.submission.delete()
    assert not path.exists()
