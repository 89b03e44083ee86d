"""Sources over the REST API: tenancy, validation errors, schedules, runs, fetch now."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from emotionhub.celery import app as celery_app
from emotionhub.social.models import Source
from tests.conftest import TenantClient
from tests.social.conftest import Reply
from tests.social.test_connectors import MastodonTimeline, status

pytestmark = pytest.mark.django_db


def create(client: TenantClient, **body):
    body.setdefault("name", "cats")
    body.setdefault("kind", "mastodon")
    body.setdefault("config", {"instance": "https://mastodon.example", "hashtag": "cats"})
    return client.client.post("/api/v1/sources", body, format="json")


def test_create_list_update_delete_with_its_beat_schedule(alice):
    response = create(alice, interval_seconds=300, analyzers=["text_length"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["schedule"]["interval_seconds"] == 300 and body["schedule"]["enabled"] is True
    assert body["config"] == {
        "instance": "https://mastodon.example",
        "hashtag": "cats",
        "local": False,
    }
    assert "push_secret" not in body and body["push_url"] is None and body["last_run"] is None
    task = PeriodicTask.objects.get(social_source__pk=body["id"])
    assert task.task == "emotionhub.social.tasks.fetch_source" and task.queue == "ingest"
    assert task.args == f'["{body["id"]}"]' and task.expire_seconds == 300

    listed = alice.client.get("/api/v1/sources").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]

    patched = alice.client.patch(
        f"/api/v1/sources/{body['id']}", {"interval_seconds": 60, "enabled": False}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["schedule"] == {
        "enabled": False,
        "last_run_at": None,
        "interval_seconds": 60,
    }
    task.refresh_from_db()
    assert task.interval.every == 60 and not task.enabled

    assert alice.client.delete(f"/api/v1/sources/{body['id']}").status_code == 204
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_sources_are_tenant_scoped(alice, bob):
    source_id = create(alice).json()["id"]
    assert bob.client.get(f"/api/v1/sources/{source_id}").status_code == 404
    assert (
        bob.client.patch(f"/api/v1/sources/{source_id}", {"name": "x"}, format="json").json()[
            "error"
        ]["code"]
        == "not_found"
    )
    assert bob.client.delete(f"/api/v1/sources/{source_id}").status_code == 404
    assert bob.client.get("/api/v1/sources").json()["count"] == 0


def test_auth_and_scopes(db, anonymous):
    reader = TenantClient("reader", scopes=("read",))
    assert anonymous.get("/api/v1/sources").json()["error"]["code"] == "not_authenticated"
    refused = create(reader)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert reader.client.get("/api/v1/sources").status_code == 200
    assert Source.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"config": {"instance": "https://m.example"}}, "invalid_source_config"),
        ({"kind": "reddit", "config": {"subreddit": "no spaces"}}, "invalid_source_config"),
        ({"kind": "rss", "config": {"url": "file:///etc/passwd"}}, "invalid_source_config"),
        ({"kind": "webhook", "config": {"url": "x"}}, "invalid_source_config"),
        ({"kind": "nope"}, "invalid_request"),
        ({"analyzers": ["nope"]}, "unknown_analyzer"),
        ({"analyzer_settings": {"text_length": {"bogus": 1}}}, "invalid_analyzer_settings"),
        ({"interval_seconds": 0}, "invalid_schedule"),
        ({"kind": "webhook", "config": {}, "interval_seconds": 60}, "invalid_schedule"),
        ({"cursor": {"min_id": "1"}}, "unknown_field"),
        ({"colour": "red"}, "unknown_field"),
    ],
)
def test_bad_sources_get_a_clear_error_and_write_nothing(alice, body, code):
    response = create(alice, **body)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert (
        Source.objects.count() == 0
        and PeriodicTask.objects.filter(task="emotionhub.social.tasks.fetch_source").count() == 0
    )


def test_kind_cannot_change(alice):
    source_id = create(alice).json()["id"]
    response = alice.client.patch(f"/api/v1/sources/{source_id}", {"kind": "rss"}, format="json")
    assert response.json()["error"]["code"] == "kind_immutable"


def test_webhook_source_shows_its_secret_once_and_can_rotate_it(alice):
    body = create(alice, kind="webhook", config={}).json()
    secret = body["push_secret"]
    assert len(secret) == 64 and body["push_url"] == f"/api/v1/sources/{body['id']}/push"
    assert body["schedule"] is None
    assert "push_secret" not in alice.client.get(f"/api/v1/sources/{body['id']}").json()
    rotated = alice.client.post(f"/api/v1/sources/{body['id']}/rotate-secret").json()
    assert rotated["push_secret"] != secret
    assert Source.objects.get().push_secret == rotated["push_secret"]


@pytest.fixture
def eager_celery():
    """Run tasks in-process for the fetch-now test (the real task and code path)."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_fetch_now_runs_the_task_and_runs_are_listed(alice, upstream, eager_celery):
    MastodonTimeline(upstream, [status(1, "hi"), status(2, "there")])
    source_id = create(alice, config={"instance": upstream.url, "hashtag": "cats"}).json()["id"]
    response = alice.client.post(f"/api/v1/sources/{source_id}/fetch")
    assert response.status_code == 202, response.json()
    runs = alice.client.get(f"/api/v1/sources/{source_id}/runs").json()
    assert runs["count"] == 1
    (run,) = runs["results"]
    assert run["trigger"] == "manual" and run["status"] == "succeeded" and run["new"] == 2
    assert run["error"] is None
    detail = alice.client.get(f"/api/v1/sources/{source_id}").json()
    assert detail["last_run"]["id"] == run["id"] and detail["cursor"]["min_id"]


def test_fetch_now_is_refused_while_backing_off(alice, upstream):
    upstream.routes["/api/v1/timelines/tag/cats"] = Reply(429, {}, {"Retry-After": "600"})
    source_id = create(alice).json()["id"]
    Source.objects.filter(pk=source_id).update(
        next_fetch_allowed_at=timezone.now() + datetime.timedelta(minutes=10)
    )
    response = alice.client.post(f"/api/v1/sources/{source_id}/fetch")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "source_backing_off" and "next_fetch_allowed_at" in error["details"]


def test_sources_paginate_and_filter(alice):
    for n in range(3):
        create(alice, name=f"s{n}")
    create(alice, name="hook", kind="webhook", config={})
    page = alice.client.get("/api/v1/sources", {"page_size": 2}).json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    assert alice.client.get("/api/v1/sources", {"kind": "webhook"}).json()["count"] == 1


def test_admin_validates_config_and_creates_the_schedule(admin_client, alice):
    form = {
        "tenant": str(alice.tenant.pk),
        "kind": "reddit",
        "name": "r/python",
        "config": '{"subreddit": "not valid!"}',
        "enabled": "on",
        "analyzers": "[]",
        "analyzer_settings": "{}",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
    }
    refused = admin_client.post("/admin/social/source/add/", form)
    assert refused.status_code == 200 and "subreddit" in refused.content.decode()
    assert not Source.objects.exists()
    form["config"] = '{"subreddit": "python"}'
    created = admin_client.post("/admin/social/source/add/", form)
    assert created.status_code == 302, created.content.decode()[:2000]
    source = Source.objects.get()
    assert source.config == {"subreddit": "python", "base_url": "https://www.reddit.com"}
    assert source.periodic_task.interval.every == 900
    page = admin_client.get(f"/admin/social/source/{source.pk}/change/").content.decode()
    assert f"/admin/django_celery_beat/periodictask/{source.periodic_task.pk}/change/" in page


def test_changing_the_config_resets_the_cursor(alice):
    source_id = create(alice).json()["id"]
    Source.objects.filter(pk=source_id).update(cursor={"min_id": "123"})
    same = {"instance": "https://mastodon.example", "hashtag": "cats"}
    alice.client.patch(f"/api/v1/sources/{source_id}", {"config": same}, format="json")
    assert Source.objects.get(pk=source_id).cursor == {"min_id": "123"}
    other = {"instance": "https://mastodon.example", "hashtag": "dogs"}
    response = alice.client.patch(f"/api/v1/sources/{source_id}", {"config": other}, format="json")
    assert response.status_code == 200 and response.json()["cursor"] == {}
