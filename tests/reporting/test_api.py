"""/api/v1/brands: CRUD, report aggregates, error shape, tenant isolation, schema."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from emotionhub.reporting.models import Brand
from tests.reporting.conftest import make_media, make_post, make_result, make_source, text_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def brand(alice):
    source = make_source(alice.tenant, "Reviews")
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago, score in [(0, 0.8), (0, -0.2), (1, -0.6)]:
        post = make_post(source, f"phone {score}", posted_at=today - dt.timedelta(days=days_ago))
        media = make_media(alice.tenant, "text", text=post.text, post=post)
        label = "positive" if score > 0.2 else "negative" if score < -0.2 else "neutral"
        make_result(media, "text_sentiment", text_payload(label, score))
    brand = Brand.objects.create(tenant=alice.tenant, name="Phones")
    brand.sources.add(source)
    return brand


def test_create_update_and_list_brands(alice):
    source = make_source(alice.tenant, "Feed")
    created = alice.client.post(
        "/api/v1/brands",
        {"name": "Launch", "sources": [str(source.pk)], "keywords": ["phone"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["sources"] == [str(source.pk)] and body["keywords"] == ["phone"]
    patched = alice.client.patch(
        f"/api/v1/brands/{body['id']}", {"sentiment_change": 0.5}, format="json"
    )
    assert patched.json()["sentiment_change"] == 0.5
    assert [b["name"] for b in alice.client.get("/api/v1/brands").json()["results"]] == ["Launch"]


def test_brand_validation_errors_use_the_error_shape(alice, bob):
    bobs_source = make_source(bob.tenant, "Bob's")
    response = alice.client.post(
        "/api/v1/brands", {"name": "X", "sources": [str(bobs_source.pk)]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert "sources" in response.json()["error"]["details"]
    response = alice.client.post("/api/v1/brands", {"name": "X", "colour": "red"}, format="json")
    assert response.json()["error"]["code"] == "unknown_field"


def test_report_aggregates(alice, brand):
    today = timezone.now().date()
    response = alice.client.get(
        f"/api/v1/brands/{brand.pk}/report",
        {"start": (today - dt.timedelta(days=2)).isoformat(), "end": today.isoformat()},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    series = {row["bucket"][:10]: row for row in body["timeseries"]}
    assert len(series) == 3
    assert series[today.isoformat()]["volume"] == 2
    assert series[today.isoformat()]["sentiment"] == pytest.approx(0.3)
    assert series[today.isoformat()]["positive"] == 1
    assert series[(today - dt.timedelta(days=1)).isoformat()]["negative"] == 1
    assert series[(today - dt.timedelta(days=2)).isoformat()]["volume"] == 0
    assert [row["polarity"] for row in body["top_positive"]] == [0.8]
    assert [row["polarity"] for row in body["top_negative"]] == [-0.6, -0.2]
    assert body["by_source"][0]["source_name"] == "Reviews"
    assert body["by_source"][0]["volume"] == 3
    chart = alice.client.get(f"/api/v1/brands/{brand.pk}/report/by_kind").json()
    assert chart["rows"] == [
        {
            "kind": "text",
            "volume": 3,
            "votes": 3,
            "sentiment": 0.0,
            "negative": 1,
            "neutral": 1,
            "positive": 1,
        }
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"start": "yesterday"}, "invalid_date"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "invalid_range"),
        ({"granularity": "minute"}, "invalid_granularity"),
        ({"granularity": "hour", "start": "2025-01-01", "end": "2025-12-31"}, "range_too_long"),
        ({"kind": "audio"}, "invalid_kind"),
        ({"source": "not-a-uuid"}, "invalid_source"),
        ({"source": "00000000-0000-0000-0000-000000000000"}, "unknown_source"),
        ({"colour": "red"}, "unknown_parameter"),
    ],
)
def test_report_refuses_bad_filters(alice, brand, query, code):
    response = alice.client.get(f"/api/v1/brands/{brand.pk}/report", query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_unknown_chart_is_404(alice, brand):
    response = alice.client.get(f"/api/v1/brands/{brand.pk}/report/pie")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_chart"


def test_other_tenants_brands_are_not_found(bob, brand, anonymous):
    assert bob.client.get("/api/v1/brands").json()["results"] == []
    for path in ["", "/report", "/report/timeseries", "/alerts"]:
        response = bob.client.get(f"/api/v1/brands/{brand.pk}{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert bob.client.delete(f"/api/v1/brands/{brand.pk}").status_code == 404
    assert anonymous.get(f"/api/v1/brands/{brand.pk}/report").status_code in (401, 403)


def test_schema_documents_brand_endpoints(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ["/api/v1/brands/{id}/report/:", "/api/v1/brands/{id}/report/{chart}/:"]:
        assert path in text
