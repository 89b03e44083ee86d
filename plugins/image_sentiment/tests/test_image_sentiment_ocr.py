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


FONTS = Path("/usr/share/fonts/truetype")


def _sentence(font_path: Path | None, size: int) -> Image.Image:
    from PIL import ImageDraw, ImageFont

    font = (
        ImageFont.truetype(str(font_path), size) if font_path else ImageFont.load_default(size=size)
    )
    image = Image.new("RGB", (size * 14, int(size * 2.5)), "white")
    ImageDraw.Draw(image).text(
        (size // 2, size // 2), "I love this product", fill="black", font=font
    )
    return image


def _photographed(image: Image.Image) -> Image.Image:
    """The rendered text as a phone photo of a screen or a print would have it: a tinted,
    uneven background, a small rotation, blur, sensor noise and JPEG compression."""
    import io

    from PIL import ImageFilter

    width = image.size[0]
    ramp = np.linspace(170, 235, width, dtype=np.float32)[None, :, None]
    paper = np.asarray(image, np.float32) / 255.0 * ramp * np.array([1.0, 0.97, 0.9])
    noisy = paper + np.random.default_rng(7).normal(0, 6, paper.shape)
    photo = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    photo = photo.rotate(2.5, expand=True, fillcolor=(200, 195, 180)).filter(
        ImageFilter.GaussianBlur(0.8)
    )
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=70)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@needs_tesseract
@pytest.mark.parametrize(
    "font",
    [
        None,
        FONTS / "dejavu/DejaVuSans.ttf",
        FONTS / "dejavu/DejaVuSans-Bold.ttf",
        FONTS / "liberation/LiberationSerif-Regular.ttf",
    ],
    ids=["pil-default", "dejavu-sans", "dejavu-sans-bold", "liberation-serif"],
)
@pytest.mark.parametrize("size", [24, 48])
@pytest.mark.parametrize("shot", ["rendered", "photographed"])
def test_a_leading_capital_i_is_kept(font, size, shot):
    """Sans-serif fonts draw I as one stroke, which tesseract reads as "|"."""
    if font is not None and not font.exists():
        pytest.skip(f"{font} is not installed (fonts-dejavu-core / fonts-liberation)")
    image = _sentence(font, size)
    if shot == "photographed":
        image = _photographed(image)
    read = read_text(np.asarray(image), **LIMITS)
    assert read.text == "I love this product"


def test_a_lone_stroke_before_a_word_is_the_pronoun_i():
    data = {
        "text": ["|", "love", "it", "a", "|", "b", "|"],
        "conf": [90, 95, 95, 90, 90, 90, 90],
        "block_num": [1, 1, 1, 2, 2, 2, 3],
        "par_num": [1, 1, 1, 1, 1, 1, 1],
        "line_num": [1, 1, 1, 1, 1, 1, 1],
    }
    lines, confidences = kept_lines(data, min_confidence=60)
    # A stroke before a word is I (a separator as in "a | b" cannot be told apart from it);
    # a stroke with no word after it (a table rule, the end of a line) is dropped.
    assert lines == ["I love it", "a I b"]
    assert len(confidences) == 6
