"""Headless Chromium: the Emotions chart of a fresh install draws faces and texts on one
scale (no separate "happy" and "joy" series), says which analyzers feed it and shows the
per-analyzer labels. Screenshot in test-artifacts/browser/dashboard-emotions.png."""

from __future__ import annotations

import pytest

from emotionhub.reporting.models import Brand
from tests.browser import ARTIFACTS, log_in, needs_chromium
from tests.first_hour.test_dashboards import text_with_emotion
from tests.reporting.conftest import (
    face,
    face_payload,
    make_media,
    make_result,
    make_reviewer,
    striped_image,
)

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_emotions_chart_maps_face_and_text_labels_onto_one_set(page, live_server, tenant_a):
    brand = Brand.objects.create(tenant=tenant_a, name="All")
    for box in ((10, 20, 60, 80), (110, 20, 160, 80)):
        image = make_media(tenant_a, "image", image=striped_image())
        make_result(image, "facial_emotion", face_payload([face(box, "happy", 0.9)]))
    for label in ("joy", "optimism", "anger"):
        text = make_media(tenant_a, "text", text=f"{label}!")
        make_result(text, "text_sentiment", text_with_emotion(label))
    make_reviewer(tenant_a, "cx")
    log_in(page, live_server.url, "cx")

    page.goto(f"{live_server.url}/reporting/brands/{brand.pk}/")
    page.wait_for_function(
        "() => window.dashboardCharts && window.dashboardCharts['chart-emotions']"
    )
    series = page.evaluate(
        "() => window.dashboardCharts['chart-emotions'].data.datasets.map("
        "d => [d.label, d.data.reduce((a, b) => a + b, 0)])"
    )
    assert sorted(series) == [["anger", 1], ["joy", 4]]
    assert "facial_emotion" in page.inner_text("#fed-emotions")
    assert "text_sentiment" in page.inner_text("#fed-emotions")
    breakdown = page.inner_text("#emotion-breakdown")
    assert "happy" in breakdown and "optimism" in breakdown
    page.screenshot(path=str(ARTIFACTS / "dashboard-emotions.png"), full_page=True)
