"""The FER loader reads the zip/folder layout ``<class>/<image>.jpg`` into uint8 arrays."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("PIL")

from ml.data.fer import FER_CLASSES, load_fer, load_fer_cached  # noqa: E402

SHARED_VAL = Path(__file__).resolve().parents[2].parent / "shared/datasets/fer2013/val.zip"


def test_class_order_is_alphabetical() -> None:
    assert list(FER_CLASSES) == sorted(FER_CLASSES)
    assert len(FER_CLASSES) == 7


def test_load_zip(fer_zip: Path) -> None:
    images, labels, names = load_fer(fer_zip)
    assert images.shape == (14, 48, 48)
    assert images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [2] * 7
    assert names == sorted(names)
    for name, label in zip(names, labels, strict=True):
        assert name.split("/")[0] == FER_CLASSES[label]


def test_load_folder_resizes_and_skips_non_images(fer_folder: Path) -> None:
    images, labels, _ = load_fer(fer_folder)
    assert images.shape == (14, 48, 48)
    assert np.bincount(labels).tolist() == [2] * 7


def test_zip_and_folder_agree(fer_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(fer_zip) as zf:
        zf.extractall(out)
    a, la, _ = load_fer(fer_zip)
    b, lb, _ = load_fer(out)
    assert np.array_equal(a, b)
    assert np.array_equal(la, lb)


def test_unknown_class_folder_is_an_error(tmp_path: Path, fer_zip: Path) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(fer_zip) as src, zipfile.ZipFile(bad, "w") as dst:
        dst.writestr("contempt/x.jpg", src.read("happy/PublicTest_30.jpg"))
    with pytest.raises(ValueError, match="contempt"):
        load_fer(bad)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_fer(tmp_path / "nope.zip")


def test_cache_round_trip(fer_zip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.npz"
    x1, y1 = load_fer_cached(fer_zip, cache)
    assert cache.exists()
    x2, y2 = load_fer_cached(fer_zip, cache)
    assert np.array_equal(x1, x2)
    assert np.array_equal(y1, y2)


@pytest.mark.skipif(not SHARED_VAL.exists(), reason=f"FER2013 data not found at {SHARED_VAL}")
def test_shared_validation_split_counts() -> None:
    _, labels, _ = load_fer(SHARED_VAL)
    assert np.bincount(labels, minlength=7).tolist() == [467, 56, 496, 895, 607, 653, 415]
