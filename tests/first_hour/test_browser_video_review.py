"""Headless Chromium: a reviewer opens a video from the review queue, sees each face
track's keyframes and its lane on the timeline, corrects the label with the keyboard and
saves. Screenshot in test-artifacts/browser/review-video.png."""

from __future__ import annotations

import pytest

from emotionhub.review.models import ReviewLabel
from tests.browser import ARTIFACTS, log_in, needs_chromium
from tests.first_hour.video import analysed_video
from tests.reporting.conftest import make_reviewer

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_review_a_video_track_with_the_keyboard(page, live_server, tenant_a, tmp_path):
    _, result = analysed_video(tenant_a, tmp_path)
    make_reviewer(tenant_a, "rev")
    log_in(page, live_server.url, "rev")

    page.goto(f"{live_server.url}/admin/review/reviewitem/?analyzer=facial_emotion")
    page.click("#result_list tbody tr a")
    page.wait_for_selector("#review-video")
    page.wait_for_function(  # a function, not an expression: the CSP forbids eval
        "() => Array.from(document.querySelectorAll('img.keyframe'))"
        ".every(img => img.complete && img.naturalWidth > 16)"
    )
    assert page.locator("img.keyframe").count() == 4
    assert page.locator(".track-lane.selected").count() == 1  # the selected track's lane
    model_label = result.payload["tracks"][0]["label"]
    assert page.is_checked(f'input[name="label-track:1"][value="{model_label}"]')

    page.keyboard.press("6")  # sad (angry disgust fear happy neutral sad surprise not_a_face)
    assert page.is_checked('input[name="label-track:1"][value="sad"]')
    page.screenshot(path=str(ARTIFACTS / "review-video.png"), full_page=True)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    label = ReviewLabel.objects.get(result=result, current=True)
    assert (label.target, label.reviewed_label) == ("track:1", "sad")
