"""Fixtures of the first-hour tests: tenants, and a headless Chromium page (the same
launch as tests/reporting/test_browser.py: Debian's chromium, never a downloaded one)."""

from __future__ import annotations

import os

import pytest

from tests.reporting.conftest import tenant_a, tenant_b  # noqa: F401


@pytest.fixture
def page(live_server):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    from tests.reporting.test_browser import ARGS, ARTIFACTS, CHROMIUM

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
