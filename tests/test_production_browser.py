"""The production shape in a real browser: gunicorn with the production settings, static
files collected and served by the web process (WhiteNoise), a Content-Security-Policy on
every page. The admin's CSS, the dashboard's Chart.js and Swagger UI answered 404 before;
here the dashboard's chart renders and Swagger UI lists the operations, with no CSP
violation reported by Chromium."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone

from emotionhub.accounts.models import Tenant
from emotionhub.reporting.models import Brand
from tests.browser import chromium, log_in, needs_chromium, new_page
from tests.reporting.conftest import (
    make_media,
    make_post,
    make_result,
    make_reviewer,
    make_source,
    text_payload,
)

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def production_server(tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "emotionhub.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "EMOTIONHUB_ANALYZERS": "example,text_length,text_sentiment,image_sentiment",
    }
    # What docker-compose's web service runs.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["gunicorn", "emotionhub.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
        try:
            requests.get(f"{url}/admin/login/", timeout=10)
            break
        except requests.RequestException:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    log.close()


@pytest.fixture
def browser_page():
    with chromium() as browser:
        page = new_page(browser, timeout_ms=20_000)
        # Every CSP violation the browser reports, from the first script on.
        page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        failed: list[str] = []
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        page.failed_responses = failed
        yield page


def test_static_files_csp_dashboard_and_swagger_in_the_production_shape(
    production_server, browser_page
):
    url, page = production_server, browser_page
    tenant_a = Tenant.objects.create(name="Alpha", slug="alpha", purpose="customer_feedback")
    user = make_reviewer(tenant_a, "cx")
    # The production settings use Django's default hashers, not the tests' MD5.
    user.password = PBKDF2PasswordHasher().encode("pw", secrets.token_hex(8))
    user.save(update_fields=["password"])
    source = make_source(tenant_a, "Reviews")
    brand = Brand.objects.create(tenant=tenant_a, name="Phones")
    brand.sources.add(source)
    for i in range(3):
        post = make_post(source, f"great phone {i}", posted_at=timezone.now())
        make_result(
            make_media(tenant_a, "text", text=post.text, post=post),
            "text_sentiment",
            text_payload("positive", 0.8),
        )

    response = page.goto(f"{url}/admin/login/")
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.evaluate(
        "getComputedStyle(document.querySelector('#header')).backgroundColor"
    ) not in ("", "rgba(0, 0, 0, 0)")  # the admin's CSS applied
    log_in(page, url, "cx")

    # By day: fresh data defaults to hourly buckets (tests/first_hour).
    page.goto(f"{url}/reporting/brands/{brand.pk}/?granularity=day")
    page.wait_for_function(
        "() => window.dashboardCharts && window.dashboardCharts['chart-timeseries']"
    )
    volume = page.evaluate(
        "() => { const d = window.dashboardCharts['chart-timeseries'].data.datasets[1].data;"
        " return d[d.length - 1]; }"
    )
    assert volume == 3

    page.goto(f"{url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() > 10

    assert page.evaluate("window.__csp") == []
    static_failures = [f for f in page.failed_responses if "/static/" in f]
    assert static_failures == []
    chart_js = requests.get(f"{url}/static/reporting/vendor/chartjs/chart.umd.min.js", timeout=10)
    assert chart_js.status_code == 200
