"""Tenants with blur_faces see faces blurred in served images: pixels inside the face
box change, pixels away from it do not (real photos, real face analyzer results)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from emotionhub.jobs.models import AnalysisResult
from emotionhub.reporting.face_blur import MARGIN, detect_face_boxes
from tests.conftest import TenantClient
from tests.reporting.conftest import make_reviewer, signed_in
from tests.responsible import ASTRONAUT, ROOT, submit_photo

pytestmark = pytest.mark.django_db
OBAMA = ROOT / "tests" / "data" / "photos" / "obama.jpg"
BAND = 16  # a JPEG MCU: blocks touching the blurred area may change by re-encoding


def served(client, media, size: int) -> np.ndarray:
    response = client.get(f"/reporting/media/{media.pk}/image?size={size}")
    assert response.status_code == 200, response.content
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).astype(int)


def inside_and_outside(shape, box) -> tuple[np.ndarray, np.ndarray]:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    inside = np.zeros(shape[:2], bool)
    inside[int(y1) : int(y2), int(x1) : int(x2)] = True
    near = np.zeros(shape[:2], bool)
    top, left = max(0, int(y1 - MARGIN * h) - BAND), max(0, int(x1 - MARGIN * w) - BAND)
    near[top : int(y2 + MARGIN * h) + BAND, left : int(x2 + MARGIN * w) + BAND] = True
    return inside, ~near


def compare(tenant, media, box, size):
    viewer = signed_in(make_reviewer(tenant.tenant, "viewer"))
    tenant.tenant.blur_faces = False
    tenant.tenant.save(update_fields=["blur_faces"])
    plain = served(viewer, media, size)
    tenant.tenant.blur_faces = True
    tenant.tenant.save(update_fields=["blur_faces"])
    blurred = served(viewer, media, size)
    inside, outside = inside_and_outside(plain.shape, box)
    diff = np.abs(plain - blurred).sum(axis=2)
    return diff[inside].mean(), diff[outside].max()


def test_stored_face_boxes_are_blurred_and_the_rest_is_untouched(db):
    tenant = TenantClient("blurco")
    media = submit_photo(tenant, ASTRONAUT, analyzers="facial_emotion")
    payload = AnalysisResult.objects.get(media=media).payload
    assert payload["face_count"] == 1
    box = payload["faces"][0]["box"]
    inside, outside = compare(tenant, media, box, size=max(media.width, media.height))
    assert inside > 20, inside  # mean change per pixel (sum over RGB)
    assert outside == 0, outside


def test_without_stored_results_faces_are_found_by_opencv_and_blurred(db):
    tenant = TenantClient("blurco")
    media = submit_photo(tenant, OBAMA, analyzers="example")  # no face analyzer ran
    image = Image.open(OBAMA)
    boxes = detect_face_boxes(image)
    assert len(boxes) == 1
    inside, outside = compare(tenant, media, boxes[0], size=max(image.size))
    assert inside > 20, inside
    assert outside == 0, outside
