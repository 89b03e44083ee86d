"""The shipped facial-expression models by name, readable without torch.

The web process (spec checks, request validation) needs the names and files of the models;
loading them (:mod:`ml.classifiers`) imports torch and happens in workers only.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Model name -> file in :data:`WEIGHTS_DIR`.
SHIPPED_MODELS: dict[str, str] = {
    "emotion_cnn": "fer_emotion_cnn.pt",
    "mini_xception": "mini_xception_fer.pt",
    "ensemble": "fer_ensemble.json",
    "ensemble_lite": "fer_ensemble_lite.json",
}
#: The model used when none is named (analyzer setting, ``ml.evaluate``): the most
#: accurate on validation whose classifier stage costs at most 5 ms per face on one CPU
#: thread (``bench/classifier_latency.py``); the choice and figures are in MODEL_CARD.md.
DEFAULT_MODEL = "ensemble_lite"


def resolve_model(name_or_path: str | Path) -> Path:
    """A shipped model name, a file stem in ``ml/weights`` or a path -> the weights file."""
    text = str(name_or_path)
    candidates = [Path(text)]
    if text in SHIPPED_MODELS:
        candidates.insert(0, WEIGHTS_DIR / SHIPPED_MODELS[text])
    candidates += [WEIGHTS_DIR / text, WEIGHTS_DIR / f"{text}.pt", WEIGHTS_DIR / f"{text}.json"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"model {text!r} not found (shipped: {', '.join(SHIPPED_MODELS)}); "
        "see ml/weights/README.md for how to produce the weights"
    )
