"""The shipped weights still produce the figures their model card states."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from ml.classifiers import SHIPPED_MODELS, load_face_classifier
from ml.data.fer import DEFAULT_DATA
from ml.model_card import CARD_JSON, CARD_MD, render, sample_accuracy

VAL = DEFAULT_DATA / "val.zip"
CARD = json.loads(CARD_JSON.read_text())


def test_card_covers_every_shipped_model_and_the_markdown_shows_its_numbers():
    assert set(CARD["models"]) == set(SHIPPED_MODELS)
    assert render(CARD) in CARD_MD.read_text()
    for figures in CARD["models"].values():
        validation = figures["validation"]
        assert validation["n"] == 3589
        assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(validation)


@pytest.mark.parametrize("model", list(SHIPPED_MODELS))
def test_shipped_weights_load_with_the_carded_temperature(model):
    classifier = load_face_classifier(model)
    assert classifier.temperature == pytest.approx(
        CARD["models"][model]["validation"]["temperature"]
    )


@pytest.mark.skipif(not VAL.is_file(), reason=f"FER2013 validation data not found at {VAL}")
@pytest.mark.parametrize("model", list(SHIPPED_MODELS))
def test_shipped_weights_reproduce_the_carded_validation_accuracy(model):
    import torch

    torch.set_num_threads(1)
    carded = CARD["models"][model]["validation_sample"]
    measured = sample_accuracy(model, VAL, carded["size"])
    assert measured["n"] == carded["n"]
    assert measured["accuracy"] == pytest.approx(carded["accuracy"], abs=0.01)
