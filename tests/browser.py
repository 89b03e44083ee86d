"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright
(never a downloaded browser; scripts/test.sh installs the Debian package), the admin's
sign-in form, and where screenshots go. The ``page`` fixture (tests/conftest.py) is a page
of a browser launched here."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The password of the users the tests make (tests/reporting/conftest.py make_reviewer).
PASSWORD = "pw"
#: Screenshots of the browser tests (kept by CI as artifacts).
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"

#: For a browser test module's ``pytestmark``.
needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason=f"{CHROMIUM} missing: apt-get install chromium"
)


@contextlib.contextmanager
def chromium(extra_args: Sequence[str] = ()) -> Iterator[Any]:
    """A launched headless Chromium, closed afterwards.

    Playwright's sync API runs an event loop in this thread; the ORM calls a test makes
    between browser steps are still plain synchronous code, so Django is told to allow them.
    """
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=[*ARGS, *extra_args], headless=True
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def new_page(browser: Any, width: int = 1280, height: int = 900, timeout_ms: int = 15_000):
    """A page in a fresh context (its own cookies) of ``browser``."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(timeout_ms)
    return page


def log_in(page: Any, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the admin's login form."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")
