"""Text sentiment: negative/neutral/positive and anger/joy/optimism/sadness for posts.

Every text of a batch goes through the encoder together (length-sorted), so the worker's
micro-batches across submissions pay off. Non-English text is labelled with its language
and, by default, not scored: the model only knows English, and a confident-looking guess on
French or German would be silently wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from emotionhub.analyzers.contract import (
    CONTRACT_VERSION,
    Analyzer,
    AnalyzerError,
    AnalyzerSpec,
    Item,
    Result,
)
from ml.shipped import shipped_model

#: What the shipped text model is (ml/shipped.py, no torch): its heads, card and licence.
MODEL = shipped_model("text_sentiment")
SENTIMENTS = MODEL.heads["sentiment"]
EMOTIONS = MODEL.heads["emotion"]
MAX_CHARS = 20_000

_probability = {"type": "number", "minimum": 0, "maximum": 1}


def _probs(names: Sequence[str]) -> dict:
    return {
        "type": "object",
        "required": list(names),
        "additionalProperties": False,
        "properties": dict.fromkeys(names, _probability),
    }


RESULT_SCHEMA = {
    "type": "object",
    "required": ["label", "score", "confidence", "uncertain", "language", "scored", "input"],
    "additionalProperties": False,
    "properties": {
        "scored": {
            "type": "boolean",
            "description": "false when the text was not scored (non-English, see language)",
        },
        "label": {"oneOf": [{"type": "null"}, {"enum": list(SENTIMENTS)}]},
        "score": {
            "oneOf": [{"type": "null"}, {"type": "number", "minimum": -1, "maximum": 1}],
            "description": "P(positive) - P(negative)",
        },
        "confidence": {"oneOf": [{"type": "null"}, _probability]},
        "uncertain": {"type": "boolean"},
        "sentiment": _probs(SENTIMENTS),
        "emotion": _probs(EMOTIONS),
        "emotion_label": {"enum": list(EMOTIONS)},
        "language": {
            "type": "object",
            "required": ["code", "confidence", "reliable"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string"},
                "confidence": _probability,
                "reliable": {"type": "boolean"},
            },
        },
        "input": {
            "type": "object",
            "required": ["chars", "tokens", "max_tokens", "truncated", "urls", "mentions"],
            "additionalProperties": False,
            "properties": {
                "chars": {"type": "integer"},
                "tokens": {"type": "integer"},
                "max_tokens": {"type": "integer"},
                "truncated": {"type": "boolean"},
                "urls": {"type": "integer"},
                "mentions": {"type": "integer"},
                "hashtags": {"type": "array", "items": {"type": "string"}},
                "emoji": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}
SETTINGS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "uncertain_below": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        "non_english": {
            "enum": ["skip", "score"],
            "default": "skip",
            "description": "skip: report the language and no label; score: score anyway",
        },
    },
}


class TextSentimentAnalyzer(Analyzer):
    spec = AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        produces=frozenset({"sentiment", "emotion"}),
        name="text_sentiment",
        version="0.1.0",
        description="Sentiment (negative/neutral/positive) and emotion (anger/joy/optimism/"
        "sadness) of English posts, with calibrated probabilities and language detection.",
        media_kinds=frozenset({"text"}),
        device="gpu",
        max_batch_size=64,
        model_version=MODEL.meta["model_version"],
        model_card=MODEL.card,
        licence=MODEL.licence,
        result_schema=RESULT_SCHEMA,
        settings_schema=SETTINGS_SCHEMA,
    )

    # Encoder precision on CPU; None: bfloat16 where the CPU has native bf16 kernels (about
    # twice the batched throughput, the same label on all but a few validation tweets in a
    # thousand: see the model card), float32 elsewhere. int8 is measured there, not used.
    cpu_precision: str | None = None

    def load(self, device: str) -> None:
        from ml.checksums import sha256_file
        from ml.text.model import TextSentimentModel, cpu_bf16_supported

        precision = "float32"
        if device == "cpu":
            precision = self.cpu_precision or ("bfloat16" if cpu_bf16_supported() else "float32")
        self.model = TextSentimentModel.load(MODEL.path, device, precision)
        self.weights_sha256 = sha256_file(MODEL.path)

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        from ml.text.language import detect_language
        from ml.text.preprocess import normalize

        out: list[Result | AnalyzerError | None] = [None] * len(items)
        to_score: list[int] = []
        facts = {}
        for i, item in enumerate(items):
            text = (item.text or "").strip()
            if not text:
                out[i] = AnalyzerError("empty_text", "The text is empty.", permanent=True)
                continue
            if len(text) > MAX_CHARS:
                text = text[:MAX_CHARS]
            language = detect_language(text)
            facts[i] = (normalize(text), language)
            skip = item.settings.get("non_english", "skip") == "skip"
            if skip and not language.is_english:
                out[i] = Result(self._payload(item, facts[i], None))
            else:
                to_score.append(i)
        # The analyzer normalised each text already (for the counts it reports).
        predictions = self.model.predict_normalized([facts[i][0].text for i in to_score])
        for i, pred in zip(to_score, predictions, strict=True):
            out[i] = Result(
                self._payload(items[i], facts[i], pred), weights_sha256=self.weights_sha256
            )
        return out  # type: ignore[return-value]

    def _payload(self, item: Item, facts, pred) -> dict:
        normalized, language = facts
        payload = {
            "scored": pred is not None,
            "label": None,
            "score": None,
            "confidence": None,
            "uncertain": True,
            "language": {
                "code": language.code,
                "confidence": language.confidence,
                "reliable": language.reliable,
            },
            "input": {
                "chars": len(item.text or ""),
                "tokens": pred.tokens if pred else 0,
                "max_tokens": self.model.max_length,
                "truncated": bool(pred and pred.truncated) or len(item.text or "") > MAX_CHARS,
                "urls": normalized.urls,
                "mentions": normalized.mentions,
                "hashtags": normalized.hashtags,
                "emoji": normalized.emoji,
            },
        }
        if pred is None:
            return payload
        label = max(pred.sentiment, key=pred.sentiment.get)
        confidence = pred.sentiment[label]
        payload.update(
            {
                "label": label,
                "score": round(pred.sentiment["positive"] - pred.sentiment["negative"], 6),
                "confidence": confidence,
                "uncertain": confidence < item.settings.get("uncertain_below", 0.5),
                "sentiment": pred.sentiment,
                "emotion": pred.emotion,
                "emotion_label": max(pred.emotion, key=pred.emotion.get),
            }
        )
        return payload
