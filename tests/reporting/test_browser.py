"""Headless Chromium against a live server: review with the keyboard, see the label in the
export; change a dashboard filter, see the chart change. Screenshots in test-artifacts/."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from emotionhub.reporting.models import Brand
from emotionhub.review.models import ReviewLabel
from tests.browser import ARTIFACTS, log_in, needs_chromium
from tests.reporting.conftest import (
    face,
    face_payload,
    image_sentiment_payload,
    make_media,
    make_post,
    make_result,
    make_reviewer,
    make_source,
    striped_image,
    text_payload,
)

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_review_a_label_with_the_keyboard_and_export_it(page, live_server, tenant_a):
    make_reviewer(tenant_a, "rev")
    media = make_media(tenant_a, "text", text="the battery died after a day")
    result = make_result(media, "text_sentiment", text_payload("positive", 0.4))
    image = make_media(tenant_a, "image", image=striped_image())
    make_result(image, "facial_emotion", face_payload([face((10, 20, 60, 80), "happy", 0.9)]))
    log_in(page, live_server.url, "rev")

    page.goto(f"{live_server.url}/admin/review/reviewitem/?analyzer=text_sentiment")
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)
    page.click("#result_list tbody tr a")
    page.wait_for_selector("#review-form")
    assert page.is_checked('input[name="label-post"][value="positive"]')
    page.keyboard.press("1")  # negative
    assert page.is_checked('input[name="label-post"][value="negative"]')
    page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=True)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # save and open the next unreviewed item (the faces)
    page.wait_for_selector(".face-box")
    page.screenshot(path=str(ARTIFACTS / "review-faces.png"), full_page=True)

    label = ReviewLabel.objects.get(result=result, current=True)
    assert (label.model_label, label.reviewed_label, label.reviewer.username) == (
        "positive",
        "negative",
        "rev",
    )
    export = page.request.get(f"{live_server.url}/admin/review/reviewitem/export/labels.csv")
    rows = list(csv.DictReader(io.StringIO(export.text())))
    assert [(r["result"], r["reviewed_label"]) for r in rows] == [(str(result.pk), "negative")]


def test_dashboard_filter_changes_the_chart(page, live_server, tenant_a):
    make_reviewer(tenant_a, "cx")
    source = make_source(tenant_a, "Reviews")
    brand = Brand.objects.create(tenant=tenant_a, name="Phones")
    brand.sources.add(source)
    now = timezone.now()
    for i in range(3):
        post = make_post(source, f"great phone {i}", posted_at=now)
        text = make_media(tenant_a, "text", text=post.text, post=post)
        make_result(text, "text_sentiment", text_payload("positive", 0.8))
    post = make_post(source, "photo of the phone", posted_at=now)
    image = make_media(tenant_a, "image", image=striped_image(), post=post)
    make_result(image, "image_sentiment", image_sentiment_payload("negative", -0.7, True))
    log_in(page, live_server.url, "cx")

    # By day (the default for data this fresh is by the hour: tests/first_hour).
    page.goto(f"{live_server.url}/reporting/brands/{brand.pk}/?granularity=day")
    page.wait_for_function(
        "() => window.dashboardCharts && window.dashboardCharts['chart-timeseries']"
    )

    def today(dataset: int):
        chart = "window.dashboardCharts['chart-timeseries']"
        return page.evaluate(
            f"() => {{ const d = {chart}.data.datasets[{dataset}].data; return d[d.length - 1]; }}"
        )

    assert today(1) == 4  # volume: four items today
    assert today(0) == pytest.approx((0.8 * 3 - 0.7) / 4)
    assert page.locator("#top-negative .thumb").count() == 1
    page.screenshot(path=str(ARTIFACTS / "dashboard-all.png"), full_page=True)

    with page.expect_navigation():
        page.select_option("select[name=analyzer]", "image_sentiment")
    page.wait_for_function(
        "() => window.dashboardCharts && window.dashboardCharts['chart-timeseries']"
    )
    assert "analyzer=image_sentiment" in page.url
    assert today(1) == 1
    assert today(0) == pytest.approx(-0.7)
    page.screenshot(path=str(ARTIFACTS / "dashboard-image-sentiment.png"), full_page=True)
    csv_href = page.get_attribute("figure.chart a.csv", "href")
    body = page.request.get(f"{live_server.url}{csv_href}").text()
    assert body.splitlines()[0].startswith("bucket,volume,votes,sentiment")
    assert body.strip().splitlines()[-1].split(",")[1] == "1"
