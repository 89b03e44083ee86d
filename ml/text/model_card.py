"""Measure the shipped text model and VADER, and write the text model card's numbers.

    python -m ml.text.model_card

writes ``ml/weights/text_model_card.json`` and re-renders the tables of
``ml/weights/TEXT_MODEL_CARD.md`` between its metrics markers. Nothing in the card is
typed by hand. Splits (see :mod:`ml.text.data`): TweetEval sentiment validation is cut
60/20/20 into train/select/report; only ``report`` was never used for fitting or selection.
TweetEval emotion ``test`` is available here and is reported as a test figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.checksums import sha256_file
from ml.metrics import classification_report
from ml.text import data as D
from ml.text.baselines import vader_labels
from ml.text.model import DEFAULT_WEIGHTS, WEIGHTS_DIR, TextSentimentModel
from ml.text.preprocess import normalize

CARD_JSON = WEIGHTS_DIR / "text_model_card.json"
CARD_MD = WEIGHTS_DIR / "TEXT_MODEL_CARD.md"
BEGIN, END = "<!-- metrics:begin -->", "<!-- metrics:end -->"


def _short(rep: dict[str, Any]) -> dict[str, Any]:
    keep = ("n", "accuracy", "macro_f1", "macro_recall", "per_class", "confusion_matrix")
    return {k: rep[k] for k in keep}


def measure(weights: Path = DEFAULT_WEIGHTS) -> dict[str, Any]:
    model = TextSentimentModel.load(weights)
    splits = D.tweet_sentiment_splits()
    card: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python -m ml.text.model_card",
        "weights_sha256": sha256_file(weights),
        "torch": str(torch.__version__),
        "temperatures": model.temperatures,
        "epoch": model.metadata.get("epoch"),
        "train_args": model.metadata.get("train_args"),
        "sentiment": {},
        "emotion": {},
    }
    for name in ("select", "report"):
        ds = splits[name]
        logits, _ = model.logits([normalize(t).text for t in ds.texts])
        card["sentiment"][name] = {
            "model": _short(
                classification_report(ds.labels, logits.argmax(1), D.SENTIMENT_CLASSES)
            ),
            "vader": _short(
                classification_report(ds.labels, vader_labels(ds.texts), D.SENTIMENT_CLASSES)
            ),
        }
    for split in ("val", "test"):
        ds = D.tweeteval("emotion", split)
        _, logits = model.logits([normalize(t).text for t in ds.texts])
        rep = classification_report(ds.labels, logits.argmax(1), D.EMOTION_CLASSES)
        card["emotion"][split] = _short(rep)
    return card


def _table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    out = [
        "| model | split | n | macro-recall | accuracy | macro-F1 |",
        "|---|---|---|---|---|---|",
    ]
    for label, rep in rows:
        out.append(
            f"| {label} | {rep['n']} | {rep['macro_recall']:.4f} | {rep['accuracy']:.4f} "
            f"| {rep['macro_f1']:.4f} |"
        )
    return out


def _per_class(rep: dict[str, Any]) -> list[str]:
    out = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, m in rep["per_class"].items():
        out.append(
            f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} "
            f"| {m['support']} |"
        )
    return out


def _confusion(rep: dict[str, Any]) -> list[str]:
    names = list(rep["per_class"])
    lines = ["```", " " * 10 + "".join(f"{n[:8]:>9s}" for n in names)]
    for n, row in zip(names, rep["confusion_matrix"], strict=True):
        lines.append(f"{n[:9]:10s}" + "".join(f"{v:9d}" for v in row))
    return [*lines, "```"]


def render(card: dict[str, Any]) -> str:
    s, e = card["sentiment"], card["emotion"]
    lines = [
        f"Measured {card['generated_at']} with `{card['command']}` (torch {card['torch']}). "
        "Sentiment figures are on TweetEval sentiment **validation** data: `select` chose the "
        "epoch and fitted the temperature (optimistic), `report` was used for nothing else. "
        "The TweetEval sentiment test split is held out and scored independently; no test "
        "figure is claimed.",
        "",
        "Tweet sentiment (macro-recall is TweetEval's official metric):",
        "",
        *_table(
            [
                ("`text_sentiment` | report (validation)", s["report"]["model"]),
                ("VADER | report (validation)", s["report"]["vader"]),
                (
                    "`text_sentiment` | select (validation, used for selection)",
                    s["select"]["model"],
                ),
                ("VADER | select (validation)", s["select"]["vader"]),
            ]
        ),
        "",
        "`text_sentiment` per class on `report`:",
        "",
        *_per_class(s["report"]["model"]),
        "",
        "Confusion matrix on `report` (rows true, columns predicted):",
        "",
        *_confusion(s["report"]["model"]),
        "",
        "Emotion head (TweetEval emotion; `val` selected the epoch with the sentiment score "
        "and fitted the temperature, `test` was used for nothing else):",
        "",
        *_table([("emotion head | val", e["val"]), ("emotion head | test", e["test"])]),
        "",
        "Emotion head per class on `test`:",
        "",
        *_per_class(e["test"]),
        "",
        f"Temperatures: sentiment {card['temperatures']['sentiment']:.3f}, "
        f"emotion {card['temperatures']['emotion']:.3f}; best epoch {card['epoch']}.",
    ]
    return "\n".join(lines)


def write(card: dict[str, Any]) -> None:
    CARD_JSON.write_text(json.dumps(card, indent=1) + "\n")
    text = CARD_MD.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    CARD_MD.write_text(f"{head}{BEGIN}\n{render(card)}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ml.text.model_card", description=__doc__.split("\n")[0]
    )
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    card = measure(args.weights)
    write(card)
    rep = card["sentiment"]["report"]
    print(
        json.dumps(
            {
                "report_macro_recall": rep["model"]["macro_recall"],
                "vader_report_macro_recall": rep["vader"]["macro_recall"],
                "emotion_test_macro_f1": card["emotion"]["test"]["macro_f1"],
                "n": int(np.sum([rep["model"]["n"]])),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
