"""A face the detector missed, drawn by a reviewer (Django test client): stored with its
box, refused when the box or label is wrong, exported as a training crop and counted
against the detector's recall; boxes marked "not a face" count against its precision."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from PIL import Image

from emotionhub.audit.models import AuditEvent
from emotionhub.review import agreement
from emotionhub.review.models import ReviewLabel
from tests.reporting.conftest import (
    face,
    face_payload,
    make_media,
    make_result,
    make_reviewer,
    signed_in,
    striped_image,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def faces_result(tenant_a):
    image = make_media(tenant_a, "image", image=striped_image())  # 200x100, red | blue
    return make_result(
        image, "facial_emotion", face_payload([face((10, 20, 60, 80), "happy", 0.9)])
    )


def add(client, result, **fields):
    return client.post(f"/admin/review/reviewitem/{result.pk}/add-face/", fields)


def test_a_drawn_face_is_stored_exported_and_counted_as_a_miss(tenant_a, faces_result):
    client = signed_in(make_reviewer(tenant_a, "rev"))
    page = client.get(f"/admin/review/reviewitem/{faces_result.pk}/change/").content.decode()
    assert 'id="add-face"' in page and 'data-width="200"' in page

    answer = add(client, faces_result, x1="120", y1="10", x2="180.5", y2="90", label="sad")
    assert answer.status_code == 302
    added = ReviewLabel.objects.get(result=faces_result, target="added:1")
    assert (added.model_label, added.reviewed_label, added.box) == ("", "sad", [120, 10, 180.5, 90])
    assert AuditEvent.objects.filter(details__target="added:1").count() == 1

    # It is a reviewable target now: drawn on the page and relabelled like any face.
    page = client.get(f"/admin/review/reviewitem/{faces_result.pk}/change/").content.decode()
    assert 'data-target="added:1"' in page and 'name="label-added:1"' in page
    client.post(
        f"/admin/review/reviewitem/{faces_result.pk}/change/",
        {"label-face:0": "happy", "label-added:1": "fear", "_stay": "1"},
    )
    relabelled = ReviewLabel.objects.get(result=faces_result, target="added:1", current=True)
    assert relabelled.reviewed_label == "fear" and relabelled.box == [120, 10, 180.5, 90]

    export = client.get("/admin/review/reviewitem/export/faces.zip")
    with zipfile.ZipFile(io.BytesIO(b"".join(export.streaming_content))) as archive:
        names = sorted(archive.namelist())
        assert names == [f"fear/{faces_result.pk}_added1.jpg", f"happy/{faces_result.pk}_0.jpg"]
        crop = Image.open(io.BytesIO(archive.read(names[0]))).convert("RGB")
        assert crop.size == (60, 80)
        red, _, blue = crop.getpixel((30, 40))
        assert blue > 150 and red < 100  # cut from the blue half, where the box was drawn

    (report,) = agreement.detection(tenant_a)
    assert (report["confirmed"], report["not_a_face"], report["missed"]) == (1, 0, 1)
    assert report["recall"] == 0.5 and report["precision"] == 1.0
    html = client.get("/admin/review/reviewitem/agreement/").content.decode()
    assert re.search(r'class="recall">0\.500<', html)
    # The miss has no model label: it is not an expression error.
    (emotions,) = agreement.agreement(tenant_a)
    assert emotions["n"] == 1 and emotions["unlabelled"] == 0


def test_not_a_face_counts_against_precision_and_stays_out_of_the_crops(tenant_a, faces_result):
    client = signed_in(make_reviewer(tenant_a, "rev"))
    client.post(
        f"/admin/review/reviewitem/{faces_result.pk}/change/",
        {"label-face:0": "not_a_face", "_stay": "1"},
    )
    (report,) = agreement.detection(tenant_a)
    assert (report["confirmed"], report["not_a_face"], report["precision"]) == (0, 1, 0.0)
    assert agreement.agreement(tenant_a) == []
    export = client.get("/admin/review/reviewitem/export/faces.zip")
    with zipfile.ZipFile(io.BytesIO(b"".join(export.streaming_content))) as archive:
        assert archive.namelist() == []


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"x1": "10", "y1": "10", "x2": "250", "y2": "50", "label": "sad"}, "invalid_box"),
        ({"x1": "50", "y1": "10", "x2": "20", "y2": "50", "label": "sad"}, "invalid_box"),
        ({"x1": "10", "y1": "10", "x2": "14", "y2": "14", "label": "sad"}, "invalid_box"),
        ({"x1": "a", "y1": "10", "x2": "50", "y2": "50", "label": "sad"}, "invalid_box"),
        ({"x1": "10", "y1": "10", "x2": "50", "y2": "50", "label": "joy"}, "invalid_label"),
    ],
)
def test_a_wrong_box_or_label_is_refused_and_writes_nothing(tenant_a, faces_result, fields, code):
    client = signed_in(make_reviewer(tenant_a, "rev"))
    answer = add(client, faces_result, **fields)
    assert answer.status_code == 302
    page = client.get(answer.url).content.decode()
    assert code.capitalize() in page  # the admin capitalises messages
    assert not ReviewLabel.objects.exists()
    assert not AuditEvent.objects.filter(details__target__startswith="added:").exists()


def test_faces_cannot_be_added_to_text_or_another_tenants_result(tenant_a, tenant_b, faces_result):
    text = make_result(make_media(tenant_a, "text", text="fine"), "text_sentiment", {"label": "x"})
    client = signed_in(make_reviewer(tenant_a, "rev"))
    add(client, text, x1="1", y1="1", x2="20", y2="20", label="sad")
    assert not ReviewLabel.objects.exists()
    outsider = signed_in(make_reviewer(tenant_b, "other"))
    answer = add(outsider, faces_result, x1="120", y1="10", x2="180", y2="90", label="sad")
    assert answer.status_code == 404 and not ReviewLabel.objects.exists()
