"""What the audit log records: API reads/writes/deletes, exports, corrections, admin deletes,
and who may read it (the admin-scope endpoint and the read-only admin)."""

from __future__ import annotations

import contextlib

import pytest
from django.contrib.auth.models import User
from django.db import connection

from emotionhub.audit.models import AuditEvent
from emotionhub.media.models import Media
from emotionhub.reporting.models import Brand
from tests.conftest import TenantClient, png_bytes, upload
from tests.reporting.conftest import (
    make_media,
    make_post,
    make_result,
    make_reviewer,
    make_source,
    signed_in,
    text_payload,
)

pytestmark = pytest.mark.django_db
QUEUE = "/admin/review/reviewitem/"


def events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


@contextlib.contextmanager
def audit_table_missing():
    """A real write failure: the table is renamed inside the test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent RENAME TO audit_auditevent_away")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent_away RENAME TO audit_auditevent")


@pytest.fixture
def submitted(alice):
    response = alice.submit(
        files=[upload("a.png", png_bytes())], texts=["hello"], analyzers="example,text_length"
    )
    assert response.status_code == 202
    return response.json()


def test_submission_post_is_recorded_with_the_key_and_client(alice, submitted):
    (event,) = events(action="create")
    assert (event.tenant, event.actor_key, event.obj_type) == (
        alice.tenant,
        alice.key,
        "submission",
    )
    assert event.obj_id == submitted["id"] and event.method == "POST"
    assert event.ip == "127.0.0.1" and event.actor == f"key {alice.key.prefix}"


@pytest.mark.parametrize("resource", ["submissions", "media", "jobs", "results"])
def test_a_list_is_one_event_with_its_count(alice, submitted, resource):
    body = alice.client.get(f"/api/v1/{resource}", {"page_size": 1}).json()
    (event,) = events(action="list")
    assert event.count == len(body["results"]) <= 1  # no worker ran: no results
    assert event.details["total"] == body["count"]
    assert event.details["query"] == {"page_size": ["1"]}


def test_details_are_view_events(alice, submitted):
    media_id = submitted["items"][0]["id"]
    alice.client.get(f"/api/v1/media/{media_id}")
    alice.client.get(f"/api/v1/submissions/{submitted['id']}")
    assert [(e.action, e.obj_type, e.obj_id) for e in events(action="view")] == [
        ("view", "media", media_id),
        ("view", "submission", submitted["id"]),
    ]


def test_refused_requests_are_not_recorded_as_reads(alice, bob, submitted):
    assert bob.client.get(f"/api/v1/media/{submitted['items'][0]['id']}").status_code == 404
    assert not events(action="view")


def test_media_deletion_is_recorded_in_its_transaction(alice, submitted):
    media_id = submitted["items"][0]["id"]
    assert alice.client.delete(f"/api/v1/media/{media_id}").status_code == 204
    (event,) = events(action="delete")
    assert (event.obj_type, event.obj_id, event.tenant) == ("media", media_id, alice.tenant)


def test_a_deletion_that_cannot_be_audited_does_not_happen(alice, submitted):
    media_id = submitted["items"][0]["id"]
    alice.client.raise_request_exception = False  # answer the 500 as a client sees it
    with audit_table_missing():
        response = alice.client.delete(f"/api/v1/media/{media_id}")
    assert response.status_code == 500
    assert Media.objects.filter(pk=media_id).exists()


def test_reads_are_served_when_their_event_is_lost(alice, submitted):
    with audit_table_missing():
        assert alice.client.get("/api/v1/media").status_code == 200


@pytest.fixture
def brand(alice):
    source = make_source(alice.tenant, "Reviews")
    post = make_post(source, "nice phone")
    make_result(
        make_media(alice.tenant, "text", text=post.text, post=post),
        "text_sentiment",
        text_payload("positive", 0.8),
    )
    brand = Brand.objects.create(tenant=alice.tenant, name="Phones")
    brand.sources.add(source)
    return brand


def test_report_api_is_an_export(alice, brand):
    assert alice.client.get(f"/api/v1/brands/{brand.pk}/report").status_code == 200
    assert alice.client.get(f"/api/v1/brands/{brand.pk}/report/emotions").status_code == 200
    exports = events(action="export")
    assert [(e.obj_type, e.obj_id) for e in exports] == [("brand", str(brand.pk))] * 2
    assert exports[1].details["chart"] == "emotions"


def test_an_export_that_cannot_be_audited_is_refused(alice, brand):
    with audit_table_missing():
        response = alice.client.get(f"/api/v1/brands/{brand.pk}/report")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"
    assert "timeseries" not in response.content.decode()


def test_dashboard_view_and_csv_export_are_recorded(alice, brand):
    user = make_reviewer(alice.tenant, "rita")
    client = signed_in(user)
    assert client.get(f"/reporting/brands/{brand.pk}/").status_code == 200
    response = client.get(f"/reporting/brands/{brand.pk}/timeseries.csv")
    assert response.status_code == 200
    view, export = events()
    assert (view.action, view.obj_type, view.actor_user) == ("view", "dashboard", user)
    assert (export.action, export.obj_type, export.details["chart"]) == (
        "export",
        "dashboard_csv",
        "timeseries",
    )
    with audit_table_missing():
        refused = client.get(f"/reporting/brands/{brand.pk}/timeseries.csv")
    assert refused.status_code == 503 and b"audit_unavailable" in refused.content


@pytest.fixture
def text_result(alice):
    post = make_post(make_source(alice.tenant, "Mentions"), "love the phone")
    media = make_media(alice.tenant, "text", text="love the phone", post=post)
    return make_result(media, "text_sentiment", text_payload("positive", 0.7))


def test_corrections_and_review_exports_are_recorded(alice, text_result):
    reviewer = make_reviewer(alice.tenant, "rev")
    client = signed_in(reviewer)
    response = client.post(f"{QUEUE}{text_result.pk}/change/", {"label-post": "negative"})
    assert response.status_code == 302
    (correct,) = events(action="correct")
    assert (correct.obj_type, correct.obj_id, correct.actor_user) == (
        "result",
        str(text_result.pk),
        reviewer,
    )
    assert correct.details == {
        "target": "post",
        "model_label": "positive",
        "previous": None,
        "label": "negative",
    }
    for name in ("labels.csv", "text.zip", "faces.zip"):
        assert client.get(f"{QUEUE}export/{name}").status_code == 200
    exports = events(action="export")
    assert [(e.obj_id, e.count) for e in exports] == [
        ("labels.csv", 1),
        ("text.zip", 1),
        ("faces.zip", 0),
    ]
    assert {e.tenant for e in exports} == {alice.tenant}


def test_admin_deletion_is_recorded(alice, submitted):
    operator = User.objects.create_superuser("op", password="pw")
    media_id = submitted["items"][0]["id"]
    response = signed_in(operator).post(f"/admin/media/media/{media_id}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Media.objects.filter(pk=media_id).exists()
    (event,) = events(action="delete")
    assert (event.obj_type, event.obj_id, event.actor_user, event.tenant) == (
        "media",
        media_id,
        operator,
        alice.tenant,
    )
    assert event.details["via"] == "admin"


def test_admin_change_of_a_key_limit_is_recorded(alice):
    operator = User.objects.create_superuser("op", password="pw")
    url = f"/admin/accounts/apikey/{alice.key.pk}/change/"
    form = {
        "tenant": alice.tenant.pk,
        "name": "test",
        "scopes": ["read", "submit"],
        "rate_limit_per_minute": "5",
        "daily_item_quota": "",
    }
    assert signed_in(operator).post(url, form).status_code == 302
    alice.key.refresh_from_db()
    assert alice.key.rate_limit_per_minute == 5
    (event,) = events(action="update", obj_type="apikey")
    assert event.obj_id == str(alice.key.pk) and event.actor_user == operator


# ---- reading the log ---------------------------------------------------------------------
def test_audit_events_endpoint_needs_the_admin_scope_and_shows_the_own_tenant(
    alice, bob, submitted
):
    bob.client.get("/api/v1/media")
    assert alice.client.get("/api/v1/audit-events").status_code == 403
    admin = TenantClient.__new__(TenantClient)
    admin.tenant = alice.tenant
    from rest_framework.test import APIClient

    from emotionhub.accounts.models import ApiKey

    _, raw = ApiKey.issue(alice.tenant, "auditor", ["admin"])
    admin_client = APIClient()
    admin_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    body = admin_client.get("/api/v1/audit-events", {"action": "create"}).json()
    assert body["count"] == 1 and body["results"][0]["obj_id"] == submitted["id"]
    everything = admin_client.get("/api/v1/audit-events", {"page_size": 200}).json()
    assert everything["results"] and all(
        e["actor"] != f"key {bob.key.prefix}" for e in everything["results"]
    )
    one = everything["results"][0]
    assert admin_client.get(f"/api/v1/audit-events/{one['id']}").json()["id"] == one["id"]
    bobs = AuditEvent.objects.filter(tenant=bob.tenant).first()
    assert admin_client.get(f"/api/v1/audit-events/{bobs.pk}").status_code == 404


def test_admin_audit_log_is_read_only_and_tenant_scoped(alice, bob, submitted):
    bob.client.get("/api/v1/media")
    member = User.objects.create_user("m", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    from emotionhub.accounts.models import TenantMembership

    TenantMembership.objects.create(user=member, tenant=alice.tenant, scopes=["admin"])
    member.user_permissions.set(Permission.objects.filter(codename="view_auditevent"))
    client = signed_in(member)
    page = client.get("/admin/audit/auditevent/")
    assert page.status_code == 200
    assert page.context["cl"].result_count == AuditEvent.objects.filter(tenant=alice.tenant).count()
    bobs = AuditEvent.objects.filter(tenant=bob.tenant).first()
    assert client.get(f"/admin/audit/auditevent/{bobs.pk}/change/").status_code == 302
    mine = AuditEvent.objects.filter(tenant=alice.tenant).first()
    assert (
        client.post(f"/admin/audit/auditevent/{mine.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=mine.pk).exists()
