"""Turns the bytes of one live frame into pixels, refusing bad input with the upload codes.

Frames are never stored, so they skip what uploads do for storage (hashing, metadata
stripping) but not what protects the server: the type is decided from the content
(``unsupported_media_type``), the byte size (``file_too_large``) and the pixel count from
the header (``image_too_large``, before any decoding) are limited, bytes hidden after the
image's end are refused (``polyglot_file``), and a frame that does not decode completely
is ``corrupt_image``.
"""

from __future__ import annotations

import dataclasses
import io
import time

import filetype
import numpy as np
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from emotionhub.core.errors import DomainError
from emotionhub.media.trailing import WALKED_MIMES, image_end

#: Formats a live frame may come in: what browsers' canvases and cameras produce.
FRAME_MIMES = ("image/jpeg", "image/png", "image/webp")


@dataclasses.dataclass(frozen=True)
class DecodedFrame:
    image: np.ndarray  # (H, W, 3) uint8 RGB, upright
    mime: str
    size: int
    decode_ms: float

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def check_frame_size(size: int, *, field: str = "file") -> None:
    """413 ``file_too_large`` before reading a frame over the byte limit."""
    if size == 0:
        raise DomainError("empty_file", f"{field}: the frame is empty.", status=400)
    limit = settings.EMOTIONHUB_REALTIME_MAX_FRAME_BYTES
    if size > limit:
        raise DomainError(
            "file_too_large",
            f"{field}: the frame is {size} bytes; the limit for live frames is {limit}.",
            status=413,
            details={"size": size, "max_bytes": limit},
        )


def decode_frame(data: bytes, *, field: str = "file") -> DecodedFrame:
    """Validate and decode one frame; raise :class:`DomainError` saying what is wrong."""
    from ml.detection import ImageDecodeError, load_image

    started = time.perf_counter()
    check_frame_size(len(data), field=field)
    guess = filetype.guess(data[:8192])
    mime = guess.mime if guess else None
    if mime not in FRAME_MIMES:
        raise DomainError(
            "unsupported_media_type",
            f"{field}: live frames must be {', '.join(FRAME_MIMES)} (detected "
            f"{mime or 'unknown'}); send videos and other files to /submissions.",
            status=415,
        )
    max_pixels = settings.EMOTIONHUB_REALTIME_MAX_FRAME_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except Image.DecompressionBombError:
        width = height = max_pixels  # beyond Pillow's own limit: refused below
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DomainError(
            "corrupt_image", f"{field}: the frame cannot be decoded ({exc}).", status=400
        ) from None
    if width * height > max_pixels:
        raise DomainError(
            "image_too_large",
            f"{field}: the frame has more than {max_pixels} pixels, the limit for live frames.",
            status=413,
            details={"max_pixels": max_pixels},
        )
    try:
        image = load_image(data, max_pixels=max_pixels)
    except ImageDecodeError as exc:
        raise DomainError(
            "corrupt_image", f"{field}: the frame cannot be decoded ({exc}).", status=400
        ) from None
    # After decoding: the structure walk assumes a complete image.
    if mime in WALKED_MIMES:
        end = image_end(data, mime)
        allowed = settings.EMOTIONHUB_MAX_IMAGE_TRAILING_BYTES
        if end is not None and len(data) - end > allowed:
            raise DomainError(
                "polyglot_file",
                f"{field}: {len(data) - end} bytes follow the end of the image (at most "
                f"{allowed} are allowed).",
                status=400,
                details={"trailing_bytes": len(data) - end, "max_trailing_bytes": allowed},
            )
    return DecodedFrame(image, mime, len(data), (time.perf_counter() - started) * 1000)
