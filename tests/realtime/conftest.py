"""Real photographs (tests/data/photos) as live frames: one known face each."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"


def photo_bytes(name: str = "obama.jpg") -> bytes:
    return (PHOTOS / name).read_bytes()


def webcam_frame(name: str = "obama.jpg", size=(640, 480), quality: int = 85) -> bytes:
    """A 640x480 JPEG like a webcam's: the portrait centred on a grey background."""
    with Image.open(PHOTOS / name) as portrait:
        portrait = portrait.convert("RGB")
        portrait.thumbnail((size[0], size[1]))
        canvas = Image.new("RGB", size, (128, 128, 128))
        canvas.paste(portrait, ((size[0] - portrait.width) // 2, (size[1] - portrait.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def frame_640() -> bytes:
    return webcam_frame()


@pytest.fixture(autouse=True)
def _close_stream_connections():
    """Streams keep a database connection in their own thread; the test database can only
    be dropped once it is closed."""
    yield
    from emotionhub.realtime.consumers import close_db_connections

    close_db_connections()
