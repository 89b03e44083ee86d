"""Evaluate a facial-expression checkpoint on a labelled folder or zip.

    python -m ml.evaluate fer --data PATH [--model NAME_OR_PATH] [--no-tta] --json
    python -m ml.evaluate tweet-sentiment --text FILE --labels FILE [--model NAME] --json

``PATH`` is a zip or folder in the layout ``<class>/<image>.jpg`` with class folders named
as in the model (``angry disgust fear happy neutral sad surprise`` for FER2013).
``--model`` is a shipped model name (``emotion_cnn``, ``mini_xception``, ``ensemble``; see
:mod:`ml.classifiers`) or a checkpoint path (default: ``emotion_cnn``).

Tweet sentiment: one example per line, labels 0 negative / 1 neutral / 2 positive;
``--model`` is ``text_sentiment`` (the shipped model, default), ``vader`` (the lexicon
baseline) or a checkpoint path. The JSON has ``macro_recall`` (TweetEval's metric),
``accuracy``, ``macro_f1``, ``per_class`` and ``n``.

Test-time augmentation: by default each face is scored as the mean of the logits of the
image and its horizontal mirror (the network was trained with random flips, and faces are
roughly symmetric); ``--no-tta`` scores the image alone at half the compute. The flag is
echoed in the output so figures are never compared across the two settings by accident.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ml.calibration import nll
from ml.classifiers import DEFAULT_MODEL, PRECISIONS, load_face_classifier
from ml.data.fer import load_fer
from ml.metrics import classification_report, expected_calibration_error

__all__ = ["DEFAULT_MODEL", "evaluate_fer", "main"]


def evaluate_fer(
    data: str | Path,
    model: str | Path = DEFAULT_MODEL,
    tta: bool = True,
    device: str = "cpu",
    precision: str = "auto",
) -> dict[str, Any]:
    """Score ``model`` (shipped name or path) on ``data``; returns the JSON-ready report."""
    classifier = load_face_classifier(model, device, precision)
    t0 = time.perf_counter()
    images, labels, _ = load_fer(data, classes=classifier.classes)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    logits = classifier.collect_logits(images, tta=tta)
    t_inf = time.perf_counter() - t0
    report = classification_report(labels, logits.argmax(1).numpy(), classifier.classes)
    y = torch.from_numpy(labels)
    temperature = classifier.temperature
    probs = F.softmax(logits / temperature, dim=1)
    report.update(
        {
            "nll": nll(logits, y, temperature),
            "ece": expected_calibration_error(probs.numpy(), labels),
            "classes": list(classifier.classes),
            "tta_hflip": tta,
            "temperature": temperature,
            "precision": classifier.precision,
            "model": classifier.name,
            "model_version": classifier.model_version,
            "weights": str(classifier.path),
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
    f.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"shipped model name or checkpoint path (default {DEFAULT_MODEL}, the shipped one)",
    )
    f.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto = bf16 on CPUs with native bf16, else fp32",
    )
    f.add_argument("--no-tta", action="store_true", help="disable horizontal-flip averaging")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.add_argument("--device", default="cpu")
    f.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    t = sub.add_parser("tweet-sentiment", help="tweet sentiment (TweetEval format)")
    t.add_argument("--text", required=True, type=Path, help="one text per line")
    t.add_argument("--labels", required=True, type=Path, help="0/1/2 per line")
    t.add_argument("--model", default="text_sentiment", help="text_sentiment, vader or a path")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.add_argument("--device", default="cpu")
    t.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.task == "fer":
            rep = evaluate_fer(args.data, args.model, not args.no_tta, args.device, args.precision)
        else:
            from ml.text.evaluate import evaluate_tweet_sentiment

            rep = evaluate_tweet_sentiment(args.text, args.labels, args.model, args.device)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rep))
    elif args.task == "fer":
        _print_human(rep)
    else:
        print(
            f"model {rep['model']}  n={rep['n']}  macro_recall {rep['macro_recall']:.4f}  "
            f"accuracy {rep['accuracy']:.4f}  macro_f1 {rep['macro_f1']:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
