"""Blurring faces in the images shown to people (thumbnails, dashboards, review) for
tenants with ``blur_faces``.

Where the faces are: the boxes already stored for the media by analyzers that produce
``face_boxes`` (implied by ``faces``; see ``emotionhub.analyzers.contract``), in
stored-image pixels.
When no such result exists yet, OpenCV's Haar detector looks for faces; when OpenCV is not
installed in the web process, the whole image is blurred. An image is never shown
unblurred because its faces are unknown (docs/responsible-use.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeGuard

from PIL import Image, ImageFilter

from emotionhub.analyzers.registry import analyzers_producing
from emotionhub.jobs.models import AnalysisResult
from emotionhub.media.models import Media

Box = tuple[float, float, float, float]  # x1, y1, x2, y2
MARGIN = 0.2  # of the box size on each side: hair, ears and chin identify people too


def stored_face_boxes(media: Media) -> list[Box] | None:
    """Face boxes of ``media``'s face-analyzer results; None when none has run."""
    face_analyzers = analyzers_producing("face_boxes")
    results = AnalysisResult.objects.filter(media=media, analyzer__in=face_analyzers)
    payloads = list(results.values_list("payload", flat=True))
    if not payloads:
        return None
    return [box for payload in payloads for box in _boxes(payload)]


def _boxes(value: Any) -> Iterable[Box]:
    """Every ``box`` of a face entry, at any depth of a payload."""
    if isinstance(value, dict):
        box = value.get("box")
        if _valid(box):
            x1, y1, x2, y2 = box
            yield (float(x1), float(y1), float(x2), float(y2))
        for child in value.values():
            yield from _boxes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _boxes(child)


def _valid(box: Any) -> TypeGuard[Sequence[float]]:
    return (
        isinstance(box, list | tuple)
        and len(box) == 4
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
        and box[2] > box[0]
        and box[3] > box[1]
    )


def detect_face_boxes(image: Image.Image) -> list[Box] | None:
    """Faces found by OpenCV's Haar cascade; None when OpenCV is not installed."""
    try:
        import cv2
        import cv2.data
        import numpy as np
    except ImportError:
        return None
    gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(12, 12))
    return [(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in found]


def blur_boxes(image: Image.Image, boxes: Sequence[Box], scale: float = 1.0) -> Image.Image:
    """``image`` with each box (in original pixels, times ``scale``) blurred beyond
    recognition; pixels outside the boxes (and their margin) are unchanged."""
    image = image.copy()
    for x1, y1, x2, y2 in boxes:
        w, h = (x2 - x1) * scale, (y2 - y1) * scale
        left = max(0, int(x1 * scale - MARGIN * w))
        top = max(0, int(y1 * scale - MARGIN * h))
        right = min(image.width, int(x2 * scale + MARGIN * w + 1))
        bottom = min(image.height, int(y2 * scale + MARGIN * h + 1))
        if right <= left or bottom <= top:
            continue
        region = image.crop((left, top, right, bottom))
        radius = max(4.0, max(region.size) / 6)
        small = region.resize((max(1, region.width // 8), max(1, region.height // 8)))
        blurred = small.resize(region.size, Image.Resampling.BILINEAR)
        image.paste(blurred.filter(ImageFilter.GaussianBlur(radius)), (left, top))
    return image


def blur_faces(media: Media, image: Image.Image, original_size: tuple[int, int]) -> Image.Image:
    """``image`` (``media``'s picture, possibly resized from ``original_size``) with
    every known face blurred, or all of it when faces cannot be located."""
    scale = image.width / original_size[0] if original_size[0] else 1.0
    boxes = stored_face_boxes(media)
    if boxes is None:
        detected = detect_face_boxes(image)
        if detected is None:
            return image.filter(ImageFilter.GaussianBlur(max(6.0, max(image.size) / 20)))
        return blur_boxes(image, detected)
    return blur_boxes(image, boxes, scale)
