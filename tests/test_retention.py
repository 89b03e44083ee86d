"""Retention purge: expired images lose their file and face data, keep their labels."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from emotionhub.audit.models import AuditEvent
from emotionhub.jobs.models import AnalysisJob, AnalysisResult, JobStatus
from emotionhub.media import retention
from emotionhub.media.models import Media
from emotionhub.reporting.models import ResultFact
from tests.conftest import TenantClient, png_bytes, upload
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


def expired_images(tenant_client, submissions: int, per_submission: int) -> list[Media]:
    """Images past retention, each with a queued ``example`` job (no worker runs here)."""
    for n in range(submissions):
        files = [
            upload(f"{n}-{i}.png", png_bytes((8 + i, 8 + n), (n * 10, i * 10, 99)))
            for i in range(per_submission)
        ]
        response = tenant_client.submit(files=files, texts=["kept"], analyzers="example")
        assert response.status_code == 202, response.content
    images = list(Media.objects.filter(tenant=tenant_client.tenant, kind="image"))
    Media.objects.filter(pk__in=[m.pk for m in images]).update(
        created_at=timezone.now() - dt.timedelta(days=31)
    )
    return images


def in_threads(*calls):
    """Run the calls at the same moment, each in its own thread with its own database
    connection; their return values (an exception is re-raised)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except BaseException as exc:  # re-raised in the test's thread
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a purge did not finish"
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


@pytest.fixture
def retained(transactional_db) -> TenantClient:
    return TenantClient("carol", media_retention_days=30)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_purges_purge_every_expired_media_exactly_once(retained, settings):
    """Two purges at once (two connections, real PostgreSQL row locks) share the work."""
    images = expired_images(retained, submissions=5, per_submission=6)
    paths = {str(m.pk): settings.MEDIA_ROOT / m.file.name for m in images}
    assert len(paths) == 30 and all(path.is_file() for path in paths.values())
    fresh = expired_images(TenantClient("dave", media_retention_days=30), 1, 1)[0]
    Media.objects.filter(pk=fresh.pk).update(created_at=timezone.now())
    first_now = timezone.now()
    second_now = first_now + dt.timedelta(microseconds=1)

    reports = in_threads(
        lambda: retention.purge_expired(now=first_now, batch_size=2),
        lambda: retention.purge_expired(now=second_now, batch_size=2),
    )

    assert sum(r.media for r in reports) == 30 and sum(r.files for r in reports) == 30
    assert sum(r.jobs_cancelled for r in reports) == 30
    assert not any(path.exists() for path in paths.values())
    purged = {str(m.pk): m.purged_at for m in Media.objects.filter(pk__in=list(paths))}
    assert all(when in (first_now, second_now) for when in purged.values())
    assert not Media.objects.filter(pk__in=list(paths)).exclude(file="").exists()
    # Every job of the purged images was cancelled once; the text items kept theirs.
    assert set(
        AnalysisJob.objects.filter(media_id__in=list(paths)).values_list("status", flat=True)
    ) == {JobStatus.CANCELLED}
    assert Media.objects.filter(tenant=retained.tenant, kind="text", purged_at=None).count() == 5
    fresh.refresh_from_db()
    assert fresh.purged_at is None and (settings.MEDIA_ROOT / fresh.file.name).is_file()

    events = list(AuditEvent.objects.filter(action="purge"))
    listed = [pk for event in events for pk in event.details["media"]]
    assert sorted(listed) == sorted(paths)  # each media in exactly one event
    assert sum(event.count for event in events) == 30
    for event in events:
        assert event.tenant_id == retained.tenant.pk
        assert event.count == len(event.details["media"]) <= 2
        # One batch, one purge: every media of an event carries that purge's time.
        assert len({purged[pk] for pk in event.details["media"]}) == 1

    assert retention.purge_expired().media == 0  # nothing left for a third run
    assert AuditEvent.objects.filter(action="purge").count() == len(events)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_purge_skips_media_locked_by_another_and_a_later_run_takes_them(retained, settings):
    images = expired_images(retained, submissions=2, per_submission=3)
    locked_ids = sorted(str(m.pk) for m in images)[:2]
    with transaction.atomic():
        # Another purge (or a deletion) holds these rows: this one must not wait for them.
        list(Media.objects.select_for_update().filter(pk__in=locked_ids).values("pk"))
        (report,) = in_threads(lambda: retention.purge_expired(batch_size=10))
    assert report.media == 4
    left = set(Media.objects.filter(kind="image", purged_at=None).values_list("pk", flat=True))
    assert {str(pk) for pk in left} == set(locked_ids)

    assert retention.purge_expired().media == 2
    assert not Media.objects.filter(kind="image", purged_at=None).exists()
    events = AuditEvent.objects.filter(action="purge").order_by("created_at")
    assert [event.count for event in events] == [4, 2]
    assert sorted(events[1].details["media"]) == locked_ids
    assert not any((settings.MEDIA_ROOT / m.file.name).exists() for m in images)
