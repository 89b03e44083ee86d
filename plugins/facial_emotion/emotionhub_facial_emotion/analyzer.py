"""Facial emotion: detect faces, align them by the eyes, classify seven emotions.

Images of one batch are detected together and every face of the batch is classified in one
forward pass, which is what makes the GPU worker's micro-batches pay off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

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
from emotionhub_facial_emotion import video_analysis
from emotionhub_facial_emotion.classifiers import load_classifier
from emotionhub_facial_emotion.schema import (
    CLASSES,
    DEFAULT_DETECTOR,
    DEFAULT_MODEL,
    DETECTORS,
    MIN_FACE_SCORE,
    MODEL_CARD,
    MODELS,
    RESULT_SCHEMA,
    SETTINGS_SCHEMA,
    kept_faces,
    setting,
)

if TYPE_CHECKING:
    from ml.classifiers import FaceClassifier

__all__ = [
    "CLASSES",
    "DEFAULT_DETECTOR",
    "DEFAULT_MODEL",
    "DETECTORS",
    "MIN_FACE_SCORE",
    "MODELS",
    "RESULT_SCHEMA",
    "SETTINGS_SCHEMA",
    "FacialEmotionAnalyzer",
    "kept_faces",
    "setting",
]


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
        model_card=MODEL_CARD,
        licence="Apache-2.0 code; weights: see model cards",
        infers_emotion_from_faces=True,
        realtime=True,
        result_schema=RESULT_SCHEMA,
        settings_schema=SETTINGS_SCHEMA,
    )

    def load(self, device: str) -> None:
        self.device = device
        self._detectors: dict[tuple[str, int | None], object] = {}
        self._classifiers: dict[str, FaceClassifier] = {}

    def _detector(self, name: str, min_face_px: int | None = None):
        key = (name, None if min_face_px is None else int(min_face_px))
        if key not in self._detectors:
            from ml.detection import make_detector

            options = {} if min_face_px is None else {"min_face_size": int(min_face_px)}
            self._detectors[key] = make_detector(name, device=self.device, **options)
        return self._detectors[key]

    def _classifier(self, name: str) -> FaceClassifier:
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
                classifier = self._classifier(setting(item, "model"))
            except AnalyzerError as error:
                out[index] = error
                continue
            detector = self._detector(setting(item, "detector"), setting(item, "min_face_px"))
            try:
                out[index] = video_analysis.analyze_video(
                    item, detector, classifier, lambda i=index: keep_others_alive(i)
                )
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
        classifier_of: dict[str, FaceClassifier] = {}
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


def _face_payload(face, probs: np.ndarray, uncertain_below: float) -> dict:
    from ml.detection.pose import is_turned

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
        "turned": is_turned(face),
    }
