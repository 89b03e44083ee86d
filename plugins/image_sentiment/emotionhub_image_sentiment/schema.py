"""Settings and result schemas of image_sentiment, and the settings' defaults.

Face settings reuse facial_emotion's own definitions (same enums, ranges and defaults),
so the two analyzers cannot drift apart on what a valid detector or model is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emotionhub_facial_emotion.classifiers import CLASSES as FACE_CLASSES
from emotionhub_facial_emotion.schema import SETTINGS_SCHEMA as FACIAL_SETTINGS

from emotionhub_image_sentiment.fusion import COMPONENT_NAMES, LABELS

#: image_sentiment setting -> facial_emotion setting it is passed through as
FACE_SETTINGS = {
    "face_detector": "detector",
    "face_model": "model",
    "min_face_score": "min_face_score",
    "max_faces": "max_faces",
}
DEFAULT_WEIGHTS = dict.fromkeys(COMPONENT_NAMES, 1.0)
OCR_TEXT_MAX_CHARS = 500  # OCR text echoed in the result; the model sees all of it

_weight = {"type": "number", "minimum": 0, "maximum": 100}
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "weights": {
            "type": "object",
            "additionalProperties": False,
            "properties": dict.fromkeys(COMPONENT_NAMES, _weight),
            "default": DEFAULT_WEIGHTS,
            "description": "base weight of each component; missing names keep 1.0",
        },
        "label_threshold": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": 0.2,
            "description": "score >= t is positive, <= -t negative, else neutral",
        },
        "disagreement_min_share": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": 0.2,
            "description": "share of the total weight a component needs to count as a "
            "disagreeing voice",
        },
        "ocr": {"type": "boolean", "default": True},
        "ocr_min_confidence": {"type": "number", "minimum": 0, "maximum": 100, "default": 60},
        "ocr_timeout_s": {"type": "number", "minimum": 0.5, "maximum": 120, "default": 10},
        "ocr_max_pixels": {
            "type": "integer",
            "minimum": 10_000,
            "maximum": 40_000_000,
            "default": 8_000_000,
        },
        "non_english": {
            "enum": ["skip", "score"],
            "default": "skip",
            "description": "skip: text in another language is reported, not scored",
        },
        **{
            ours: dict(FACIAL_SETTINGS["properties"][theirs])
            for ours, theirs in FACE_SETTINGS.items()
        },
    },
}


def setting(settings: Mapping[str, Any], key: str) -> Any:
    """The value of ``key`` in an item's settings, or the schema's default."""
    if key == "weights":
        return {**DEFAULT_WEIGHTS, **settings.get("weights", {})}
    return settings.get(key, SETTINGS_SCHEMA["properties"][key]["default"])


_probability = {"type": "number", "minimum": 0, "maximum": 1}
_score = {"type": "number", "minimum": -1, "maximum": 1}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [{"type": "null"}, schema]}


_language = {
    "type": "object",
    "required": ["code", "confidence", "reliable"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "string"},
        "confidence": _probability,
        "reliable": {"type": "boolean"},
    },
}


def _component(name: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [
            "name",
            "scored",
            "score",
            "label",
            "weight",
            "share",
            "contribution",
            "details",
        ],
        "additionalProperties": False,
        "properties": {
            "name": {"const": name},
            "scored": {"type": "boolean"},
            "score": _nullable(_score),
            "label": _nullable({"enum": list(LABELS)}),
            "weight": {"type": "number", "minimum": 0, "description": "base weight x quality"},
            "share": _probability,
            "contribution": _score,
            "details": {"type": "object", "additionalProperties": False, **details},
        },
    }


_faces_details = {
    "required": ["face_count", "detector", "model", "faces"],
    "properties": {
        "face_count": {"type": "integer", "minimum": 1},
        "detector": FACIAL_SETTINGS["properties"]["detector"],
        "model": FACIAL_SETTINGS["properties"]["model"],
        "faces": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["box", "label", "confidence", "polarity", "reliability"],
                "additionalProperties": False,
                "properties": {
                    "box": {
                        "type": "array",
                        "items": {"type": "number"},
                        "minItems": 4,
                        "maxItems": 4,
                    },
                    "label": {"enum": list(FACE_CLASSES)},
                    "confidence": _probability,
                    "polarity": _score,
                    "reliability": _probability,
                },
            },
        },
    },
}
_ocr_details = {
    "required": ["text", "text_truncated", "word_count", "confidence", "language"],
    "properties": {
        "text": {"type": "string", "maxLength": OCR_TEXT_MAX_CHARS},
        "text_truncated": {"type": "boolean"},
        "word_count": {"type": "integer", "minimum": 1},
        "confidence": _probability,
        "language": _language,
    },
}
_caption_details = {
    "required": ["chars", "truncated", "language"],
    "properties": {
        "chars": {"type": "integer", "minimum": 1},
        "truncated": {"type": "boolean"},
        "language": _language,
    },
}
RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "scored",
        "label",
        "score",
        "disagreement",
        "components",
        "face_count",
        "ocr",
        "image",
    ],
    "additionalProperties": False,
    "properties": {
        "scored": {"type": "boolean", "description": "false when no component could be scored"},
        "label": _nullable({"enum": list(LABELS)}),
        "score": _nullable(_score),
        "disagreement": {"type": "boolean"},
        "components": {
            "type": "array",
            "maxItems": len(COMPONENT_NAMES),
            "items": {
                "oneOf": [
                    _component("faces", _faces_details),
                    _component("ocr_text", _ocr_details),
                    _component("caption", _caption_details),
                ]
            },
        },
        "face_count": {"type": "integer", "minimum": 0},
        "ocr": {
            "type": "object",
            "required": ["status", "word_count", "seconds"],
            "additionalProperties": False,
            "properties": {
                "status": {"enum": ["ok", "no_text", "timeout", "disabled"]},
                "word_count": {"type": "integer", "minimum": 0},
                "seconds": {"type": "number", "minimum": 0},
            },
        },
        "image": {
            "type": "object",
            "required": ["width", "height"],
            "additionalProperties": False,
            "properties": {
                "width": {"type": "integer", "minimum": 1},
                "height": {"type": "integer", "minimum": 1},
            },
        },
    },
}
