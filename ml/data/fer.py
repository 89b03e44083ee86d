"""FER2013 loading: a zip or folder in the layout ``<class>/<image>.jpg`` -> uint8 arrays.

The whole data set is ~32k 48x48 grayscale images (~75 MB as uint8), so it is decoded once
into memory instead of being streamed; decoding JPEGs every epoch would cost more CPU than
the small network itself on a 2-core machine.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

#: Class names in label-index order (alphabetical, as in the data set folders).
FER_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sad",
    "surprise",
)
#: Native FER2013 image side in pixels.
FER_SIZE = 48
#: Where the FER2013 zips live (outside the repository; see shared/datasets/README.md).
DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "fer2013"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm"})


def decode_image(data: bytes, size: int = FER_SIZE) -> np.ndarray:
    """Decode image bytes to a ``size x size`` uint8 grayscale array (resizing if needed)."""
    with Image.open(io.BytesIO(data)) as img:
        gray = img.convert("L")
        if gray.size != (size, size):
            gray = gray.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(gray, dtype=np.uint8)


def _iter_zip(path: Path) -> Iterator[tuple[str, str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            p = Path(info.filename)
            if p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
                continue
            yield p.parent.name, info.filename, zf.read(info)


def _iter_folder(path: Path) -> Iterator[tuple[str, str, bytes]]:
    for p in sorted(path.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
            yield p.parent.name, str(p.relative_to(path)), p.read_bytes()


def load_fer(
    path: str | Path,
    classes: tuple[str, ...] = FER_CLASSES,
    size: int = FER_SIZE,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load every image under ``path`` (zip or folder) whose parent folder is a known class.

    Returns ``(images uint8 [N, size, size], labels int64 [N], relative names)``. Files are
    sorted by name so the order (and thus any seeded shuffling) is reproducible. Images in
    folders that are not a class name raise, because silently dropping them would make an
    evaluation look better or worse than it is.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"FER data not found: {path}")
    source = _iter_zip(path) if path.is_file() else _iter_folder(path)
    index = {name: i for i, name in enumerate(classes)}
    items: list[tuple[str, int, bytes]] = []
    for cls, name, data in source:
        if cls not in index:
            raise ValueError(f"{name}: folder {cls!r} is not one of {list(classes)}")
        items.append((name, index[cls], data))
    if not items:
        raise ValueError(f"no images found in {path}")
    items.sort(key=lambda t: t[0])
    images = np.stack([decode_image(data, size) for _, _, data in items])
    labels = np.asarray([label for _, label, _ in items], dtype=np.int64)
    return images, labels, [name for name, _, _ in items]


def load_fer_cached(
    path: str | Path, cache: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`load_fer` but memoised in an ``.npz`` so repeated runs skip JPEG decoding.

    The cache is keyed on the source's size and mtime, so a changed data file is re-read.
    """
    path = Path(path)
    if cache is None:
        images, labels, _ = load_fer(path)
        return images, labels
    cache = Path(cache)
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            if str(npz["key"]) == key:
                return npz["images"], npz["labels"]
    images, labels, _ = load_fer(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    np.savez(tmp, images=images, labels=labels, key=np.asarray(key))
    tmp.replace(cache)
    return images, labels


def stratified_sample(names: list[str], labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of a fixed, class-stratified subset of ``n`` items (largest-remainder quotas).

    Deterministic without an RNG: within each class the items are taken evenly spaced in
    file-name order, so the same data always yields the same sample (the model cards' quick
    re-checks rely on it).
    """
    order = np.argsort(np.asarray(names), kind="stable")
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / counts.sum()
    take = np.floor(quota).astype(int)
    for j in np.argsort(-(quota - take), kind="stable")[: n - int(take.sum())]:
        take[j] += 1
    picked = []
    for c, k in zip(classes, take, strict=True):
        members = order[labels[order] == c]
        picked.extend(members[(np.arange(k) * len(members)) // max(k, 1)].tolist())
    return np.sort(np.asarray(picked, dtype=np.int64))
