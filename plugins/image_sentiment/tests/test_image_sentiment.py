"""The analyzer end to end on real images: rendered text, real portraits, captions.

Assertions are about direction (labels, signs, flags), never about exact probabilities:
the text model's weights are retrained from time to time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from emotionhub_facial_emotion.analyzer import DEFAULT_MODEL as FACE_DEFAULT
from emotionhub_image_sentiment.analyzer import ImageSentimentAnalyzer
from emotionhub_image_sentiment.schema import RESULT_SCHEMA, SETTINGS_SCHEMA

from emotionhub.analyzers import registry
from emotionhub.analyzers.contract import MODEL_VERSION_MAX, AnalyzerError, Item
from emotionhub.analyzers.runner import run_batch, validate_settings

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "docs" / "examples"
PHOTOS = REPO / "tests" / "data" / "photos"
SMILE = PHOTOS / "obama.jpg"  # official portrait with a broad, open smile
NEGATIVE_CAPTION = "Worst day of my life. I hate this, everything went wrong."
POSITIVE_CAPTION = "Best day ever, I love it here!"


def item(path: Path, caption: str | None = None, **settings) -> Item:
    return Item(
        id=path.name, kind="image", mime="image/png", path=path, text=caption, settings=settings
    )


def run_one(analyzer, it: Item) -> dict:
    (outcome,) = run_batch(analyzer, [it])  # the runner also validates RESULT_SCHEMA
    assert outcome.error is None, outcome.error
    return outcome.result.payload


def by_name(payload: dict) -> dict[str, dict]:
    return {c["name"]: c for c in payload["components"]}


def test_spec_is_valid_and_installed():
    assert registry.spec_problems("image_sentiment") == []
    assert registry.installed_entry_points()["image_sentiment"].load() is ImageSentimentAnalyzer
    assert ImageSentimentAnalyzer.spec.media_kinds == {"image"}


def test_settings_are_validated_against_the_schema():
    assert validate_settings(ImageSentimentAnalyzer, {}) == []
    ok = {"weights": {"caption": 2}, "face_detector": "haar", "ocr": False}
    assert validate_settings(ImageSentimentAnalyzer, ok) == []
    for bad in (
        {"weights": {"logo": 1}},
        {"face_detector": "yolo"},
        {"label_threshold": 0},
        {"ocr_timeout_s": 0},
        {"unknown": 1},
    ):
        assert validate_settings(ImageSentimentAnalyzer, bad), bad
    assert SETTINGS_SCHEMA["properties"]["face_model"]["default"] == FACE_DEFAULT


@pytest.mark.parametrize(
    ("text", "label", "words"),
    [("I LOVE THIS", "positive", "LOVE THIS"), ("TERRIBLE SERVICE", "negative", "TERRIBLE")],
)
def test_text_in_the_image_decides_without_faces_or_caption(
    analyzer, text_image, text, label, words
):
    payload = run_one(analyzer, item(text_image(text)))
    assert payload["scored"] is True
    assert payload["label"] == label
    assert payload["face_count"] == 0 and payload["ocr"]["status"] == "ok"
    (ocr,) = payload["components"]
    assert ocr["name"] == "ocr_text" and ocr["label"] == label
    assert words in ocr["details"]["text"]
    assert ocr["details"]["confidence"] > 0.8
    assert ocr["weight"] == pytest.approx(ocr["details"]["confidence"], abs=1e-3)
    assert ocr["share"] == 1.0 and ocr["contribution"] == pytest.approx(payload["score"])
    assert (payload["score"] > 0) == (label == "positive")
    assert payload["disagreement"] is False


def test_smiling_portrait_alone_is_positive_from_the_face(analyzer):
    payload = run_one(analyzer, item(SMILE))
    assert payload["label"] == "positive" and payload["face_count"] == 1
    (faces,) = payload["components"]
    assert faces["name"] == "faces" and faces["score"] > 0.5
    (face,) = faces["details"]["faces"]
    # reliability = detection score x confidence: BlazeFace (the default) scores it 0.95
    assert face["label"] == "happy" and face["reliability"] > 0.7
    assert payload["ocr"]["status"] == "no_text"


def test_smiling_face_with_a_negative_caption_disagrees(analyzer):
    payload = run_one(analyzer, item(SMILE, NEGATIVE_CAPTION))
    parts = by_name(payload)
    assert parts["faces"]["label"] == "positive"
    assert parts["caption"]["label"] == "negative"
    assert parts["caption"]["details"]["language"]["code"] == "en"
    assert payload["disagreement"] is True
    assert sum(c["contribution"] for c in payload["components"]) == pytest.approx(
        payload["score"], abs=1e-3
    )
    # the same post agreeing with itself
    agree = run_one(analyzer, item(SMILE, POSITIVE_CAPTION))
    assert agree["label"] == "positive" and agree["disagreement"] is False


def test_weights_are_settings(analyzer):
    muted = run_one(analyzer, item(SMILE, NEGATIVE_CAPTION, weights={"caption": 0}))
    assert muted["label"] == "positive" and muted["disagreement"] is False
    assert by_name(muted)["caption"]["share"] == 0
    caption_only = run_one(analyzer, item(SMILE, NEGATIVE_CAPTION, weights={"faces": 0}))
    assert caption_only["label"] == "negative"
    assert caption_only["score"] == pytest.approx(by_name(caption_only)["caption"]["score"])


def test_text_over_a_smiling_photo_fuses_ocr_and_face(analyzer, text_image):
    path = text_image("WORST DAY EVER", photo=SMILE)
    payload = run_one(analyzer, item(path))
    parts = by_name(payload)
    assert set(parts) == {"faces", "ocr_text"}
    assert "WORST DAY EVER" in parts["ocr_text"]["details"]["text"]
    assert parts["ocr_text"]["label"] == "negative" and parts["faces"]["label"] == "positive"
    assert payload["disagreement"] is True


@pytest.mark.parametrize("photo", ["coffee.jpg", "chelsea.jpg"])
def test_no_face_no_text_no_caption_is_a_valid_unscored_result(analyzer, photo):
    payload = run_one(analyzer, item(EXAMPLES / photo))
    assert payload == {
        "scored": False,
        "label": None,
        "score": None,
        "disagreement": False,
        "components": [],
        "face_count": 0,
        "ocr": {**payload["ocr"], "status": "no_text", "word_count": 0},
        "image": payload["image"],
    }


def test_non_english_caption_is_reported_not_scored(analyzer):
    caption = "C'est la pire journée de ma vie, je déteste absolument tout ici."
    payload = run_one(analyzer, item(EXAMPLES / "coffee.jpg", caption))
    (part,) = payload["components"]
    assert part["name"] == "caption" and part["scored"] is False
    assert part["details"]["language"] == {**part["details"]["language"], "code": "fr"}
    assert (payload["scored"], payload["label"]) == (False, None)
    scored = run_one(analyzer, item(EXAMPLES / "coffee.jpg", caption, non_english="score"))
    assert scored["scored"] is True and by_name(scored)["caption"]["weight"] == 1.0


def test_ocr_can_be_disabled(analyzer, text_image):
    payload = run_one(analyzer, item(text_image("TERRIBLE SERVICE"), ocr=False))
    assert payload["ocr"] == {"status": "disabled", "word_count": 0, "seconds": 0.0}
    assert payload["scored"] is False


def test_face_settings_reach_facial_emotion(analyzer):
    payload = run_one(analyzer, item(SMILE, face_detector="haar", face_model="emotion_cnn"))
    details = by_name(payload)["faces"]["details"]
    assert (details["detector"], details["model"]) == ("haar", "emotion_cnn")
    none = run_one(analyzer, item(SMILE, min_face_score=1.0, face_detector="mtcnn"))
    assert none["face_count"] == 0 and none["components"] == []


def test_corrupt_and_missing_images_fail_permanently(analyzer, tmp_path):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(SMILE.read_bytes()[:400])
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not an image at all")
    outcomes = run_batch(analyzer, [item(corrupt), item(not_an_image)])
    for outcome in outcomes:
        assert outcome.result is None
        assert outcome.error.code == "corrupt_image" and outcome.error.permanent is True


def test_mixed_batch_keeps_order_and_scores_all_texts_in_one_model_call(
    analyzer, text_image, tmp_path, monkeypatch
):
    calls = []
    predict = analyzer.text_model.predict

    def counting_predict(texts, *args, **kwargs):
        calls.append(list(texts))
        return predict(texts, *args, **kwargs)

    monkeypatch.setattr(analyzer.text_model, "predict", counting_predict)
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    batch = [
        item(text_image("I LOVE THIS", name="love.png")),
        item(corrupt),
        item(EXAMPLES / "coffee.jpg"),
        item(SMILE, NEGATIVE_CAPTION),
        item(text_image("TERRIBLE SERVICE", name="terrible.png"), POSITIVE_CAPTION),
    ]
    outcomes = run_batch(analyzer, batch)
    assert [o.item.id for o in outcomes] == [it.id for it in batch]
    love, broken, coffee, smile, terrible = outcomes
    assert love.result.payload["label"] == "positive"
    assert broken.error.code == "corrupt_image"
    assert coffee.result.payload["scored"] is False
    assert smile.result.payload["disagreement"] is True
    assert set(by_name(terrible.result.payload)) == {"ocr_text", "caption"}
    assert terrible.result.payload["disagreement"] is True
    (texts,) = calls  # OCR texts and captions of the whole batch, one model call
    assert len(texts) == 4 and NEGATIVE_CAPTION in texts and POSITIVE_CAPTION in texts


def test_result_names_every_model_it_used(analyzer):
    (outcome,) = run_batch(analyzer, [item(SMILE, POSITIVE_CAPTION)])
    version = outcome.result.model_version
    assert version.startswith(f"fusion/1|{FACE_DEFAULT}:")
    assert "|text:" in version and "|tesseract " in version
    assert len(version) <= MODEL_VERSION_MAX  # what AnalysisResult.model_version holds
    assert len(outcome.result.weights_sha256) == 64


def test_missing_tesseract_fails_load_with_a_clear_error(tmp_path, monkeypatch):
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "tesseract"))
    with pytest.raises(AnalyzerError) as caught:
        ImageSentimentAnalyzer().load("cpu")
    assert caught.value.code == "ocr_unavailable"
    assert "apt-get install -y tesseract-ocr" in caught.value.message


def test_result_schema_is_strict():
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(RESULT_SCHEMA)
    good = {
        "scored": True,
        "label": "positive",
        "score": 0.5,
        "disagreement": False,
        "components": [
            {
                "name": "caption",
                "scored": True,
                "score": 0.5,
                "label": "positive",
                "weight": 1.0,
                "share": 1.0,
                "contribution": 0.5,
                "details": {
                    "chars": 10,
                    "truncated": False,
                    "language": {"code": "en", "confidence": 0.9, "reliable": True},
                },
            }
        ],
        "face_count": 0,
        "ocr": {"status": "no_text", "word_count": 0, "seconds": 0.1},
        "image": {"width": 10, "height": 10},
    }
    assert list(validator.iter_errors(good)) == []
    caption = good["components"][0]
    for broken in (
        {**good, "label": "happy"},
        {**good, "score": 1.5},
        {**good, "extra": 1},
        {**good, "components": [{**caption, "name": "faces"}]},  # caption details as faces
        {**good, "components": [{**caption, "details": {**caption["details"], "text": "x"}}]},
        {**good, "ocr": {**good["ocr"], "status": "maybe"}},
    ):
        assert list(validator.iter_errors(broken)), broken
