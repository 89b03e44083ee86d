"""One loaded analyzer shared by the plugin's tests, and images with rendered text."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def tesseract_or_skip() -> None:
    pytest.importorskip("pytesseract")
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (apt-get install -y tesseract-ocr)")


@pytest.fixture
def tesseract() -> None:
    """Skips the test, saying why, when the tesseract binary is missing."""
    tesseract_or_skip()


@pytest.fixture(scope="session")
def analyzer():
    torch = pytest.importorskip("torch")
    pytest.importorskip("cv2")
    tesseract_or_skip()
    from emotionhub_image_sentiment.analyzer import ImageSentimentAnalyzer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fast and predictable on a shared 2-core machine
    instance = ImageSentimentAnalyzer()
    instance.load("cpu")
    yield instance
    torch.set_num_threads(threads)


@pytest.fixture
def text_image(tmp_path) -> Callable[..., Path]:
    """Writes a PNG with ``text`` drawn on it, optionally above a photo, and returns it.

    Pillow's bundled scalable font (``load_default(size=...)``, Pillow >= 10.1) keeps the
    tests independent of the fonts a machine has installed.
    """
    from PIL import Image, ImageDraw, ImageFont

    def make(
        text: str,
        *,
        size: int = 56,
        width: int = 760,
        photo: Path | None = None,
        name: str = "text.png",
    ) -> Path:
        font = ImageFont.load_default(size=size)
        band = int(size * 2.2)
        below = Image.open(photo).convert("RGB") if photo else None
        height = band + (below.height if below else 0)
        image = Image.new("RGB", (max(width, below.width if below else 0), height), "white")
        ImageDraw.Draw(image).text((size // 2, size // 2), text, fill="black", font=font)
        if below:
            image.paste(below, (0, band))
        path = tmp_path / name
        image.save(path)
        return path

    return make
