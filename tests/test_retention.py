"""Retention purge: expired images lose their file and face data, keep their labels."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from emotionhub.audit.models import AuditEvent
from emotionhub.jobs.models import AnalysisResult
from emotionhub.media import retention
from emotionhub.media.models import Media
from emotionhub.reporting.models import ResultFact
from tests.responsible import submit_photo

pytestmark = pytest.mark.django_db


def age(media: Media, days: float) -> None:
    Media.objects.filter(pk=media.pk).update(created_at=timezone.now() - dt.timedelta(days=days))


def has_face_keys(payload) -> bool:
    if isinstance(payload, dict):
        return any(k in retention.FACE_KEYS or has_face_keys(v) for k, v in payload.items())
    if isinstance(payload, list):
        return any(has_face_keys(v) for v in payload)
    return False


@pytest.fixture
def expired_photo(alice):
    alice.tenant.media_retention_days = 30
    alice.tenant.save(update_fields=["media_retention_days"])
    media = submit_photo(alice)
    age(media, 31)
    return media


def test_purge_removes_file_and_face_data_and_keeps_labels(
    alice, expired_photo, settings, django_capture_on_commit_callbacks
):
    path = settings.MEDIA_ROOT / expired_photo.file.name
    fresh = submit_photo(alice, analyzers="example")  # within retention: untouched
    before = AnalysisResult.objects.get(media=expired_photo, analyzer="facial_emotion").payload
    assert before["face_count"] >= 1 and has_face_keys(before)
    facts_before = list(ResultFact.objects.filter(media=expired_photo).values("label", "emotion"))

    with django_capture_on_commit_callbacks(execute=True):
        report = retention.purge_expired(batch_size=1)
    assert (report.media, report.files, report.results_stripped) == (1, 1, 1)
    assert not path.exists()
    assert (settings.MEDIA_ROOT / fresh.file.name).is_file()
    expired_photo.refresh_from_db()
    assert expired_photo.purged_at is not None and not expired_photo.file
    after = AnalysisResult.objects.get(media=expired_photo, analyzer="facial_emotion").payload
    assert not has_face_keys(after) and after[retention.PURGED_MARKER] is True
    assert [f["label"] for f in after["faces"]] == [f["label"] for f in before["faces"]]
    assert [f["emotions"] for f in after["faces"]] == [f["emotions"] for f in before["faces"]]
    assert list(ResultFact.objects.filter(media=expired_photo).values("label", "emotion")) == (
        facts_before
    )
    event = AuditEvent.objects.get(action="purge")
    assert event.count == 1 and event.details["media"] == [str(expired_photo.pk)]
    assert event.tenant_id == alice.tenant.pk

    # Idempotent: nothing left to purge, no second event.
    assert retention.purge_expired().media == 0
    assert AuditEvent.objects.filter(action="purge").count() == 1


def test_dry_run_command_changes_nothing(expired_photo, settings):
    out = io.StringIO()
    call_command("purge_expired_media", "--dry-run", stdout=out)
    assert "alice: would purge 1 media" in out.getvalue()
    expired_photo.refresh_from_db()
    assert expired_photo.purged_at is None
    assert (settings.MEDIA_ROOT / expired_photo.file.name).is_file()
    assert not AuditEvent.objects.filter(action="purge").exists()


def test_command_purges_and_tenants_without_retention_keep_everything(bob, expired_photo):
    kept = submit_photo(bob, analyzers="example")
    age(kept, 3650)
    out = io.StringIO()
    call_command("purge_expired_media", stdout=out)
    assert "purged 1 media" in out.getvalue()
    kept.refresh_from_db()
    assert kept.purged_at is None and kept.file


def test_strip_face_data_covers_image_sentiment_and_video_shapes():
    image_sentiment = {
        "label": "positive",
        "components": {
            "faces": {"details": {"faces": [{"box": [1, 2, 3, 4], "label": "happy"}]}},
        },
    }
    video = {"tracks": [{"track_id": 0, "label": "sad", "last_box": [0, 0, 5, 5]}]}
    stripped, changed = retention.strip_face_data(image_sentiment)
    assert changed and stripped["components"]["faces"]["details"]["faces"] == [{"label": "happy"}]
    stripped, changed = retention.strip_face_data(video)
    assert changed and stripped == {"tracks": [{"track_id": 0, "label": "sad"}]}
    assert retention.strip_face_data({"label": "neutral"}) == ({"label": "neutral"}, False)
