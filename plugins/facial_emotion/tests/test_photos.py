"""Real portraits (tests/data/photos): one face each, a clear smile read as happy, and
probabilities that behave like probabilities, for every shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("cv2")

from emotionhub_facial_emotion.classifiers import available_models

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
