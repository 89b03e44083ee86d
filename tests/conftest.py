"""Shared fixtures: tenants with API keys, API clients, and test images."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from PIL import Image
from rest_framework.test import APIClient

from emotionhub.accounts.models import ApiKey, Tenant


def uses_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    """Tests that need the real services skip, clearly, when they were not started."""
    import os

    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if not missing:
        return
    skip = pytest.mark.skip(
        reason=f"{' and '.join(missing)} not set: run through scripts/test.sh, which starts "
        "real PostgreSQL and Redis"
    )
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def page(live_server):
    """A page of a headless Chromium (tests/browser.py), for tests against the live server."""
    from tests.browser import chromium, new_page

    with chromium() as browser:
        yield new_page(browser)


def png_bytes(size=(64, 48), color=(200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


class TenantClient:
    """A tenant, its raw API key and an authenticated APIClient.

    The purpose defaults to customer feedback, one that allows face emotion analyzers
    (an undeclared purpose refuses them: docs/responsible-use.md)."""

    def __init__(
        self, slug: str, scopes=("read", "submit"), purpose: str = "customer_feedback", **fields
    ) -> None:
        self.tenant = Tenant.objects.create(name=slug.title(), slug=slug, purpose=purpose, **fields)
        self.key, self.raw_key = ApiKey.issue(self.tenant, "test", list(scopes))
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Api-Key {self.raw_key}")

    def submit(self, files=(), texts=(), headers=None, **fields):
        data = {"file": list(files), "text": list(texts), **fields}
        data = {k: v for k, v in data.items() if v not in ([], None)}
        return self.client.post(
            "/api/v1/submissions", data, format="multipart", headers=headers or {}
        )


def submit_with_result(tenant_client: TenantClient):
    """A submitted image (``example`` analyzer) with a stored result and no worker run:
    the submission's JSON, its job and the result."""
    from emotionhub.jobs.models import AnalysisJob, AnalysisResult

    body = tenant_client.submit(files=[upload("b.png", png_bytes())], analyzers="example").json()
    media_id = body["items"][0]["id"]
    job = AnalysisJob.objects.get(media_id=media_id)
    result = AnalysisResult.objects.create(
        tenant=tenant_client.tenant,
        media_id=media_id,
        job=job,
        analyzer="example",
        analyzer_version="1.0.0",
        model_version="stats-1",
        payload={"width": 1},
        device="cpu",
        duration_ms=1.0,
    )
    return body, job, result


@pytest.fixture
def alice(db) -> TenantClient:
    return TenantClient("alice")


@pytest.fixture
def bob(db) -> TenantClient:
    return TenantClient("bob")


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()
