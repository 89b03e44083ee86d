"""The fusion rule and the face polarity mapping, exactly (no models involved)."""

from __future__ import annotations

import pytest
from emotionhub_facial_emotion.classifiers import CLASSES
from emotionhub_image_sentiment.faces import (
    FACE_POLARITY,
    face_polarity,
    face_reliability,
    faces_component,
)
from emotionhub_image_sentiment.fusion import Component, fuse, label_of


def comp(name: str, score: float | None, weight: float) -> Component:
    return Component(name, score, weight, {})


def test_label_thresholds_are_inclusive_and_symmetric():
    assert label_of(0.2, 0.2) == "positive"
    assert label_of(0.19, 0.2) == "neutral"
    assert label_of(-0.2, 0.2) == "negative"
    assert label_of(0.0, 0.2) == "neutral"
    assert label_of(None, 0.2) is None


def test_fused_score_is_the_weighted_mean_and_contributions_add_up():
    parts = [comp("faces", 0.9, 0.5), comp("ocr_text", -0.3, 1.0), comp("caption", 0.6, 1.5)]
    fusion = fuse(parts, 0.2, 0.2)
    expected = (0.9 * 0.5 - 0.3 * 1.0 + 0.6 * 1.5) / 3.0
    assert fusion.score == pytest.approx(expected)
    assert fusion.shares == pytest.approx((0.5 / 3, 1 / 3, 0.5))
    assert sum(fusion.contributions) == pytest.approx(fusion.score)
    assert fusion.label == "positive"
    assert fusion.disagreement is True  # ocr_text (-0.3, share 1/3) vs caption (0.6, 1/2)


def test_disagreement_needs_opposite_labels_with_meaningful_shares():
    happy_face, sad_caption = comp("faces", 0.9, 1.0), comp("caption", -0.8, 1.0)
    assert fuse([happy_face, sad_caption], 0.2, 0.2).disagreement is True
    # the same caption with a tiny share cannot raise the flag
    weak = comp("caption", -0.8, 0.1)
    assert fuse([happy_face, weak], 0.2, 0.2).disagreement is False
    # neutral never disagrees
    assert fuse([happy_face, comp("caption", 0.1, 1.0)], 0.2, 0.2).disagreement is False
    # a mildly negative text is a negative label: it disagrees with a happy face
    mild = fuse([happy_face, comp("ocr_text", -0.3, 1.0)], 0.2, 0.2)
    assert mild.disagreement is True and mild.label == "positive"


def test_unscored_components_have_no_say_and_nothing_scored_is_unscored():
    french = comp("caption", None, 0.0)
    assert fuse([comp("faces", -0.7, 0.8), french], 0.2, 0.2).score == pytest.approx(-0.7)
    for parts in ([], [french], [comp("faces", 0.9, 0.0)]):
        fusion = fuse(parts, 0.2, 0.2)
        assert (fusion.score, fusion.label, fusion.disagreement) == (None, None, False)


def test_component_rejects_out_of_range_values():
    with pytest.raises(ValueError):
        comp("faces", 1.5, 1.0)
    with pytest.raises(ValueError):
        comp("caption", None, 1.0)
    with pytest.raises(ValueError):
        comp("logo", 0.0, 1.0)


def test_every_face_class_has_a_documented_polarity():
    assert set(FACE_POLARITY) == set(CLASSES)
    assert FACE_POLARITY["happy"] == 1.0 and FACE_POLARITY["neutral"] == 0.0
    assert 0 < FACE_POLARITY["surprise"] < 0.5
    assert all(FACE_POLARITY[c] == -1.0 for c in ("angry", "disgust", "fear", "sad"))


def face(box, score, emotions):
    best = max(emotions, key=emotions.get)
    full = dict.fromkeys(CLASSES, 0.0) | emotions
    return {"box": box, "score": score, "emotions": full, "label": best, "confidence": full[best]}


def test_face_polarity_is_an_expectation_and_small_faces_count_less():
    mixed = {"happy": 0.5, "sad": 0.3, "surprise": 0.2}
    assert face_polarity(dict.fromkeys(CLASSES, 0.0) | mixed) == pytest.approx(
        0.5 - 0.3 + 0.2 * 0.25
    )
    big = face([0, 0, 96, 120], 0.99, {"happy": 0.9, "neutral": 0.1})
    small = face([0, 0, 24, 30], 0.99, {"happy": 0.9, "neutral": 0.1})
    assert face_reliability(big) == pytest.approx(0.99 * 0.9)
    assert face_reliability(small) == pytest.approx(0.99 * 0.9 * 24 / 48)


def test_faces_component_is_led_by_the_clearest_face():
    big_happy = face([0, 0, 100, 100], 1.0, {"happy": 1.0})
    tiny_sad = face([0, 0, 12, 12], 0.9, {"sad": 1.0})
    payload = {"faces": [big_happy, tiny_sad], "detector": "mtcnn", "model": "mini_xception"}
    component = faces_component(payload, weight=2.0)
    r_small = 0.9 * 12 / 48
    assert component.score == pytest.approx((1.0 - r_small) / (1.0 + r_small))
    assert component.weight == pytest.approx(2.0)  # base weight x best reliability (1.0)
    assert component.details["face_count"] == 2
    assert faces_component({**payload, "faces": []}, 1.0) is None
