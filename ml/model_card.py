"""Measure every shipped facial-expression model and write the model card's numbers.

    python -m ml.model_card --val ../shared/datasets/fer2013/val.zip

writes ``ml/weights/model_card.json`` (the measured figures, read by the tests and by
``ml/weights/MODEL_CARD.md``'s tables) and re-renders the tables in ``MODEL_CARD.md``
between its ``<!-- metrics:begin -->``/``<!-- metrics:end -->`` markers. Nothing in the card
is typed by hand: re-run this after changing any weights.

Besides the full validation split, each model is scored on a fixed class-stratified
sample (:func:`ml.data.fer.stratified_sample`), so a test can check quickly
that the shipped files still reproduce the card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ml import cards
from ml.classifiers import DEFAULT_MODEL, SHIPPED_MODELS, WEIGHTS_DIR, load_face_classifier
from ml.data.fer import DEFAULT_DATA, load_fer, stratified_sample
from ml.evaluate import evaluate_fer
from ml.metrics import classification_report

REPO_ROOT = Path(__file__).resolve().parents[1]

CARD_JSON = WEIGHTS_DIR / "model_card.json"
CARD_MD = WEIGHTS_DIR / "MODEL_CARD.md"
SAMPLE_SIZE = 700


def sample_accuracy(model: str, data: Path, size: int = SAMPLE_SIZE) -> dict[str, Any]:
    """Flip-TTA accuracy on the fixed stratified sample of ``data``."""
    classifier = load_face_classifier(model)
    images, labels, names = load_fer(data, classes=classifier.classes)
    idx = stratified_sample(names, labels, size)
    logits = classifier.collect_logits(images[idx], tta=True)
    report = classification_report(labels[idx], logits.argmax(1).numpy(), classifier.classes)
    return {"n": report["n"], "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def _shown_path(val: Path) -> str:
    """The data path as the repository documents it (``../shared/...``), wherever the
    checkout is (a worktree sees the same files at another relative path)."""
    parts = Path(os.path.abspath(val)).parts
    if "shared" in parts:
        return "../" + "/".join(parts[parts.index("shared") :])
    return os.path.relpath(val, REPO_ROOT)


def measure(val: Path, models: list[str]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": f"python -m ml.model_card --val {_shown_path(val)}",
        "split": "FER2013 PublicTest, used as the validation/selection split",
        "torch": torch.__version__,
        "default_model": DEFAULT_MODEL,
        "models": {},
    }
    for model in models:
        full = evaluate_fer(val, model, tta=True)
        full.pop("data", None)
        full.pop("timing_s", None)
        card["models"][model] = {
            "validation": full,
            "validation_sample": {"size": SAMPLE_SIZE, **sample_accuracy(model, val)},
        }
    return card


def render(card: dict[str, Any]) -> str:
    """Markdown tables of ``card`` for MODEL_CARD.md."""
    lines = [
        f"Measured {card['generated_at']} with `{card['command']}` (torch {card['torch']}); "
        "all figures are on the **validation** split (flip TTA as each model is configured; "
        "`ensemble_lite` flips only mini-Xception), which also selected the "
        "epoch and fitted the temperatures, so they are optimistic.",
        "",
        f"Default model: `{card.get('default_model', DEFAULT_MODEL)}`.",
        "",
        "| model | accuracy | macro-F1 | recall disgust | recall fear | NLL | ECE | "
        "temperature | precision |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in card["models"].items():
        v = m["validation"]
        lines.append(
            f"| `{name}` | {v['accuracy']:.4f} | {v['macro_f1']:.4f} | "
            f"{v['per_class']['disgust']['recall']:.3f} | {v['per_class']['fear']['recall']:.3f} | "
            f"{v['nll']:.3f} | {v['ece']:.3f} | {v['temperature']:.3f} | "
            f"{v.get('precision', 'fp32')} |"
        )
    for name, m in card["models"].items():
        v = m["validation"]
        lines += [
            "",
            f"**`{name}`** per class (n = {v['n']}):",
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for cls, c in v["per_class"].items():
            lines.append(
                f"| {cls} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
                f"{c['support']} |"
            )
        lines += ["", "Confusion matrix (rows true, columns predicted):", "", "```"]
        lines.append(" " * 10 + "".join(f"{c[:7]:>8s}" for c in v["classes"]))
        for cls, row in zip(v["classes"], v["confusion_matrix"], strict=True):
            lines.append(f"{cls:10s}" + "".join(f"{x:8d}" for x in row))
        lines.append("```")
    return "\n".join(lines)


def write_card(card: dict[str, Any]) -> None:
    cards.write_card(card, CARD_JSON, CARD_MD, render(card))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ml.model_card", description=__doc__.split("\n")[0])
    p.add_argument("--val", type=Path, default=DEFAULT_DATA / "val.zip")
    p.add_argument("--models", default=",".join(SHIPPED_MODELS))
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    card = measure(args.val, args.models.split(","))
    write_card(card)
    print(json.dumps({k: v["validation"]["accuracy"] for k, v in card["models"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
