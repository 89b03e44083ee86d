"""Fixtures shared by the ML tests: tiny FER-layout data sets written to tmp_path."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def _jpeg(seed: int, size: int = 48) -> bytes:
    # Imported here so that a checkout without numpy/Pillow skips instead of erroring.
    np = pytest.importorskip("numpy")
    image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size, size), dtype=np.uint8)
    buf = io.BytesIO()
    image.fromarray(arr, mode="L").save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture
def fer_zip(tmp_path: Path) -> Path:
    """14 images, 2 per class, in the real zip layout (with directory entries)."""
    path = tmp_path / "tiny.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for c, name in enumerate(CLASSES):
            zf.writestr(f"{name}/", "")
            for i in range(2):
                zf.writestr(f"{name}/PublicTest_{c}{i}.jpg", _jpeg(10 * c + i))
    return path


@pytest.fixture
def fer_folder(tmp_path: Path) -> Path:
    """Same content as ``fer_zip`` but as a folder, one image of another size."""
    root = tmp_path / "tiny"
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(2):
            (root / name / f"img_{i}.jpg").write_bytes(_jpeg(10 * c + i, 64 if c == 0 else 48))
    (root / "README.txt").write_text("not an image")
    return root
