"""Tenant isolation across EVERY endpoint under /api/v1/ and /reporting/.

The URL conf is enumerated: an endpoint added without a row in ``CASES`` (or in
``TENANTLESS``) fails ``test_every_endpoint_is_in_the_matrix``. Each case runs as Alice
against Bob's objects and must neither show nor change them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from emotionhub.accounts.models import ApiKey, TenantMembership
from emotionhub.audit.models import AuditEvent
from emotionhub.jobs.models import AnalysisJob
from emotionhub.realtime import tokens
from emotionhub.reporting.models import Brand
from emotionhub.social.models import FeedbackImport, Post, Source
from tests.conftest import submit_with_result
from tests.reporting.conftest import make_post, make_reviewer, signed_in

pytestmark = pytest.mark.django_db

PHOTOS = Path(__file__).parent / "data" / "photos"

# Endpoints that hold no tenant data: the same answer for everyone (checked below).
TENANTLESS = {
    "api-root",
    "health",
    "schema",
    "docs",
    "analyzer-list",
    "analyzer-detail",
    "analyzer-model-card",
}

# name -> (method, path template, kind); kinds: "detail"/"action" must be 404 for Alice,
# "list" must not contain Bob's ids, "write" must be 404 and change nothing.
CASES = [
    ("submission-list", "get", "/api/v1/submissions", "list"),
    ("submission-detail", "get", "/api/v1/submissions/{submission}", "detail"),
    ("media-list", "get", "/api/v1/media", "list"),
    ("media-detail", "get", "/api/v1/media/{media}", "detail"),
    ("media-detail", "delete", "/api/v1/media/{media}", "write"),
    ("job-list", "get", "/api/v1/jobs", "list"),
    ("job-detail", "get", "/api/v1/jobs/{job}", "detail"),
    ("job-cancel", "post", "/api/v1/jobs/{job}/cancel", "write"),
    ("result-list", "get", "/api/v1/results", "list"),
    ("result-detail", "get", "/api/v1/results/{result}", "detail"),
    ("source-list", "get", "/api/v1/sources", "list"),
    ("source-detail", "get", "/api/v1/sources/{source}", "detail"),
    ("source-detail", "patch", "/api/v1/sources/{source}", "write"),
    ("source-detail", "delete", "/api/v1/sources/{source}", "write"),
    ("source-fetch", "post", "/api/v1/sources/{source}/fetch", "write"),
    ("source-runs", "get", "/api/v1/sources/{source}/runs", "detail"),
    ("source-rotate-secret", "post", "/api/v1/sources/{source}/rotate-secret", "write"),
    ("source-push", "post", "/api/v1/sources/{source}/push", "push"),
    ("post-list", "get", "/api/v1/posts", "list"),
    ("post-detail", "get", "/api/v1/posts/{post}", "detail"),
    ("post-detail", "delete", "/api/v1/posts/{post}", "write"),
    ("brand-list", "get", "/api/v1/brands", "list"),
    ("brand-detail", "get", "/api/v1/brands/{brand}", "detail"),
    ("brand-detail", "patch", "/api/v1/brands/{brand}", "write"),
    ("brand-detail", "delete", "/api/v1/brands/{brand}", "write"),
    ("brand-report", "get", "/api/v1/brands/{brand}/report", "detail"),
    ("brand-chart", "get", "/api/v1/brands/{brand}/report/timeseries", "detail"),
    ("brand-alerts", "get", "/api/v1/brands/{brand}/alerts", "detail"),
    ("audit_event-list", "get", "/api/v1/audit-events", "list"),
    ("audit_event-detail", "get", "/api/v1/audit-events/{audit_event}", "detail"),
    ("usage", "get", "/api/v1/usage", "usage"),
    ("import-list", "get", "/api/v1/imports", "list"),
    ("import-detail", "get", "/api/v1/imports/{import}", "detail"),
    ("import-cancel", "post", "/api/v1/imports/{import}/cancel", "write"),
    ("import-skipped", "get", "/api/v1/imports/{import}/skipped.csv", "detail"),
    # Real-time: no stored objects; the call acts in Alice's tenant only.
    ("analyze", "post", "/api/v1/analyze", "frame"),
    ("stream-tokens", "post", "/api/v1/stream-tokens", "token"),
    ("reporting:brands", "get", "/reporting/", "page_list"),
    ("reporting:dashboard", "get", "/reporting/brands/{brand}/", "page"),
    ("reporting:chart-csv", "get", "/reporting/brands/{brand}/timeseries.csv", "page"),
    ("reporting:media-image", "get", "/reporting/media/{media}/image", "page"),
]


def _walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        else:
            name = (f"{namespace}:" if namespace else "") + (pattern.name or "")
            yield prefix + str(pattern.pattern), name


def test_every_endpoint_is_in_the_matrix():
    routes = [(r, n) for r, n in _walk(get_resolver().url_patterns)]
    tenant_routes = {n for r, n in routes if r.startswith(("api/v1/", "reporting/"))}
    unnamed = [r for r, n in routes if r.startswith(("api/v1/", "reporting/")) and not n]
    assert not unnamed, f"name these routes so the matrix can cover them: {unnamed}"
    covered = {case[0] for case in CASES} | TENANTLESS
    missing = sorted(tenant_routes - covered)
    assert not missing, f"add tenant-isolation cases for: {missing}"
    assert not covered - tenant_routes, f"stale matrix rows: {sorted(covered - tenant_routes)}"


def _admin_client(tenant) -> APIClient:
    _, raw = ApiKey.issue(tenant, "admin", ["read", "submit", "admin"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def world(alice, bob):
    """Bob's objects of every kind, and admin-scope clients for both tenants."""
    body, job, result = submit_with_result(bob)
    media_id = body["items"][0]["id"]
    AnalysisJob.objects.filter(pk=job.pk).update(status="queued")
    source = Source.objects.create(tenant=bob.tenant, kind="webhook", name="Bob feed")
    post = make_post(source, "bob's post")
    brand = Brand.objects.create(tenant=bob.tenant, name="BobBrand")
    brand.sources.add(source)
    import_source = Source.objects.create(tenant=bob.tenant, kind="import", name="Bob survey")
    feedback_import = FeedbackImport.objects.create(
        tenant=bob.tenant,
        source=import_source,
        file="imports/bob.csv",
        format="csv",
        mapping={"text": "comment"},
    )
    bob_admin = _admin_client(bob.tenant)
    bob_admin.get("/api/v1/media")  # an audit event of Bob's tenant
    audit_event = AuditEvent.objects.filter(tenant=bob.tenant).first()
    ids = {
        "submission": body["id"],
        "media": media_id,
        "job": job.pk,
        "result": result.pk,
        "source": source.pk,
        "post": post.pk,
        "brand": brand.pk,
        "audit_event": audit_event.pk,
        "import": feedback_import.pk,
    }
    alice_user = make_reviewer(alice.tenant, "alice-user")
    return {
        "ids": {k: str(v) for k, v in ids.items()},
        "alice_admin": _admin_client(alice.tenant),
        "bob_admin": bob_admin,
        "alice_session": signed_in(alice_user),
    }


def _snapshot(bob) -> dict:
    return {
        "media": sorted(str(m) for m in bob.tenant.media.values_list("pk", flat=True)),
        "sources": sorted(
            (str(s.pk), s.name, s.push_secret, s.enabled)
            for s in Source.objects.filter(tenant=bob.tenant)
        ),
        "brands": sorted((str(b.pk), b.name) for b in Brand.objects.filter(tenant=bob.tenant)),
        "jobs": sorted(
            (str(j.pk), j.status) for j in AnalysisJob.objects.filter(tenant=bob.tenant)
        ),
        "posts": Post.objects.filter(tenant=bob.tenant).count(),
        "imports": sorted(
            (str(i.pk), i.status, i.cancel_requested)
            for i in FeedbackImport.objects.filter(tenant=bob.tenant)
        ),
    }


@pytest.mark.parametrize(
    ("name", "method", "template", "kind"), CASES, ids=[f"{c[1]} {c[2]}" for c in CASES]
)
def test_alice_cannot_see_or_change_bobs_objects(alice, bob, world, name, method, template, kind):
    ids = world["ids"]
    path = template.format(**ids)
    before = _snapshot(bob)
    if kind.startswith("page"):
        response = getattr(world["alice_session"], method)(path)
        if kind == "page_list":
            assert response.status_code == 200 and b"BobBrand" not in response.content
        else:
            assert response.status_code == 404
        return
    client = world["alice_admin"]  # every scope: only the tenant boundary can refuse
    bob_usage = world["bob_admin"].get("/api/v1/usage").json()
    if kind == "frame":
        with open(PHOTOS / "obama.jpg", "rb") as photo:
            response = client.post(path, {"file": photo}, format="multipart")
    else:
        data = {"name": "stolen"} if method == "patch" else None
        response = getattr(client, method)(path, data, format="json")
    content = response.content.decode()
    if kind == "frame":  # analysed (or refused) in Alice's tenant; Bob's quota untouched
        assert response.status_code in (200, 403), content
        uuids = [value for value in ids.values() if len(value) == 36]  # not 3-digit pks
        assert not any(value in content for value in uuids), content
        assert world["bob_admin"].get("/api/v1/usage").json() == bob_usage
    elif kind == "token":  # a token that acts for Alice's tenant, never Bob's
        assert response.status_code == 201, content
        principal, _ = tokens.redeem(response.json()["token"])
        assert principal.tenant == alice.tenant
    elif kind == "list":
        assert response.status_code == 200, content
        assert not any(value in content for value in ids.values()), content
    elif kind == "usage":
        assert response.status_code == 200 and bob.key.prefix not in content
    elif kind == "push":  # signed by the source's secret, not by a key: refused unsigned
        assert response.status_code in (400, 401, 403), content
    else:
        assert response.status_code == 404, content
        assert response.json()["error"]["code"] == "not_found"
    assert _snapshot(bob) == before


@pytest.mark.parametrize(
    "name",
    ["submission", "media", "job", "result", "source", "post", "brand", "audit_event", "import"],
)
def test_bob_sees_his_own_objects(world, name):
    """The 404s above are the tenant boundary, not broken URLs."""
    plural = {"media": "media", "audit_event": "audit-events"}.get(name, f"{name}s")
    response = world["bob_admin"].get(f"/api/v1/{plural}/{world['ids'][name]}")
    assert response.status_code == 200, response.content


def test_tenantless_endpoints_answer_both_tenants_alike(world):
    for path in ["/api/v1/analyzers", "/api/v1/analyzers/example", "/api/v1/health"]:
        a, b = world["alice_admin"].get(path), world["bob_admin"].get(path)
        assert a.status_code == b.status_code
        assert json.loads(a.content) == json.loads(b.content) or path.endswith("health")
        assert not any(value in a.content.decode() for value in world["ids"].values())


def test_admin_is_only_for_staff(alice):
    member = User.objects.create_user("not-staff", password="pw")
    TenantMembership.objects.create(user=member, tenant=alice.tenant, scopes=["admin"])
    client = signed_in(member)
    for path in [
        "/admin/",
        "/admin/media/media/",
        "/admin/audit/auditevent/",
        "/admin/review/reviewitem/",
    ]:
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], path
    # An API key (even admin scope) does not open the admin either.
    response = _admin_client(alice.tenant).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
