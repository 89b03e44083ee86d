"""Text in an image, read by Debian's tesseract-ocr through pytesseract.

Tesseract is an external binary, so it is checked once when the analyzer loads
(:func:`tesseract_version`) and every call is bounded: a pixel cap on what it is given
and a wall-clock timeout on the process. Preprocessing stays deliberately light:
grayscale, autocontrast and an upscale of small images (tesseract reads best when
letters are 20+ px tall). Tesseract binarises internally with Leptonica; a global Otsu
threshold beforehand was tried and loses text drawn over uneven photo backgrounds.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps

LANGUAGE = "eng"  # the text model knows only English, so only English traineddata is used
PAGE_SEGMENTATION = 3  # automatic layout; 11 (sparse text) reads noise into photos
UPSCALE_BELOW_PX = 1000  # long side under which images are upscaled
UPSCALE_TARGET_PX = 1600
MAX_UPSCALE = 3.0
MIN_LETTERS = 3  # less text than this (after filtering) is noise, not a message


class OcrUnavailable(Exception):
    """The tesseract binary or its English data is missing."""


class OcrFailed(Exception):
    """Tesseract ran and failed on this image (not a timeout)."""


@dataclasses.dataclass(frozen=True)
class OcrText:
    """What OCR found. ``status`` is ``ok`` (text kept), ``no_text`` or ``timeout``."""

    status: str
    text: str
    word_count: int
    confidence: float | None  # mean confidence of the kept words, in [0, 1]
    seconds: float
    scale: float  # resize factor applied before OCR


def tesseract_version() -> str:
    """The installed tesseract's version; raises :class:`OcrUnavailable` if it cannot run."""
    import pytesseract

    try:
        version = str(pytesseract.get_tesseract_version())
        languages = pytesseract.get_languages(config="")
    except (pytesseract.TesseractNotFoundError, OSError, SystemExit) as exc:
        # pytesseract raises SystemExit for a version it cannot parse: never let that
        # take a worker process down.
        raise OcrUnavailable(
            f"tesseract is not installed or not on PATH ({exc}); "
            "install it with: apt-get install -y tesseract-ocr"
        ) from None
    if LANGUAGE not in languages:
        raise OcrUnavailable(
            f"tesseract has no {LANGUAGE!r} language data (found {languages}); "
            "install it with: apt-get install -y tesseract-ocr-eng"
        )
    return version


def scale_for(width: int, height: int, max_pixels: int) -> float:
    """Resize factor: upscale small images (at most 3x), never exceed ``max_pixels``."""
    factor = 1.0
    if max(width, height) < UPSCALE_BELOW_PX:
        factor = min(MAX_UPSCALE, UPSCALE_TARGET_PX / max(width, height))
    return min(factor, math.sqrt(max_pixels / (width * height)))


def prepare(rgb: np.ndarray, max_pixels: int) -> tuple[Image.Image, float]:
    """The grayscale, contrast-stretched, resized image tesseract is given."""
    gray = ImageOps.autocontrast(Image.fromarray(rgb).convert("L"), cutoff=1)
    factor = scale_for(gray.width, gray.height, max_pixels)
    if abs(factor - 1.0) > 0.05:
        size = (max(1, round(gray.width * factor)), max(1, round(gray.height * factor)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    return gray, factor


def read_text(
    rgb: np.ndarray, *, min_confidence: float, timeout_s: float, max_pixels: int
) -> OcrText:
    """OCR of an ``(H, W, 3)`` RGB image, keeping words of confidence >= ``min_confidence``
    (tesseract's 0-100 scale) that hold at least one letter or digit."""
    import pytesseract

    image, factor = prepare(rgb, max_pixels)
    started = time.perf_counter()
    try:
        data = pytesseract.image_to_data(
            image,
            lang=LANGUAGE,
            config=f"--psm {PAGE_SEGMENTATION}",
            output_type=pytesseract.Output.DICT,
            timeout=timeout_s,
        )
    except RuntimeError as exc:
        if "timeout" not in str(exc).lower():
            raise OcrFailed(str(exc)) from exc
        return OcrText("timeout", "", 0, None, time.perf_counter() - started, factor)
    except pytesseract.TesseractError as exc:
        raise OcrFailed(str(exc)) from exc
    seconds = time.perf_counter() - started
    lines, confidences = kept_lines(data, min_confidence)
    text = "\n".join(lines)
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return OcrText("no_text", "", 0, None, seconds, factor)
    mean = sum(confidences) / len(confidences) / 100.0
    return OcrText("ok", text, len(confidences), min(1.0, mean), seconds, factor)


#: What tesseract reads a sans-serif capital I as (DejaVu, Helvetica, Arial draw it as one
#: vertical stroke): "I love this product" came back as "| love this product", and the
#: symbol filter then dropped the "|". Neither page segmentation (3, 6, 11) nor
#: preprocessing changes it, and blacklisting "|" makes tesseract answer "l" at confidence 0.
VERTICAL_STROKES = frozenset({"|", "l"})


def kept_lines(
    data: Mapping[str, Sequence[Any]], min_confidence: float
) -> tuple[list[str], list[float]]:
    """Lines of confident words in reading order, and each kept word's confidence.

    A lone vertical stroke followed on its line by a confident word is the pronoun I;
    without one it is dropped."""
    lines: dict[tuple[int, int, int], list[tuple[str, float]]] = {}
    for i, word in enumerate(data["text"]):
        word = str(word).strip()
        conf = float(data["conf"][i])
        # A stroke's own confidence is low because |, I and l look alike; the word after
        # it decides (below).
        if not word or (conf < min_confidence and word not in VERTICAL_STROKES) or conf < 0:
            continue
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        lines.setdefault(key, []).append((word, conf))
    out, confidences = [], []
    for words in lines.values():
        kept = []
        for j, (word, conf) in enumerate(words):
            following = words[j + 1][0] if j + 1 < len(words) else ""
            if word in VERTICAL_STROKES:
                if not following[:1].isalpha():
                    continue
                word = "I"
            if not any(ch.isalnum() for ch in word):
                continue
            kept.append(word)
            confidences.append(conf)
        if kept:
            out.append(" ".join(kept))
    return out, confidences
