"""An image_sentiment review page draws the faces the result was built from."""

from __future__ import annotations

import pytest

from tests.reporting.conftest import (
    image_sentiment_payload,
    make_media,
    make_result,
    make_reviewer,
    signed_in,
    striped_image,
)

pytestmark = pytest.mark.django_db


def faces_component(boxes_and_labels) -> dict:
    return {
        "name": "faces",
        "scored": True,
        "score": 0.8,
        "label": "positive",
        "weight": 1.0,
        "share": 1.0,
        "contribution": 0.8,
        "details": {
            "face_count": len(boxes_and_labels),
            "detector": "mtcnn",
            "model": "mini_xception",
            "faces": [
                {"box": box, "label": label, "confidence": 0.9, "polarity": 0.8, "reliability": 1}
                for box, label in boxes_and_labels
            ],
        },
    }


def test_image_sentiment_review_shows_the_face_boxes(tenant_a):
    image = make_media(tenant_a, "image", image=striped_image())
    payload = image_sentiment_payload("positive", 0.8, False)
    payload["components"] = [
        faces_component([([10, 20, 60, 80], "happy"), ([120, 5, 190, 90], "sad")])
    ]
    payload["face_count"] = 2
    result = make_result(image, "image_sentiment", payload)
    html = (
        signed_in(make_reviewer(tenant_a, "rev"))
        .get(f"/admin/review/reviewitem/{result.pk}/change/")
        .content.decode()
    )
    assert html.count('class="face-box context-face"') == 2
    assert '<rect x="10.0" y="20.0" width="50.0" height="60.0">' in html
    assert "face 1: happy" in html and "face 2: sad" in html
    assert 'name="label-post"' in html  # the label stays the whole image's
