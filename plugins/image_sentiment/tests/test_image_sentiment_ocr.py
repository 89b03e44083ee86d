"""OCR against the real tesseract binary: rendered text is read, noise is dropped, the
limits hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from emotionhub_image_sentiment.ocr import (
    MAX_UPSCALE,
    kept_lines,
    prepare,
    read_text,
    scale_for,
    tesseract_version,
)
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
LIMITS = {"min_confidence": 60, "timeout_s": 10, "max_pixels": 8_000_000}


needs_tesseract = pytest.mark.usefixtures("tesseract")


def rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@needs_tesseract
def test_tesseract_version_is_reported():
    assert tesseract_version()[0].isdigit()


@needs_tesseract
def test_rendered_text_is_read(text_image):
    read = read_text(rgb(text_image("TERRIBLE SERVICE")), **LIMITS)
    assert read.status == "ok"
    assert read.text == "TERRIBLE SERVICE"
    assert read.word_count == 2 and read.confidence > 0.8


@needs_tesseract
def test_small_text_is_upscaled_and_read(text_image):
    path = text_image("what a wonderful day", size=12, width=180)
    image = rgb(path)
    assert max(image.shape[:2]) < 200
    read = read_text(image, **LIMITS)
    assert read.scale == pytest.approx(MAX_UPSCALE)
    assert "wonderful day" in read.text


@needs_tesseract
def test_lines_are_kept_in_reading_order():
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", (700, 260), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    draw.text((30, 30), "FIRST LINE", fill="black", font=font)
    draw.text((30, 150), "SECOND LINE", fill="black", font=font)
    read = read_text(np.asarray(image), **LIMITS)
    assert read.text.splitlines() == ["FIRST LINE", "SECOND LINE"]


@needs_tesseract
@pytest.mark.parametrize("photo", ["coffee.jpg", "chelsea.jpg", "astronaut.jpg"])
def test_photos_without_text_have_no_text(photo):
    read = read_text(rgb(EXAMPLES / photo), **LIMITS)
    assert (read.status, read.text, read.word_count, read.confidence) == ("no_text", "", 0, None)


@needs_tesseract
def test_timeout_is_reported_not_raised(text_image):
    image = rgb(text_image("TERRIBLE SERVICE " * 3, width=2400))
    read = read_text(image, min_confidence=60, timeout_s=0.001, max_pixels=8_000_000)
    assert read.status == "timeout" and read.text == ""


def test_pixel_cap_bounds_what_tesseract_is_given():
    big = np.full((3000, 4000, 3), 255, dtype=np.uint8)
    image, factor = prepare(big, max_pixels=1_000_000)
    assert image.width * image.height <= 1_000_000 * 1.01
    assert factor == pytest.approx((1_000_000 / 12_000_000) ** 0.5)
    assert image.mode == "L"
    assert scale_for(1200, 800, 8_000_000) == 1.0  # large enough: left alone
    assert scale_for(400, 300, 8_000_000) == pytest.approx(MAX_UPSCALE)


def test_low_confidence_and_symbol_only_words_are_dropped():
    data = {
        "text": ["", "I", "LOVE", "|", "zq", "THIS"],
        "conf": [-1, 91.0, 95.5, 88.0, 31.0, "96"],
        "block_num": [1, 1, 1, 1, 1, 2],
        "par_num": [1, 1, 1, 1, 1, 1],
        "line_num": [1, 1, 1, 1, 1, 1],
    }
    lines, confidences = kept_lines(data, min_confidence=60)
    assert lines == ["I LOVE", "THIS"]
    assert confidences == [91.0, 95.5, 96.0]
