"""The emotion classifiers this plugin can run: the shipped models of :mod:`ml.classifiers`
(imported when one loads, so importing this module does not import torch).

Every classifier takes aligned uint8 grayscale 48x48 faces and returns calibrated
probabilities in the same class order, so the analyzer does not care which is selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml.shipped import DEFAULT_MODEL, SHIPPED_MODELS, resolve_model, shipped_model

if TYPE_CHECKING:
    from ml.classifiers import FaceClassifier

CLASSES = shipped_model(DEFAULT_MODEL).classes
__all__ = ["CLASSES", "SHIPPED_MODELS", "available_models", "load_classifier"]


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
    from ml.classifiers import load_face_classifier

    if name not in SHIPPED_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SHIPPED_MODELS)}")
    return load_face_classifier(name, device)
