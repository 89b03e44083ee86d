"""Image sentiment: faces, text in the image (OCR) and the caption, fused into one label.

Nothing is re-implemented here: faces go through the facial_emotion analyzer (loaded
inside this one) and every text of a batch, OCR and captions alike, through one call of
the text sentiment model. This module only orchestrates; the polarity of faces lives in
``faces.py``, OCR in ``ocr.py`` and the fusion rule in ``fusion.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from emotionhub.analyzers.contract import (
    CONTRACT_VERSION,
    Analyzer,
    AnalyzerError,
    AnalyzerSpec,
    Item,
    Result,
)
from emotionhub_image_sentiment.faces import faces_component
from emotionhub_image_sentiment.fusion import Component, fuse, label_of
from emotionhub_image_sentiment.ocr import OcrFailed, OcrText, OcrUnavailable
from emotionhub_image_sentiment.schema import (
    FACE_SETTINGS,
    OCR_TEXT_MAX_CHARS,
    RESULT_SCHEMA,
    SETTINGS_SCHEMA,
    setting,
)

FUSION_VERSION = "fusion/1"


class ImageSentimentAnalyzer(Analyzer):
    spec = AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        produces=frozenset({"sentiment", "face_boxes"}),
        name="image_sentiment",
        version="0.1.0",
        description="Sentiment of a whole image (negative/neutral/positive, score in [-1, 1]) "
        "fused from facial expressions, text read by OCR and the caption, with each "
        "component's contribution and a flag when they disagree.",
        media_kinds=frozenset({"image"}),
        device="gpu",
        max_batch_size=16,
        model_version=f"{FUSION_VERSION} (per-result model_version names the face, text "
        "and OCR models)",
        model_card="plugins/image_sentiment/README.md",
        licence="Apache-2.0 code; models: see the facial_emotion and text_sentiment cards; "
        "tesseract Apache-2.0",
        infers_emotion_from_faces=True,  # its face component reads facial expressions
        result_schema=RESULT_SCHEMA,
        settings_schema=SETTINGS_SCHEMA,
    )

    def load(self, device: str) -> None:
        """Fails when tesseract is missing rather than silently dropping the OCR component:
        results are stored per model version and would never be redone once it is there."""
        from emotionhub_facial_emotion.analyzer import FacialEmotionAnalyzer
        from emotionhub_text_sentiment.analyzer import TextSentimentAnalyzer

        from emotionhub_image_sentiment.ocr import tesseract_version
        from ml.checksums import sha256_file
        from ml.text.model import DEFAULT_WEIGHTS, TextSentimentModel

        try:
            self.tesseract = tesseract_version()
        except OcrUnavailable as exc:
            raise AnalyzerError("ocr_unavailable", str(exc)) from None
        self.facial = FacialEmotionAnalyzer()
        self.facial.load(device)
        self.text_model = TextSentimentModel.load(DEFAULT_WEIGHTS, device)
        self.text_sha256 = sha256_file(DEFAULT_WEIGHTS)
        self.text_version = f"{TextSentimentAnalyzer.spec.model_version}:{self.text_sha256[:12]}"

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        from ml.detection import ImageDecodeError, load_image

        out: list[Result | AnalyzerError | None] = [None] * len(items)
        images: dict[int, np.ndarray] = {}
        for i, item in enumerate(items):
            if item.path is None:
                out[i] = AnalyzerError("no_image", "The item has no image file.", permanent=True)
                continue
            try:
                images[i] = load_image(item.path)
            except (ImageDecodeError, OSError) as exc:
                out[i] = AnalyzerError("corrupt_image", str(exc), permanent=True)

        facial = self._facial_results({i: items[i] for i in images})
        for i, result in facial.items():
            if isinstance(result, AnalyzerError):
                out[i] = result
                del images[i]
            else:
                items[i].report_progress(0.4)

        ocr: dict[int, OcrText | None] = {}
        for i, rgb in images.items():
            try:
                ocr[i] = self._ocr(items[i], rgb)
            except OcrFailed as exc:
                out[i] = AnalyzerError("ocr_failed", f"tesseract failed: {exc}")
            items[i].report_progress(0.8)

        texts = self._texts({i: items[i] for i in ocr}, ocr)
        for i, rgb in images.items():
            if i not in ocr:
                continue
            out[i] = self._result(items[i], rgb, facial[i], ocr[i], texts.get(i, {}))
        return out  # type: ignore[return-value]

    def _facial_results(self, items: dict[int, Item]) -> dict[int, Result | AnalyzerError]:
        """facial_emotion on the same files, with our face settings under its names."""
        if not items:
            return {}
        derived = [
            Item(
                id=item.id,
                kind="image",
                mime=item.mime,
                path=item.path,
                settings={
                    theirs: item.settings[ours]
                    for ours, theirs in FACE_SETTINGS.items()
                    if ours in item.settings
                },
            )
            for item in items.values()
        ]
        return dict(zip(items, self.facial.analyze(derived), strict=True))

    def _ocr(self, item: Item, rgb: np.ndarray) -> OcrText | None:
        from emotionhub_image_sentiment.ocr import read_text

        if not setting(item.settings, "ocr"):
            return None
        return read_text(
            rgb,
            min_confidence=setting(item.settings, "ocr_min_confidence"),
            timeout_s=setting(item.settings, "ocr_timeout_s"),
            max_pixels=setting(item.settings, "ocr_max_pixels"),
        )

    def _texts(
        self, items: dict[int, Item], ocr: dict[int, OcrText | None]
    ) -> dict[int, dict[str, Component]]:
        """OCR text and caption components of every item; one model call for the batch."""
        from emotionhub_text_sentiment.analyzer import MAX_CHARS

        from ml.text.language import detect_language

        found: list[tuple[int, str, str, float, dict[str, Any]]] = []
        for i, item in items.items():
            weights = setting(item.settings, "weights")
            read = ocr[i]
            if read is not None and read.status == "ok":
                confidence = read.confidence or 0.0
                details = {
                    "text": read.text[:OCR_TEXT_MAX_CHARS],
                    "text_truncated": len(read.text) > OCR_TEXT_MAX_CHARS,
                    "word_count": read.word_count,
                    "confidence": round(confidence, 4),
                }
                weight = weights["ocr_text"] * confidence
                found.append((i, "ocr_text", read.text[:MAX_CHARS], weight, details))
            caption = (item.text or "").strip()
            if caption:
                details = {"chars": len(caption), "truncated": len(caption) > MAX_CHARS}
                found.append((i, "caption", caption[:MAX_CHARS], weights["caption"], details))

        to_score = []
        for n, (i, _, text, _, details) in enumerate(found):
            language = detect_language(text)
            details["language"] = {
                "code": language.code,
                "confidence": language.confidence,
                "reliable": language.reliable,
            }
            skip = setting(items[i].settings, "non_english") == "skip"
            if language.is_english or not skip:
                to_score.append(n)
        predictions = self.text_model.predict([found[n][2] for n in to_score])
        scores = {
            n: max(-1.0, min(1.0, p.sentiment["positive"] - p.sentiment["negative"]))
            for n, p in zip(to_score, predictions, strict=True)
        }

        components: dict[int, dict[str, Component]] = {}
        for n, (i, name, _, weight, details) in enumerate(found):
            score = scores.get(n)
            weight = weight if score is not None else 0.0
            components.setdefault(i, {})[name] = Component(name, score, weight, details)
        return components

    def _result(
        self,
        item: Item,
        rgb: np.ndarray,
        facial: Result,
        ocr: OcrText | None,
        texts: dict[str, Component],
    ) -> Result:
        weights = setting(item.settings, "weights")
        threshold = setting(item.settings, "label_threshold")
        faces = faces_component(facial.payload, weights["faces"])
        components = [
            c for c in (faces, texts.get("ocr_text"), texts.get("caption")) if c is not None
        ]
        fusion = fuse(components, threshold, setting(item.settings, "disagreement_min_share"))
        height, width = rgb.shape[:2]
        payload = {
            "scored": fusion.score is not None,
            "label": fusion.label,
            "score": _round(fusion.score),
            "disagreement": fusion.disagreement,
            "components": [
                {
                    "name": c.name,
                    "scored": c.score is not None,
                    "score": _round(c.score),
                    "label": label_of(c.score, threshold),
                    "weight": round(c.weight, 4),
                    "share": round(share, 4),
                    "contribution": round(contribution, 4),
                    "details": dict(c.details),
                }
                for c, share, contribution in zip(
                    components, fusion.shares, fusion.contributions, strict=True
                )
            ],
            "face_count": int(facial.payload["face_count"]),
            "ocr": {
                "status": "disabled" if ocr is None else ocr.status,
                "word_count": 0 if ocr is None else ocr.word_count,
                "seconds": 0.0 if ocr is None else round(ocr.seconds, 3),
            },
            "image": {"width": int(width), "height": int(height)},
        }
        face_sha = facial.weights_sha256 or ""
        return Result(
            payload,
            # Compact (results store at most MODEL_VERSION_MAX characters): every model that
            # shaped the result, so new weights give a new result beside the old one.
            model_version=f"{FUSION_VERSION}|{facial.model_version}|text:{self.text_sha256[:12]}"
            f"|tesseract {self.tesseract}",
            weights_sha256=hashlib.sha256(f"{face_sha}\n{self.text_sha256}".encode()).hexdigest(),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
