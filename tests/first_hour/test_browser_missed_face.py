"""Headless Chromium: a reviewer draws a box around a face the detector missed, labels it
and adds it; the box is stored in image pixels and drawn back on the page. Screenshot in
test-artifacts/browser/review-add-face.png."""

from __future__ import annotations

import pytest

from emotionhub.review.models import ReviewLabel
from tests.browser import ARTIFACTS, log_in, needs_chromium
from tests.reporting.conftest import (
    face,
    face_payload,
    make_media,
    make_result,
    make_reviewer,
    striped_image,
)

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_draw_and_label_a_missed_face(page, live_server, tenant_a):
    image = make_media(tenant_a, "image", image=striped_image())  # 200 x 100 px
    result = make_result(
        image, "facial_emotion", face_payload([face((10, 20, 60, 80), "happy", 0.9)])
    )
    make_reviewer(tenant_a, "rev")
    log_in(page, live_server.url, "rev")
    page.goto(f"{live_server.url}/admin/review/reviewitem/{result.pk}/change/")

    page.click("#add-face-start")
    svg = page.locator(".review-image svg").bounding_box()
    to_screen = lambda x, y: (svg["x"] + x / 200 * svg["width"], svg["y"] + y / 100 * svg["height"])  # noqa: E731
    page.mouse.move(*to_screen(120, 10))
    page.mouse.down()
    page.mouse.move(*to_screen(150, 50), steps=4)
    page.mouse.move(*to_screen(180, 90), steps=4)
    page.mouse.up()
    page.wait_for_selector("#add-face-fields:not([hidden])")
    page.select_option("#add-face-label", "surprise")
    page.screenshot(path=str(ARTIFACTS / "review-add-face.png"), full_page=True)
    with page.expect_navigation():
        page.click("#add-face-submit")

    added = ReviewLabel.objects.get(result=result, target="added:1")
    assert added.reviewed_label == "surprise" and added.model_label == ""
    for got, want in zip(added.box, (120, 10, 180, 90), strict=True):
        assert abs(got - want) <= 2, added.box
    assert page.locator('.face-box[data-target="added:1"]').count() == 1
    assert page.is_checked('input[name="label-added:1"][value="surprise"]')
    page.screenshot(path=str(ARTIFACTS / "review-added-face.png"), full_page=True)
