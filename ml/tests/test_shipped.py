"""The registry of shipped models (ml/shipped.py) says what the files say.

A re-exported or re-calibrated weights file fails here until its entry (hash, and any
changed classes, input size or normalisation) is updated in ``ml/shipped.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ml import shipped
from ml.checksums import sha256_file


@pytest.mark.parametrize("name", list(shipped.MODELS))
def test_entry_matches_the_file(name: str) -> None:
    model = shipped.shipped_model(name)
    assert model.path.is_file(), f"{model.file} is missing"
    assert sha256_file(model.path) == model.sha256, f"update the sha256 of {name} in ml/shipped.py"
    assert (shipped.WEIGHTS_DIR.parents[1] / model.card).is_file()
    for member in model.members:
        assert shipped.shipped_model(member).task == model.task


@pytest.mark.parametrize("name", list(shipped.SHIPPED_MODELS))
def test_face_classifier_metadata_matches_the_checkpoint(name: str) -> None:
    torch = pytest.importorskip("torch")
    model = shipped.shipped_model(name)
    if model.path.suffix == ".json":
        assert tuple(json.loads(model.path.read_text())["members"]) == model.members
        return
    ckpt = torch.load(model.path, map_location="cpu", weights_only=True)
    assert tuple(ckpt["classes"]) == model.classes
    assert ckpt["input_size"] == model.input_size
    assert model.normalization is not None
    norm = ckpt["normalization"]
    assert (norm["mean"], norm["std"]) == (model.normalization.mean, model.normalization.std)


def test_detector_and_text_entries_match_their_records() -> None:
    manifest = json.loads((shipped.WEIGHTS_DIR / "blazeface.json").read_text())["models"]
    for variant, entry in manifest.items():
        model = shipped.shipped_model(f"blazeface_{variant}")
        assert (entry["file"], entry["sha256"]) == (model.file, model.sha256)
        assert entry["input_size"] == model.input_size
    for detector in shipped.FACE_DETECTORS.values():
        assert all(
            shipped.shipped_model(w).task == shipped.FACE_DETECTION for w in detector.weights
        )
    torch = pytest.importorskip("torch")
    text = shipped.shipped_model("text_sentiment")
    ckpt = torch.load(text.path, map_location="cpu", weights_only=True)
    assert {k: tuple(v) for k, v in ckpt["classes"].items()} == text.heads
    assert ckpt["max_length"] == text.input_size


def test_the_registry_imports_no_torch() -> None:
    code = "import sys, ml.shipped; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="emotion_cnn"):
        shipped.shipped_model("nope")
