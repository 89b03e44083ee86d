"""Evaluate a facial-expression checkpoint on a labelled folder or zip.

    python -m ml.evaluate fer --data PATH [--model NAME_OR_PATH] [--no-tta] --json

``PATH`` is a zip or folder in the layout ``<class>/<image>.jpg`` with class folders named
as in the model (``angry disgust fear happy neutral sad surprise`` for FER2013).
``--model`` is a checkpoint path, or a name resolved to ``ml/weights/<name>.pt``
(default: the shipped ``fer_emotion_cnn``).

Test-time augmentation: by default each face is scored as the mean of the logits of the
image and its horizontal mirror (the network was trained with random flips, and faces are
roughly symmetric); ``--no-tta`` scores the image alone at half the compute. The flag is
echoed in the output so figures are never compared across the two settings by accident.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ml.data.fer import load_fer
from ml.metrics import classification_report
from ml.models.emotion_cnn import EmotionModel, load_emotion_model

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "fer_emotion_cnn"


def resolve_model(name_or_path: str) -> Path:
    """A path that exists wins; otherwise ``name`` means ``ml/weights/<name>.pt``."""
    p = Path(name_or_path)
    if p.exists():
        return p
    fname = name_or_path if name_or_path.endswith(".pt") else f"{name_or_path}.pt"
    candidate = WEIGHTS_DIR / fname
    if candidate.exists():
        return candidate
    raise FileNotFoundError(
        f"model {name_or_path!r} not found (looked for {p} and {candidate}); "
        "see ml/weights/README.md for how to produce the weights"
    )


@torch.no_grad()
def collect_logits(
    model: EmotionModel, images: np.ndarray, tta: bool = True, batch_size: int = 256
) -> torch.Tensor:
    """Uncalibrated logits (flip-averaged when ``tta``) for uint8 faces ``[N, H, W]``."""
    out = [
        model.logits(model.preprocess(images[i : i + batch_size]), tta=tta).float().cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0, len(model.classes))


def calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """Expected calibration error (equal-width confidence bins) - how far confidence lies."""
    conf, pred = probs.max(1)
    correct = (pred == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(())
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.float().mean() * (conf[m].mean() - correct[m].mean()).abs()
    return float(ece)


def evaluate_fer(
    data: str | Path, model_path: str | Path, tta: bool = True, device: str = "cpu"
) -> dict[str, Any]:
    """Score ``model_path`` on ``data``; returns the JSON-ready report."""
    model = load_emotion_model(model_path, device)
    t0 = time.perf_counter()
    images, labels, _ = load_fer(data, classes=tuple(model.classes))
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    logits = collect_logits(model, images, tta=tta)
    t_inf = time.perf_counter() - t0
    report = classification_report(labels, logits.argmax(1).numpy(), model.classes)
    y = torch.from_numpy(labels)
    probs = F.softmax(logits / model.info.temperature, dim=1)
    report.update(
        {
            "nll": float(F.cross_entropy(logits / model.info.temperature, y)) if len(y) else 0.0,
            "ece": calibration_error(probs, y) if len(y) else 0.0,
            "classes": list(model.classes),
            "tta_hflip": tta,
            "temperature": model.info.temperature,
            "model": str(model_path),
            "data": str(data),
            "timing_s": {"load": round(t_load, 2), "inference": round(t_inf, 2)},
        }
    )
    return report


def _print_human(rep: dict[str, Any]) -> None:
    print(f"model {rep['model']}  data {rep['data']}  n={rep['n']}  tta_hflip={rep['tta_hflip']}")
    print(
        f"accuracy {rep['accuracy']:.4f}  macro_f1 {rep['macro_f1']:.4f}  "
        f"nll {rep['nll']:.4f}  ece {rep['ece']:.4f}"
    )
    print(f"{'class':10s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'support':>7s}")
    for name, m in rep["per_class"].items():
        print(
            f"{name:10s} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['support']:7d}"
        )
    print("confusion matrix (rows = true, cols = predicted):")
    for name, row in zip(rep["classes"], rep["confusion_matrix"], strict=True):
        print(f"{name:10s} " + " ".join(f"{v:5d}" for v in row))


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m ml.evaluate``."""
    p = argparse.ArgumentParser(prog="python -m ml.evaluate", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="task", required=True)
    f = sub.add_parser("fer", help="facial expressions")
    f.add_argument("--data", required=True, type=Path, help="zip or folder <class>/<image>")
    f.add_argument("--model", default=DEFAULT_MODEL, help="checkpoint path or weights name")
    f.add_argument("--no-tta", action="store_true", help="disable horizontal-flip averaging")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.add_argument("--device", default="cpu")
    f.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        rep = evaluate_fer(
            args.data, resolve_model(args.model), tta=not args.no_tta, device=args.device
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rep))
    else:
        _print_human(rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
