"""Decides what an upload is from its content, never its name, and rejects what we cannot
analyse before anything is stored.

Images are opened with Pillow, which reads only the header to learn the size, so a
decompression bomb is refused without being decoded; an image within the pixel limit is
then decoded, so a truncated or corrupt one is refused here and not in a worker, but
without holding its pixels where that is possible: a PNG's pixel data is inflated in
pieces and counted (``media.pngcheck``), a JPEG is decoded at 1/8 scale (every coded
block is still read). Other formats are decoded in full.
Bytes after the image's end marker beyond ``EMOTIONHUB_MAX_IMAGE_TRAILING_BYTES`` are
refused as ``polyglot_file`` (``media.trailing``). Videos are probed with OpenCV (first
frame decoded) when it is installed, which every analysis worker has; a web-only install
without it stores videos unprobed and leaves the check to the analyzer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import tempfile
import warnings
from pathlib import Path

import filetype
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from emotionhub.core.errors import DomainError
from emotionhub.media.pngcheck import SIGNATURE as PNG_SIGNATURE
from emotionhub.media.pngcheck import PngError, check_pixels
from emotionhub.media.trailing import WALKED_MIMES, image_end

IMAGE_MIMES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff"}
VIDEO_MIMES = {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska"}


@dataclasses.dataclass(frozen=True)
class CheckedUpload:
    kind: str
    mime: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


def sha256_of(fileobj) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1024 * 1024), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def check_upload(upload, *, field: str) -> CheckedUpload:
    """Validate one uploaded file; raise :class:`DomainError` describing what is wrong."""
    size = upload.size or 0
    if size == 0:
        raise DomainError("empty_file", f"{field}: the file {upload.name!r} is empty.", status=400)
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    guess = filetype.guess(head)
    mime = guess.mime if guess else _text_mime(head)
    if mime in IMAGE_MIMES:
        kind = "image"
    elif mime in VIDEO_MIMES:
        kind = "video"
    elif mime == "text/plain":
        kind = "text"
    else:
        raise DomainError(
            "unsupported_media_type",
            f"{field}: {upload.name!r} is not a supported image, video or UTF-8 text file "
            f"(detected {mime or 'unknown'}).",
            status=415,
        )
    limit = settings.EMOTIONHUB_MAX_UPLOAD_BYTES[kind]
    if size > limit:
        raise DomainError(
            "file_too_large",
            f"{field}: {upload.name!r} is {size} bytes; the limit for {kind} is {limit}.",
            status=413,
        )
    width = height = duration = None
    if kind == "image":
        width, height = _image_size(upload, field)
        _refuse_trailing_data(upload, mime, field)
    elif kind == "video":
        width, height, duration = _video_facts(upload, field)
    return CheckedUpload(kind, mime, size, sha256_of(upload), width, height, duration)


def _text_mime(head: bytes) -> str | None:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the 8 KiB boundary is still text.
        if exc.start < len(head) - 4:
            return None
    return "text/plain" if b"\x00" not in head else None


def _image_size(upload, field: str) -> tuple[int, int]:
    max_pixels = settings.EMOTIONHUB_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise Image.DecompressionBombError("too many pixels")
                image.verify()
            # verify() checks structure only; a truncated image fails only when decoded.
            upload.seek(0)
            _decode_bounded(upload)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DomainError(
            "image_too_large",
            f"{field}: the image has more than {max_pixels} pixels.",
            status=413,
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, PngError) as exc:
        raise DomainError(
            "corrupt_image", f"{field}: the image cannot be decoded ({exc}).", status=400
        ) from None
    finally:
        upload.seek(0)
    return width, height


def _decode_bounded(upload) -> None:
    """Decode ``upload`` far enough to find a cut or corruption, holding as few pixels as
    the format allows."""
    if upload.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE:
        upload.seek(0)
        check_pixels(upload.read())
        return
    upload.seek(0)
    with Image.open(upload) as image:
        if image.format == "JPEG":
            # DCT scaling: 1/64 of the pixels, yet every block's coefficients are read.
            image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()


def _refuse_trailing_data(upload, mime: str, field: str) -> None:
    if mime not in WALKED_MIMES:
        return
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    end = image_end(data, mime)
    if end is None:
        return
    trailing = len(data) - end
    allowed = settings.EMOTIONHUB_MAX_IMAGE_TRAILING_BYTES
    if trailing > allowed:
        raise DomainError(
            "polyglot_file",
            f"{field}: {trailing} bytes follow the end of the image (at most {allowed} are "
            "allowed); files that are also an archive or a script are refused.",
            status=400,
            details={"trailing_bytes": trailing, "max_trailing_bytes": allowed},
        )


@contextlib.contextmanager
def _local_path(upload):
    """A filesystem path holding the upload (OpenCV reads files, not streams)."""
    if hasattr(upload, "temporary_file_path"):
        yield Path(upload.temporary_file_path())
        return
    with tempfile.NamedTemporaryFile(suffix=".video") as tmp:
        upload.seek(0)
        for chunk in iter(lambda: upload.read(1024 * 1024), b""):
            tmp.write(chunk)
        tmp.flush()
        upload.seek(0)
        yield Path(tmp.name)


def _video_facts(upload, field: str) -> tuple[int | None, int | None, float | None]:
    try:
        import cv2  # noqa: F401

        from ml.video import VideoDecodeError, probe_video
    except ImportError:
        return None, None, None
    try:
        with _local_path(upload) as path:
            try:
                info = probe_video(path)
            except VideoDecodeError as exc:
                # The error names the file it read, a server-side temporary file here.
                reason = str(exc).removeprefix(f"{path.name}: ")
                raise DomainError(
                    "corrupt_video",
                    f"{field}: {upload.name!r} cannot be decoded as a video ({reason}).",
                    status=400,
                ) from None
    finally:
        upload.seek(0)
    limit = settings.EMOTIONHUB_MAX_VIDEO_SECONDS
    # A duration the container does not record (live-recorded WebM) stays unknown: finding
    # it would mean decoding the whole upload here; the analyzer's caps bound the work.
    if info.duration_s is not None and info.duration_s > limit:
        raise DomainError(
            "video_too_long",
            f"{field}: the video lasts {info.duration_s:.1f} s; the limit is {limit} s.",
            status=413,
        )
    return info.width, info.height, info.duration_s
