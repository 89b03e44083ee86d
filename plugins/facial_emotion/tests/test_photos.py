"""Real portraits (tests/data/photos): one face each, a clear smile read as happy, and
probabilities that behave like probabilities, for every shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("cv2")

from emotionhub_facial_emotion.classifiers import available_models
from emotionhub_facial_emotion.schema import DEFAULT_MODEL

from emotionhub.analyzers.contract import Item
from emotionhub.analyzers.runner import run_batch

PHOTOS = Path(__file__).resolve().parents[3] / "tests" / "data" / "photos"
PORTRAITS = sorted(p for p in PHOTOS.iterdir() if p.suffix in {".jpg", ".png"})


@pytest.mark.parametrize("model", available_models())
def test_each_portrait_has_one_face_and_the_broad_smile_is_happy(analyzer, model):
    items = [
        Item(id=p.name, kind="image", mime="image/jpeg", path=p, settings={"model": model})
        for p in PORTRAITS
    ]
    outcomes = run_batch(analyzer, items)
    by_name = {}
    for photo, outcome in zip(PORTRAITS, outcomes, strict=True):
        assert outcome.error is None, (photo.name, outcome.error)
        payload = outcome.result.payload
        assert payload["face_count"] == 1, photo.name
        (face,) = payload["faces"]
        assert face["score"] > 0.8  # BlazeFace (default): 0.84-0.95 on these portraits
        assert len(face["landmarks"]) == 6
        assert sum(face["emotions"].values()) == pytest.approx(1.0, abs=1e-3)
        assert face["confidence"] == max(face["emotions"].values())
        assert face["uncertain"] == (face["confidence"] < 0.5)
        by_name[photo.name] = face
    smile = by_name["obama.jpg"]  # official portrait with a broad, open smile
    assert smile["label"] == "happy" and smile["confidence"] > 0.8


def test_uncertain_threshold_is_a_setting(analyzer):
    photo = PHOTOS / "obama.jpg"
    strict = Item(
        id="s", kind="image", mime="image/jpeg", path=photo, settings={"uncertain_below": 1.0}
    )
    (outcome,) = run_batch(analyzer, [strict])
    assert outcome.result.payload["faces"][0]["uncertain"] is True


def test_default_model_reads_real_smiles_through_colour_light_and_size_changes(analyzer, tmp_path):
    """The shipped default (no "model" setting) on two real smiling photos, in colour and
    grayscale, at 30 % brightness and gamma 2.2 (low light), at a quarter size (faces of
    25-40 px) and three times the size, mirrored: always one face, read as happy."""
    import numpy as np
    from PIL import Image, ImageOps

    examples = Path(__file__).resolve().parents[3] / "docs" / "examples"
    variants = {
        "colour": lambda im: im,
        "grayscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
        "dark": lambda im: Image.fromarray((np.asarray(im) * 0.3).astype(np.uint8)),
        "gamma": lambda im: Image.fromarray(
            (255 * (np.asarray(im) / 255.0) ** 2.2).astype(np.uint8)
        ),
        "quarter": lambda im: im.resize((im.width // 4, im.height // 4), Image.Resampling.BOX),
        "triple": lambda im: im.resize((im.width * 3, im.height * 3), Image.Resampling.BICUBIC),
        "mirror": ImageOps.mirror,
    }
    items = []
    for source in (PHOTOS / "obama.jpg", examples / "astronaut.jpg"):
        with Image.open(source) as photo:
            rgb = photo.convert("RGB")
            for name, change in variants.items():
                path = tmp_path / f"{source.stem}_{name}.jpg"
                change(rgb).save(path, quality=92)
                items.append(Item(id=path.name, kind="image", mime="image/jpeg", path=path))
    for item, outcome in zip(items, run_batch(analyzer, items), strict=True):
        assert outcome.error is None, (item.id, outcome.error)
        payload = outcome.result.payload
        assert payload["model"] == DEFAULT_MODEL
        assert payload["face_count"] == 1, item.id
        face = payload["faces"][0]
        assert face["label"] == "happy" and face["confidence"] > 0.7, (item.id, face["emotions"])
