"""Getting in (Django test client): the quick start's admin, the start page at ``/``, 403
pages that say what is missing and how to fix it, and scopes as checkboxes."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from emotionhub.accounts.models import ApiKey, Tenant, TenantMembership
from emotionhub.reporting.models import Brand
from tests.reporting.conftest import make_reviewer, signed_in

pytestmark = pytest.mark.django_db


def create_admin(*args: str) -> str:
    out = io.StringIO()
    call_command("create_tenant_admin", *args, stdout=out)
    return out.getvalue()


def test_create_tenant_admin_makes_a_member_with_every_scope_once(tmp_path, client):
    secret = tmp_path / "admin-password"
    note = create_admin("demo", "--password-file", str(secret))
    password = secret.read_text().strip()
    assert f"password {password}" in note and len(password) >= 16
    assert secret.stat().st_mode & 0o077 == 0  # readable by its owner only

    user = User.objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.check_password(password)
    membership = TenantMembership.objects.get(user=user)
    assert membership.tenant.slug == "demo"
    assert membership.scopes == ["admin", "read", "submit"]
    assert Brand.objects.filter(tenant=membership.tenant).count() == 1

    # A second start keeps the password and does not print it again.
    again = create_admin("demo", "--password-file", str(secret))
    assert password not in again and "password in" in again
    assert User.objects.get(username="admin").check_password(password)
    assert Brand.objects.count() == 1

    assert client.login(username="admin", password=password)
    assert client.get("/reporting/").status_code == 200
    assert client.get("/admin/review/reviewitem/").status_code == 200


def test_create_tenant_admin_refuses_a_member_of_another_tenant():
    other = Tenant.objects.create(name="Other", slug="other")
    user = User.objects.create_user("admin", password="x")
    TenantMembership.objects.create(user=user, tenant=other, scopes=["read"])
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="member of tenant 'other'"):
        create_admin("demo")


def test_start_page_shows_what_runs_and_links_everything(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    for href in (
        "/api/v1/docs/",
        "/admin/",
        "/admin/review/reviewitem/",
        "/reporting/",
        "/api/v1/health",
    ):
        assert f'href="{href}"' in html, href
    assert "Database" in html and "Broker" in html and "Workers" in html
    assert "facial_emotion" in html  # the enabled analyzers
    assert "Sign in" in html
    # No URL-pattern listing, which Django's debug 404 page shows.
    assert "URLconf" not in html


def test_start_page_says_who_is_signed_in(tenant_a):
    member = make_reviewer(tenant_a, "rev")
    html = signed_in(member).get("/").content.decode()
    assert "member of the tenant" in html and "Alpha" in html
    operator = User.objects.create_superuser("root", password="x")
    html = signed_in(operator).get("/").content.decode()
    assert "an operator" in html and "/admin/accounts/tenantmembership/add/" in html


def test_admin_view_site_link_goes_to_the_start_page(tenant_a):
    html = signed_in(User.objects.create_superuser("root", password="x")).get("/admin/")
    assert 'href="/"' in html.content.decode()


def test_dashboards_403_says_what_is_missing_and_how_to_fix_it():
    operator = User.objects.create_superuser("root", password="x")
    page = signed_in(operator).get("/reporting/")
    assert page.status_code == 403
    html = page.content.decode()
    assert "not a member of any tenant" in html
    assert "How to fix it" in html
    assert 'href="/admin/accounts/tenantmembership/add/"' in html
    assert "var/admin-password" in html

    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    html = signed_in(staff).get("/reporting/").content.decode()
    assert "Ask an operator" in html and "clerk" in html
    assert "tenantmembership/add" not in html  # they cannot add one themselves


def test_api_403_stays_json(tenant_a):
    _, raw = ApiKey.issue(tenant_a, "k", ["read"])
    answer = signed_in(User.objects.create_superuser("root", password="x")).get(
        "/api/v1/audit-events", HTTP_AUTHORIZATION=f"Api-Key {raw}"
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"


def test_membership_scopes_are_checkboxes(tenant_a):
    operator = User.objects.create_superuser("root", password="x")
    client = signed_in(operator)
    form = client.get("/admin/accounts/tenantmembership/add/").content.decode()
    boxes = re.findall(r'<input type="checkbox" name="scopes" value="(\w+)"', form)
    assert sorted(boxes) == ["admin", "read", "submit"]
    assert "[]" not in re.sub(r"<script.*?</script>", "", form, flags=re.S)

    user = User.objects.create_user("new", password="x", is_staff=True)
    answer = client.post(
        "/admin/accounts/tenantmembership/add/",
        {"user": user.pk, "tenant": tenant_a.pk, "scopes": ["submit", "read"]},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert TenantMembership.objects.get(user=user).scopes == ["read", "submit"]

    membership = TenantMembership.objects.get(user=user)
    page = client.get(f"/admin/accounts/tenantmembership/{membership.pk}/change/").content
    checked = re.findall(r'value="(\w+)"[^>]*checked', page.decode())
    assert sorted(checked) == ["read", "submit"]

    refused = client.post(
        f"/admin/accounts/tenantmembership/{membership.pk}/change/",
        {"user": user.pk, "tenant": tenant_a.pk, "scopes": ["root"]},
    )
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert TenantMembership.objects.get(user=user).scopes == ["read", "submit"]


def test_api_key_scopes_are_checkboxes(tenant_a):
    key, _ = ApiKey.issue(tenant_a, "k", ["read"])
    client = signed_in(User.objects.create_superuser("root", password="x"))
    page = client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    assert sorted(re.findall(r'type="checkbox" name="scopes" value="(\w+)"', page)) == [
        "admin",
        "read",
        "submit",
    ]
