"""Headless Chromium: from the quick start's state (its admin command) to a signed-in start
page and dashboards; an operator without a membership reads why the dashboards refuse
and follows the fix. Screenshots in test-artifacts/browser/."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from emotionhub.accounts.models import TenantMembership

pytest.importorskip("playwright.sync_api", reason="pip install playwright")
from tests.browser import ARTIFACTS, needs_chromium

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def sign_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/")
    page.click("text=Sign in")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_quickstart_admin_signs_in_and_reaches_the_dashboards(page, live_server, tmp_path):
    secret = tmp_path / "admin-password"
    call_command(
        "create_tenant_admin", "demo", "--password-file", str(secret), stdout=io.StringIO()
    )
    sign_in(page, live_server, "admin", secret.read_text().strip())

    assert "member of the tenant" in page.inner_text("#account")
    assert "demo" in page.inner_text("#account")
    assert "sqlite" in page.inner_text("#running") or "postgresql" in page.inner_text("#running")
    page.screenshot(path=str(ARTIFACTS / "start-page.png"), full_page=True)
    page.click("#links >> text=Dashboards")
    page.wait_for_url(f"{live_server.url}/reporting/")
    assert page.is_visible("text=All of demo")
    page.goto(f"{live_server.url}/")
    page.click("#links >> text=Review queue")
    page.wait_for_url(f"{live_server.url}/admin/review/reviewitem/")


def test_operator_reads_why_dashboards_refuse_and_follows_the_fix(page, live_server, tenant_a):
    User.objects.create_superuser("root", password="pw")
    sign_in(page, live_server, "root", "pw")
    page.goto(f"{live_server.url}/reporting/")
    assert "not a member of any tenant" in page.inner_text("#reason")
    assert "How to fix it" in page.inner_text("#fix")
    page.screenshot(path=str(ARTIFACTS / "forbidden-dashboards.png"), full_page=True)

    page.click('a.button:has-text("Add a tenant membership")')
    page.wait_for_url("**/admin/accounts/tenantmembership/add/")
    page.select_option("#id_user", label="root")
    page.select_option("#id_tenant", label="Alpha")
    page.check('input[name="scopes"][value="read"]')
    page.check('input[name="scopes"][value="submit"]')
    page.screenshot(path=str(ARTIFACTS / "membership-scopes.png"), full_page=True)
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/accounts/tenantmembership/")
    assert TenantMembership.objects.get(user__username="root").scopes == ["read", "submit"]

    page.goto(f"{live_server.url}/reporting/")
    assert page.is_visible("text=Brands and campaigns")
