"""Decode any uploaded image into the one layout the detectors take: upright RGB uint8.

Phone photos carry their rotation in EXIF, PNGs come with alpha or 16 bits, scans in CMYK or
palette modes; detectors and the emotion model assume none of that, so it is normalised once
here instead of in every caller.
"""

from __future__ import annotations

import io
import math
from os import PathLike
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageSource = str | PathLike[str] | bytes | bytearray | memoryview | BinaryIO


class ImageDecodeError(ValueError):
    """The input is not a decodable image (corrupt, truncated, unsupported or too large)."""


def load_image(source: ImageSource, max_pixels: int | None = None) -> np.ndarray:
    """Decode ``source`` (path, bytes or binary file) to an ``(H, W, 3)`` uint8 RGB array.

    EXIF orientation is applied so the array is upright as a viewer shows it. Grayscale,
    palette, CMYK and 16-bit images become RGB; transparency is composited on white (faces on
    a transparent background would otherwise sit on black, which no training photo has).
    ``max_pixels`` can tighten Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``,
    about 89 Mpx, which always applies).
    Raises :class:`ImageDecodeError` for anything that cannot be decoded completely; a
    truncated file is an error rather than a half-grey image.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode(io.BytesIO(bytes(source)), max_pixels)
    if isinstance(source, str | PathLike):
        # Opened here so a missing or unreadable path stays an OSError, not a decode error.
        with open(source, "rb") as fh:
            return _decode(fh, max_pixels)
    return _decode(source, max_pixels)


def _decode(source: BinaryIO, max_pixels: int | None) -> np.ndarray:
    # Checked by hand rather than by turning DecompressionBombWarning into an error: the
    # warnings filters are process-global and not thread-safe to change per call.
    limits = [n for n in (max_pixels, Image.MAX_IMAGE_PIXELS) if n is not None]
    try:
        with Image.open(source) as img:
            if limits and img.width * img.height > min(limits):
                raise ImageDecodeError(
                    f"image has {img.width}x{img.height} pixels, more than {min(limits)}"
                )
            img.load()  # decode now: truncation and corruption surface here
            return _to_rgb_array(_upright(img))
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"image is too large to decode: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"cannot decode image: {exc}") from exc


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a malformed EXIF block is ignored, not fatal."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # broken EXIF must not make an otherwise fine photo unusable
        return img


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        gray = _high_depth_to_uint8(np.asarray(img))
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        try:
            img = img.convert("RGB")
        except (ValueError, OSError) as exc:
            raise ImageDecodeError(f"unsupported image mode {mode!r}") from exc
    return np.asarray(img, dtype=np.uint8).copy()


def _high_depth_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale 16/32-bit or float grayscale to uint8 (Pillow's own conversion just clips)."""
    data = arr.astype(np.float64)
    finite = data[np.isfinite(data)]
    hi = float(finite.max()) if finite.size else 0.0
    lo = float(finite.min()) if finite.size else 0.0
    if lo >= 0 and hi <= 1.0 and arr.dtype.kind == "f":
        data = data * 255.0  # float image in [0, 1]
    elif lo >= 0 and hi <= 255:
        pass  # already 8-bit values in a wider type
    elif lo >= 0 and hi <= 65535:
        data = data / 257.0  # 16-bit range
    else:
        data = (data - lo) * (255.0 / (hi - lo))
    return np.clip(np.nan_to_num(data), 0, 255).round().astype(np.uint8)


def downscale(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """Shrink ``image`` so its longer side is at most ``max_side``; return it and the scale.

    ``scale`` is new/original (<= 1), so detections on the result map back to the original
    by dividing by it. Detecting on a 24-megapixel photo costs seconds and finds nothing a
    1600-pixel copy misses, except faces smaller than ``min_face_size / scale``.
    """
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image, 1.0
    scale = max_side / max(h, w)
    size = (max(1, math.floor(w * scale + 0.5)), max(1, math.floor(h * scale + 0.5)))
    pil = Image.fromarray(image)
    small = np.asarray(pil.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
    # The rounded size gives a per-axis scale a hair off ``scale``; use the mean of both.
    actual = (size[0] / w + size[1] / h) / 2
    return small, actual


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Accept ``(H, W)``, ``(H, W, 1|3|4)`` arrays and return ``(H, W, 3)`` uint8 RGB."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        if arr.dtype.kind == "f" and arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W[, 1|3|4]) image, got shape {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(arr)
