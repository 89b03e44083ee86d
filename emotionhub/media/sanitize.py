"""Re-encodes stored images without their metadata (EXIF, GPS, XMP, text chunks).

Photos carry where and when they were taken and on which device; analysis needs none of
it, so unless the tenant keeps metadata (``Tenant.keep_image_metadata``) the stored image
is a fresh encoding of the pixels. The EXIF orientation is applied first, so a photo that
was upright only by its tag stays upright (face detection needs upright faces). The ICC
colour profile is kept: it describes colours, not people. Animated PNG and WebP are stored
as sent (a frame-by-frame re-encoding is not done yet); GIF, BMP and TIFF likewise.

A PNG without an EXIF chunk, or a JPEG whose EXIF orientation is upright (or absent), is
not re-encoded: its metadata chunks or segments are dropped from the bytes as sent
(``media.pngcheck``, ``media.jpegstrip``), so the web process never decodes its pixels (a
150 KB PNG can hold 160 MB of them) and a JPEG's pixels are stored exactly as sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageOps

from emotionhub.media import jpegstrip, pngcheck
from emotionhub.media.validation import CheckedUpload

REENCODED = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
#: Formats whose metadata can be cut from the bytes as sent (None: re-encode instead).
_STRIPPED_AS_SENT = {"PNG": pngcheck.without_metadata, "JPEG": jpegstrip.without_metadata}


def strip_metadata(upload, checked: CheckedUpload) -> tuple[object, CheckedUpload]:
    """``(upload, checked)`` for the bytes to store; the facts describe those bytes."""
    fmt = REENCODED.get(checked.mime)
    if fmt is None:
        return upload, checked
    if fmt in _STRIPPED_AS_SENT:
        upload.seek(0)
        cleaned = _STRIPPED_AS_SENT[fmt](upload.read())
        upload.seek(0)
        if cleaned is not None:
            return _stored(upload, checked, cleaned, checked.width, checked.height)
    upload.seek(0)
    with Image.open(upload) as image:
        if getattr(image, "is_animated", False):
            upload.seek(0)
            return upload, checked
        icc = image.info.get("icc_profile")
        lossless = fmt == "WEBP" and image.info.get("lossless", False)
        upright = ImageOps.exif_transpose(image)
        if upright.mode not in _MODES[fmt]:
            alpha = "A" in upright.mode or "transparency" in upright.info
            upright = upright.convert("RGBA" if alpha else "RGB")
        buffer = io.BytesIO()
        options: dict = {"icc_profile": icc} if icc else {}
        if fmt == "JPEG":
            options.update(quality=95, subsampling=0 if _full_chroma(image) else 2)
        elif fmt == "WEBP":
            options.update({"lossless": True} if lossless else {"quality": 95})
        elif "transparency" in image.info and upright.mode == image.mode:
            options.update(transparency=image.info["transparency"])
        upright.save(buffer, format=fmt, **options)
    upload.seek(0)
    return _stored(upload, checked, buffer.getvalue(), upright.width, upright.height)


def _stored(upload, checked: CheckedUpload, data: bytes, width, height):
    stored = SimpleUploadedFile(upload.name or "upload", data, content_type=checked.mime)
    facts = dataclasses.replace(
        checked, size=len(data), sha256=hashlib.sha256(data).hexdigest(), width=width, height=height
    )
    return stored, facts


_MODES = {
    "JPEG": {"RGB", "L", "CMYK"},
    "PNG": {"RGB", "RGBA", "L", "LA", "P", "I", "I;16", "1"},
    "WEBP": {"RGB", "RGBA"},
}


def _full_chroma(image: Image.Image) -> bool:
    """Whether the source JPEG kept full colour resolution (4:4:4), so we keep it too."""
    layers: list[tuple[int, int, int, int]] = getattr(image, "layer", None) or []
    return bool(layers) and all(h == 1 and v == 1 for _, h, v, _ in layers)
