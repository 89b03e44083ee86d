"""The emotion classifiers this plugin can run, behind one small interface.

Every classifier takes aligned uint8 grayscale 48x48 faces and returns probabilities in
the same class order, so the analyzer does not care which model is selected.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
WEIGHTS_DIR = Path(__file__).resolve().parents[3] / "ml" / "weights"


def _weights_dir() -> Path:
    """The shipped weights: the repository's ``ml/weights``, or the installed ``ml`` package."""
    if WEIGHTS_DIR.is_dir():
        return WEIGHTS_DIR
    import ml

    return Path(ml.__file__).resolve().parent / "weights"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclasses.dataclass
class LoadedClassifier:
    name: str
    weights_sha256: str
    predict_proba: Callable[[np.ndarray], np.ndarray]

    @property
    def model_version(self) -> str:
        return f"{self.name}:{self.weights_sha256[:12]}"


MODEL_FILES = {
    "emotion_cnn": "fer_emotion_cnn.pt",
    "mini_xception": "mini_xception_fer.pt",
}


def available_models() -> list[str]:
    return [name for name, file in MODEL_FILES.items() if (_weights_dir() / file).is_file()]


def load_classifier(name: str, device: str) -> LoadedClassifier:
    """Load one of :data:`MODEL_FILES` onto ``device`` (imports torch: worker only)."""
    import torch

    path = _weights_dir() / MODEL_FILES[name]
    if name == "emotion_cnn":
        from ml.models.emotion_cnn import load_emotion_model

        model = load_emotion_model(path, device=device)
        if list(model.classes) != list(CLASSES):
            raise ValueError(f"{path} has classes {model.classes}, expected {CLASSES}")

        def predict(faces: np.ndarray) -> np.ndarray:
            return model.predict_proba(faces, tta=True).numpy()

    else:
        from ml.models.mini_xception import load_baseline

        module, preprocess = load_baseline(device=device)

        @torch.no_grad()
        def predict(faces: np.ndarray) -> np.ndarray:
            x = preprocess(faces)
            logits = (module(x) + module(torch.flip(x, dims=[-1]))) / 2
            return torch.softmax(logits, dim=1).cpu().numpy()

    return LoadedClassifier(name, sha256_file(path), predict)
