"""Facial emotion: detect faces, align them by the eyes, classify seven emotions.

Images of one batch are detected together and every face of the batch is classified in one
forward pass, which is what makes the GPU worker's micro-batches pay off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from emotionhub.analyzers.contract import (
    CONTRACT_VERSION,
    Analyzer,
    AnalyzerError,
    AnalyzerSpec,
    Frame,
    Item,
    Result,
)
from emotionhub_facial_emotion.classifiers import (
    CLASSES,
    SHIPPED_MODELS,
    LoadedClassifier,
    load_classifier,
)

DETECTORS = ("blazeface", "mtcnn", "haar")
#: The detector that won the detection benchmark (ml/detection/BENCHMARK.md); the same
#: name as ``ml.detection.DEFAULT_DETECTOR``, kept literal so this module imports no ML code.
DEFAULT_DETECTOR = "blazeface"
#: A face score means something different per detector: MTCNN's O-Net probability needs 0.9
#: to drop its false positives on textures, BlazeFace's is calibrated around MediaPipe's 0.5
#: (true faces here score 0.6-0.97), Haar reports 1.0 for every face.
MIN_FACE_SCORE = {"blazeface": 0.5, "mtcnn": 0.9, "haar": 0.9}
MODELS = tuple(SHIPPED_MODELS)
# The baseline stays the default until our own network beats it on FER2013 validation
# (see ml/weights/*.md); "model": "emotion_cnn" selects ours.
DEFAULT_MODEL = "mini_xception"

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
            "description": "null: the detector's own (blazeface 0.5, mtcnn 0.9, haar 0.9)",
        },
        "min_face_px": {
            "type": ["integer", "null"],
            "minimum": 12,
            "maximum": 1000,
            "default": None,
            "description": "Smallest face side the detector looks for; larger is faster "
            "(fewer pyramid levels or tiles), the real-time path's default is larger. "
            "null: the detector's own (blazeface 40, mtcnn 20, haar 20).",
        },
        "uncertain_below": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
        "max_faces": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        "sample_every_s": {"type": "number", "minimum": 0.04, "maximum": 60, "default": 1.0},
        "max_frames": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 300},
        "max_duration_s": {"type": "number", "exclusiveMinimum": 0, "default": 600},
    },
}


class FacialEmotionAnalyzer(Analyzer):
    spec = AnalyzerSpec(
        contract_version=CONTRACT_VERSION,
        produces=frozenset({"faces"}),
        name="facial_emotion",
        version="0.1.0",
        description="Faces with boxes, eye landmarks and calibrated probabilities of seven "
        "emotions (angry, disgust, fear, happy, neutral, sad, surprise).",
        media_kinds=frozenset({"image", "video"}),
        device="gpu",
        max_batch_size=16,
        model_version=f"{DEFAULT_MODEL} (default; per-result model_version names the weights)",
        model_card="ml/weights/MODEL_CARD.md",
        licence="Apache-2.0 code; weights: see model cards",
        infers_emotion_from_faces=True,
        realtime=True,
        result_schema=RESULT_SCHEMA,
        settings_schema=SETTINGS_SCHEMA,
    )

    def load(self, device: str) -> None:
        self.device = device
        self._detectors: dict[tuple[str, int | None], object] = {}
        self._classifiers: dict[str, LoadedClassifier] = {}

    def _detector(self, name: str, min_face_px: int | None = None):
        key = (name, None if min_face_px is None else int(min_face_px))
        if key not in self._detectors:
            from ml.detection import make_detector

            options = {} if min_face_px is None else {"min_face_size": int(min_face_px)}
            self._detectors[key] = make_detector(name, device=self.device, **options)
        return self._detectors[key]

    def _classifier(self, name: str) -> LoadedClassifier:
        if name not in self._classifiers:
            try:
                self._classifiers[name] = load_classifier(name, self.device)
            except FileNotFoundError as exc:
                raise AnalyzerError(
                    "model_unavailable",
                    f"weights for model {name!r} are not installed: {exc}",
                    permanent=True,
                ) from None
        return self._classifiers[name]

    def analyze(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        """Images of the batch are detected and classified together, first, since they are
        quick; then each video streams its sampled frames through the same models in
        chunks. Micro-batching can put several videos (and images) in one batch, so after
        every chunk the other jobs of the batch report progress too: their leases must
        outlast the videos ahead of them."""
        from emotionhub_facial_emotion.video_analysis import analyze_video

        out: list[Result | AnalyzerError | None] = [None] * len(items)
        image_indices = [i for i, item in enumerate(items) if item.kind != "video"]
        if image_indices:
            results = self._analyze_images([items[i] for i in image_indices])
            for index, result in zip(image_indices, results, strict=True):
                out[index] = result

        def keep_others_alive(current: int) -> None:
            for index, other in enumerate(items):
                if index != current:
                    other.report_progress(0.0 if out[index] is None else 1.0)

        for index, item in enumerate(items):
            if item.kind != "video":
                continue
            try:
                out[index] = analyze_video(self, item, lambda i=index: keep_others_alive(i))
            except Exception as exc:  # one video's crash must not fail the batch's others
                out[index] = AnalyzerError("analyzer_crashed", f"{type(exc).__name__}: {exc}")
        return out  # type: ignore[return-value]

    def _analyze_images(self, items: Sequence[Item]) -> list[Result | AnalyzerError]:
        """Decode each stored image, then run the decoded ones as frames."""
        from ml.detection import ImageDecodeError, load_image

        out: list[Result | AnalyzerError | None] = [None] * len(items)
        frames: list[tuple[int, Frame]] = []
        for index, item in enumerate(items):
            try:
                image = load_image(item.path)
            except (ImageDecodeError, OSError) as exc:
                out[index] = AnalyzerError("corrupt_image", str(exc), permanent=True)
                continue
            frames.append((index, Frame(item.id, image, item.settings)))
        results = self.analyze_frames([frame for _, frame in frames])
        for (index, _), result in zip(frames, results, strict=True):
            out[index] = result
        return out  # type: ignore[return-value]

    def analyze_frames(self, frames: Sequence[Frame]) -> list[Result | AnalyzerError]:
        """Decoded images (uploads or live frames) of the batch are detected together per
        detector, and every face of the batch is classified in one forward pass per model."""
        from ml.detection import align_face

        out: list[Result | AnalyzerError | None] = [None] * len(frames)
        by_detector: dict[tuple[str, int | None], list[int]] = defaultdict(list)
        for index, frame in enumerate(frames):
            by_detector[setting(frame, "detector"), setting(frame, "min_face_px")].append(index)
        faces_of: dict[int, list] = {}
        for (name, min_face_px), indices in by_detector.items():
            detector = self._detector(name, min_face_px)
            found = detector.detect([frames[i].image for i in indices])
            for index, faces in zip(indices, found, strict=True):
                faces_of[index] = kept_faces(frames[index], faces)

        by_model: dict[str, list[tuple[int, int]]] = defaultdict(list)
        crops: dict[tuple[int, int], np.ndarray] = {}
        for index, faces in faces_of.items():
            for number, face in enumerate(faces):
                crops[index, number] = align_face(frames[index].image, face, output_size=48)
                by_model[setting(frames[index], "model")].append((index, number))
        probabilities: dict[tuple[int, int], np.ndarray] = {}
        classifier_of: dict[str, LoadedClassifier] = {}
        for name in {setting(frames[i], "model") for i in faces_of}:
            try:
                classifier_of[name] = self._classifier(name)
            except AnalyzerError as error:
                for index in faces_of:
                    if setting(frames[index], "model") == name:
                        out[index] = error
        for name, keys in by_model.items():
            if name not in classifier_of:
                continue
            batch = np.stack([crops[key] for key in keys])
            for key, probs in zip(keys, classifier_of[name].predict_proba(batch), strict=True):
                probabilities[key] = probs

        for index, faces in faces_of.items():
            if out[index] is not None:
                continue
            frame = frames[index]
            model = setting(frame, "model")
            classifier = classifier_of[model]
            height, width = frame.image.shape[:2]
            out[index] = Result(
                {
                    "faces": [
                        _face_payload(
                            face, probabilities[index, n], setting(frame, "uncertain_below")
                        )
                        for n, face in enumerate(faces)
                    ],
                    "face_count": len(faces),
                    "detector": setting(frame, "detector"),
                    "model": model,
                    "image": {"width": int(width), "height": int(height)},
                },
                model_version=classifier.model_version,
                weights_sha256=classifier.weights_sha256,
            )
        return out  # type: ignore[return-value]


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


def _face_payload(face, probs: np.ndarray, uncertain_below: float) -> dict:
    best = int(np.argmax(probs))
    return {
        "box": [round(float(v), 1) for v in face.box],
        "score": round(float(face.score), 4),
        "landmarks": (
            [[round(float(x), 1), round(float(y), 1)] for x, y in face.landmarks]
            if face.landmarks
            else None
        ),
        "emotions": {c: round(float(p), 4) for c, p in zip(CLASSES, probs, strict=True)},
        "label": CLASSES[best],
        "confidence": round(float(probs[best]), 4),
        "uncertain": bool(probs[best] < uncertain_below),
    }
