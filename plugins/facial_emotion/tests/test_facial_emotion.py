"""The facial-emotion analyzer on real photographs with the shipped weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("cv2")

from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer
from emotionhub_facial_emotion.classifiers import CLASSES, available_models

from emotionhub.analyzers.contract import AnalyzerError, Item, Result
from emotionhub.analyzers.runner import run_batch

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
MODELS = available_models()


def item(name: str, path: Path | None = None, **settings) -> Item:
    return Item(
        id=name, kind="image", mime="image/jpeg", path=path or EXAMPLES / name, settings=settings
    )


def test_spec_is_valid_for_the_registry():
    from jsonschema import Draft202012Validator

    spec = FacialEmotionAnalyzer.spec
    Draft202012Validator.check_schema(spec.result_schema)
    Draft202012Validator.check_schema(spec.settings_schema)
    assert spec.queue == "analysis_gpu" and spec.media_kinds == {"image", "video"}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("detector", ["blazeface", "mtcnn", "haar"])
def test_smiling_astronaut_is_one_happy_face(analyzer, detector, model):
    (outcome,) = run_batch(analyzer, [item("astronaut.jpg", detector=detector, model=model)])
    assert outcome.error is None, outcome.error
    payload = outcome.result.payload
    assert payload["face_count"] == 1 and payload["image"] == {"width": 512, "height": 512}
    (face,) = payload["faces"]
    x1, y1, x2, y2 = face["box"]
    # Eileen Collins' face: hand-checked region of the 512x512 photo.
    assert 150 < x1 < 200 and 240 < x2 < 300 and 40 < y1 < 90 and 150 < y2 < 200
    assert face["label"] == "happy" and not face["uncertain"]
    assert sum(face["emotions"].values()) == pytest.approx(1.0, abs=1e-3)
    assert list(face["emotions"]) == list(CLASSES)
    assert (face["landmarks"] is None) == (detector == "haar")
    assert face["turned"] is (False if detector == "blazeface" else None)
    assert outcome.result.model_version.startswith(f"{model}:")
    assert len(outcome.result.weights_sha256) == 64


def test_no_face_image_gives_an_empty_result(analyzer):
    (outcome,) = run_batch(analyzer, [item("coffee.jpg")])
    assert outcome.result.payload["faces"] == [] and outcome.result.payload["face_count"] == 0


def test_batch_keeps_order_and_per_item_settings(analyzer, tmp_path):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes((EXAMPLES / "astronaut.jpg").read_bytes()[:300])
    outcomes = run_batch(
        analyzer,
        [
            item("coffee.jpg"),
            item("broken.jpg", path=corrupt),
            item("astronaut.jpg", detector="haar"),
            item("astronaut.jpg", uncertain_below=1.0),
        ],
    )
    assert [o.item.id for o in outcomes] == [
        "coffee.jpg",
        "broken.jpg",
        "astronaut.jpg",
        "astronaut.jpg",
    ]
    assert outcomes[0].result.payload["face_count"] == 0
    assert isinstance(outcomes[1].error, AnalyzerError)
    assert outcomes[1].error.code == "corrupt_image" and outcomes[1].error.permanent
    assert outcomes[2].result.payload["detector"] == "haar"
    assert outcomes[3].result.payload["faces"][0]["uncertain"] is True


def test_many_faces_and_grayscale(analyzer, tmp_path):
    from PIL import Image

    face = Image.open(EXAMPLES / "astronaut.jpg").crop((130, 20, 320, 230))
    canvas = Image.new("RGB", (600, 220), "white")
    for n in range(3):
        canvas.paste(face, (n * 200, 5))
    group = tmp_path / "group.png"
    canvas.convert("L").save(group)
    (outcome,) = run_batch(analyzer, [item("group", path=group)])
    assert isinstance(outcome.result, Result)
    faces = outcome.result.payload["faces"]
    assert len(faces) == 3
    assert sorted(round(f["box"][0] / 200) for f in faces) == [0, 1, 2]
    assert all(np.isclose(sum(f["emotions"].values()), 1.0, atol=1e-3) for f in faces)
