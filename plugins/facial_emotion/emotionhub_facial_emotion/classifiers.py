"""The emotion classifiers this plugin can run: the shipped models of :mod:`ml.classifiers`.

Every classifier takes aligned uint8 grayscale 48x48 faces and returns calibrated
probabilities in the same class order, so the analyzer does not care which is selected.
"""

from __future__ import annotations

from ml.classifiers import SHIPPED_MODELS, FaceClassifier, load_face_classifier, resolve_model
from ml.data.fer import FER_CLASSES

CLASSES = FER_CLASSES
#: The analyzer's name for a loaded model (kept for callers of the first plugin version).
LoadedClassifier = FaceClassifier
__all__ = ["CLASSES", "SHIPPED_MODELS", "LoadedClassifier", "available_models", "load_classifier"]


def available_models() -> list[str]:
    """Shipped models whose weights are present in this installation."""
    present = []
    for name in SHIPPED_MODELS:
        try:
            resolve_model(name)
        except FileNotFoundError:
            continue
        present.append(name)
    return present


def load_classifier(name: str, device: str) -> FaceClassifier:
    """Load a shipped model onto ``device`` (imports torch: worker processes only)."""
    if name not in SHIPPED_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SHIPPED_MODELS)}")
    return load_face_classifier(name, device)
