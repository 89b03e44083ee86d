"""What the facial-emotion analyzer promises and accepts: its result and settings schemas,
and the helpers that read an item's settings. No model code: the web process reads these
(spec checks, request validation) without loading torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ml import shipped

if TYPE_CHECKING:
    from emotionhub.analyzers.contract import Frame, Item

# Models, detectors and their defaults come from the registry of shipped models
# (ml/shipped.py, no torch); the default model is the most accurate one within the 5 ms/face
# classifier budget (ml/weights/MODEL_CARD.md), the default detector the winner of the
# detection benchmark (ml/weights/BLAZEFACE.md).
MODELS = tuple(m.name for m in shipped.shipped_models(shipped.FACE_EMOTION))
DEFAULT_MODEL = shipped.DEFAULT_MODEL
CLASSES = shipped.shipped_model(DEFAULT_MODEL).classes
DETECTORS = tuple(shipped.FACE_DETECTORS)
DEFAULT_DETECTOR = shipped.DEFAULT_DETECTOR
#: A face score means something different per detector (see ``FaceDetectorInfo.min_score``).
MIN_FACE_SCORE = {name: d.min_score for name, d in shipped.FACE_DETECTORS.items()}
MODEL_CARD = shipped.FACE_CARD
_MIN_FACE_PX = {name: d.min_face_px for name, d in shipped.FACE_DETECTORS.items()}


def _per_detector(values: dict[str, float] | dict[str, int]) -> str:
    return ", ".join(f"{name} {value}" for name, value in values.items())


_box = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
_point = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_probability = {"type": "number", "minimum": 0, "maximum": 1}
_emotions = {
    "type": "object",
    "required": list(CLASSES),
    "additionalProperties": False,
    "properties": dict.fromkeys(CLASSES, _probability),
}
_label = {"enum": list(CLASSES)}
IMAGE_RESULT_SCHEMA = {
    "type": "object",
    "required": ["faces", "face_count", "detector", "model", "image"],
    "additionalProperties": False,
    "properties": {
        "face_count": {"type": "integer", "minimum": 0},
        "detector": {"enum": list(DETECTORS)},
        "model": {"enum": list(MODELS)},
        "image": {
            "type": "object",
            "required": ["width", "height"],
            "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}},
        },
        "faces": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "box",
                    "score",
                    "landmarks",
                    "emotions",
                    "label",
                    "confidence",
                    "uncertain",
                ],
                "additionalProperties": False,
                "properties": {
                    "box": _box,
                    "score": {"type": "number"},
                    "landmarks": {"oneOf": [{"type": "null"}, {"type": "array", "items": _point}]},
                    "emotions": _emotions,
                    "label": _label,
                    "confidence": _probability,
                    "uncertain": {"type": "boolean"},
                    "turned": {
                        "type": ["boolean", "null"],
                        "description": "head turned 30 degrees or more (expression readings "
                        "are less reliable); null when the detector gives no ear keypoints",
                    },
                },
            },
        },
    },
}
VIDEO_RESULT_SCHEMA = {
    "type": "object",
    "required": ["video", "timeline", "tracks", "face_count", "detector", "model"],
    "additionalProperties": False,
    "properties": {
        "face_count": {"type": "integer", "minimum": 0, "description": "face tracks"},
        "detector": {"enum": list(DETECTORS)},
        "model": {"enum": list(MODELS)},
        "video": {
            "type": "object",
            "required": [
                "duration_s",
                "fps",
                "width",
                "height",
                "frames_analyzed",
                "sample_every_s",
                "truncated",
            ],
            "additionalProperties": False,
            "properties": {
                "duration_s": {
                    "type": ["number", "null"],
                    "description": "null when neither the container nor a full read tells",
                },
                "fps": {"type": "number"},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "frames_analyzed": {"type": "integer"},
                "sample_every_s": {"type": "number"},
                "truncated": {"type": "boolean"},
            },
        },
        "timeline": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["second", "face_count", "emotions", "label"],
                "additionalProperties": False,
                "properties": {
                    "second": {"type": "integer", "minimum": 0},
                    "face_count": {"type": "integer", "minimum": 0},
                    "emotions": {"oneOf": [{"type": "null"}, _emotions]},
                    "label": {"oneOf": [{"type": "null"}, _label]},
                },
            },
        },
        "tracks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "track_id",
                    "first_s",
                    "last_s",
                    "frames",
                    "emotions",
                    "label",
                    "confidence",
                    "last_box",
                ],
                "additionalProperties": False,
                "properties": {
                    "track_id": {"type": "integer"},
                    "first_s": {"type": "number"},
                    "last_s": {"type": "number"},
                    "frames": {"type": "integer", "minimum": 1},
                    "emotions": _emotions,
                    "label": _label,
                    "confidence": _probability,
                    "last_box": _box,
                    "keyframes": {
                        "type": "array",
                        "maxItems": 8,
                        "items": {
                            "type": "object",
                            "required": ["t", "box"],
                            "additionalProperties": False,
                            "properties": {"t": {"type": "number"}, "box": _box},
                        },
                    },
                },
            },
        },
    },
}
RESULT_SCHEMA = {"oneOf": [IMAGE_RESULT_SCHEMA, VIDEO_RESULT_SCHEMA]}
SETTINGS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "detector": {"enum": list(DETECTORS), "default": DEFAULT_DETECTOR},
        "model": {"enum": list(MODELS), "default": DEFAULT_MODEL},
        "min_face_score": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 1,
            "default": None,
            "description": f"null: the detector's own ({_per_detector(MIN_FACE_SCORE)})",
        },
        "min_face_px": {
            "type": ["integer", "null"],
            "minimum": 12,
            "maximum": 1000,
            "default": None,
            "description": "Smallest face side the detector looks for; larger is faster "
            "(fewer pyramid levels or tiles), the real-time path's default is larger. "
            f"null: the detector's own ({_per_detector(_MIN_FACE_PX)}).",
        },
        "uncertain_below": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        "max_faces": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        "sample_every_s": {"type": "number", "minimum": 0.04, "maximum": 60, "default": 1.0},
        "max_frames": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 300},
        "max_duration_s": {"type": "number", "exclusiveMinimum": 0, "default": 600},
    },
}


def setting(item: Item | Frame, key: str):
    """The item's (or frame's) value of a setting, or the schema's default."""
    return item.settings.get(key, SETTINGS_SCHEMA["properties"][key]["default"])


def kept_faces(item: Item | Frame, faces: Sequence) -> list:
    """The item's faces above ``min_face_score``, best first, at most ``max_faces``."""
    minimum = setting(item, "min_face_score")
    if minimum is None:
        minimum = MIN_FACE_SCORE[setting(item, "detector")]
    kept = sorted((f for f in faces if f.score >= minimum), key=lambda f: f.score, reverse=True)
    return kept[: setting(item, "max_faces")]
