"""Face detection and alignment for the facial-emotion analyzer (pure Python/PyTorch/OpenCV).

``load_image`` -> ``make_detector(...).detect([...])`` -> ``align_face`` gives FER2013-like
48x48 grayscale crops. The detectors and ``align_face`` are imported lazily: loading images
needs only numpy and Pillow, BlazeFace needs torch and OpenCV, MTCNN torch + facenet-pytorch,
Haar and alignment OpenCV, and a process should not pay for (or require) the back ends it
does not use. BlazeFace is the default: it won the detection benchmark
(``ml/weights/BLAZEFACE.md``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ml.detection.faces import Face, FaceDetector
from ml.detection.loading import ImageDecodeError, load_image
from ml.shipped import DEFAULT_DETECTOR, FACE_DETECTORS

if TYPE_CHECKING:
    from ml.detection.align import align_face, alignment_matrix, eye_angle
    from ml.detection.blazeface import BlazeFaceDetector
    from ml.detection.haar import HaarDetector
    from ml.detection.mtcnn import MTCNNDetector

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "BlazeFaceDetector",
    "Face",
    "FaceDetector",
    "HaarDetector",
    "ImageDecodeError",
    "MTCNNDetector",
    "align_face",
    "alignment_matrix",
    "eye_angle",
    "load_image",
    "make_detector",
]

_LAZY = {
    "BlazeFaceDetector": "ml.detection.blazeface",
    "MTCNNDetector": "ml.detection.mtcnn",
    "HaarDetector": "ml.detection.haar",
    "align_face": "ml.detection.align",
    "alignment_matrix": "ml.detection.align",
    "eye_angle": "ml.detection.align",
}

#: Detector names accepted by :func:`make_detector` (their defaults: ``ml.shipped``).
DETECTORS = tuple(FACE_DETECTORS)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_detector(
    name: str = DEFAULT_DETECTOR, device: str | None = "auto", **options: Any
) -> FaceDetector:
    """Build a detector by name (one of :data:`DETECTORS`); ``options`` go to its class.

    ``device="auto"`` picks CUDA when available (BlazeFace and MTCNN; Haar always runs on
    the CPU). Building BlazeFace or MTCNN loads weights, so make one per worker process and
    reuse it.
    """
    if name == "blazeface":
        from ml.detection.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(device=device, **options)
    if name == "mtcnn":
        from ml.detection.mtcnn import MTCNNDetector

        return MTCNNDetector(device=device, **options)
    if name == "haar":
        from ml.detection.haar import HaarDetector

        return HaarDetector(device=device, **options)
    raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")
