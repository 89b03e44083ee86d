"""Short test videos made from the repository's real photographs (shared by ml and plugin
tests), so video tests need no video files in the repository."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "tests" / "data" / "photos"
EXAMPLES = REPO / "docs" / "examples"
FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".webm": "VP80"}


def photo(name: str, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """An RGB photo letterboxed onto a ``size`` (w, h) canvas."""
    import cv2

    from ml.detection import load_image

    folder = PHOTOS if (PHOTOS / name).exists() else EXAMPLES
    image = load_image(folder / name)
    w, h = size
    scale = min(w / image.shape[1], h / image.shape[0])
    resized = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
    canvas = np.zeros((h, w, 3), np.uint8)
    y, x = (h - resized.shape[0]) // 2, (w - resized.shape[1]) // 2
    canvas[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return canvas


def side_by_side(*names: str, size: tuple[int, int] = (480, 240)) -> np.ndarray:
    """Photos next to each other on one frame (several faces in one picture)."""
    w, h = size
    return np.concatenate([photo(n, (w // len(names), h)) for n in names], axis=1)


def write_video(
    path: Path,
    segments: Sequence[tuple[np.ndarray, float]],
    fps: int = 10,
    fourcc: str | None = None,
) -> Path:
    """Write ``(RGB frame, seconds)`` segments; frames of a segment drift right by 1 px per
    frame so faces move a little, as in real footage.

    Skips the calling test when this OpenCV build has no encoder for ``fourcc`` (H.264 needs
    an FFmpeg with libx264/openh264, which the pip wheels often lack).
    """
    import cv2
    import pytest

    fourcc = fourcc or FOURCC[path.suffix]
    height, width = segments[0][0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        writer.release()
        pytest.skip(f"this OpenCV build has no {fourcc!r} encoder for {path.suffix} files")
    for frame, seconds in segments:
        for i in range(round(seconds * fps)):
            shifted = np.roll(frame, i, axis=1)
            writer.write(cv2.cvtColor(shifted, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def without_duration(path: Path) -> Path:
    """Blank the Matroska/WebM Duration element (as in WebM recorded live by browsers'
    MediaRecorder), keeping every other byte in place."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89")  # Duration: ID 0x4489, 1-byte size, float payload
    assert at > 0, "no Duration element"
    length = 3 + (data[at + 2] & 0x7F)
    data[at : at + length] = bytes([0xEC, 0x80 | (length - 2)]) + bytes(length - 2)  # Void
    path.write_bytes(bytes(data))
    return path
