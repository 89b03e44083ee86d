"""Measure the shipped text model and VADER, and write the text model card's numbers.

    python -m ml.text.model_card [--previous OLD.pt] [--threads 1]

writes ``ml/weights/text_model_card.json`` and re-renders the tables of
``ml/weights/TEXT_MODEL_CARD.md`` between its metrics markers. Nothing in the card is
typed by hand. Protocol (see :mod:`ml.text.data`): the model trained on TweetEval sentiment
``train``; the whole validation file chose the checkpoint and fitted the temperature, so its
figures are validation figures (mildly optimistic), never test figures. Calibration error is
reported twice: in-sample (temperature fitted on the same tweets) and 2-fold cross-fitted
(fitted on one half, measured on the other), the honest estimate. ``--previous`` also
scores an earlier weights file on the old ``report`` cut, which neither model trained on.
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
import torch.nn.functional as F

from ml import cards
from ml.calibration import fit_temperature, nll
from ml.checksums import sha256_file
from ml.metrics import classification_report, expected_calibration_error
from ml.shipped import WEIGHTS_DIR
from ml.text import data as D
from ml.text.baselines import vader_labels
from ml.text.model import DEFAULT_WEIGHTS, TextSentimentModel, cpu_bf16_supported
from ml.text.preprocess import normalize

CARD_JSON = WEIGHTS_DIR / "text_model_card.json"
CARD_MD = WEIGHTS_DIR / "TEXT_MODEL_CARD.md"
CURVE_JSON = WEIGHTS_DIR / "text_sentiment_curve.json"
CROSS_FIT_SEED = 7
ALONE = 200  # validation tweets also scored one at a time, to see batch (in)dependence


def _short(rep: dict[str, Any]) -> dict[str, Any]:
    keep = ("n", "accuracy", "macro_f1", "macro_recall", "per_class", "confusion_matrix")
    return {k: rep[k] for k in keep}


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    return F.softmax(torch.from_numpy(logits) / temperature, 1).numpy()


def calibration(logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict[str, Any]:
    """ECE/NLL before and after the shipped temperature, and 2-fold cross-fitted."""
    halves = D.stratified_halves(labels, CROSS_FIT_SEED)
    cross_probs = np.zeros_like(logits)
    fold_t = []
    for fit, held in (halves, halves[::-1]):
        t = fit_temperature(logits[fit], labels[fit])
        fold_t.append(t)
        cross_probs[held] = _softmax(logits[held], t)
    return {
        "temperature": temperature,
        "ece_uncalibrated": expected_calibration_error(_softmax(logits, 1.0), labels),
        "ece_calibrated_in_sample": expected_calibration_error(
            _softmax(logits, temperature), labels
        ),
        "ece_calibrated_cross_fit": expected_calibration_error(cross_probs, labels),
        "cross_fit_temperatures": fold_t,
        "nll_uncalibrated": nll(logits, labels, 1.0),
        "nll_calibrated_in_sample": nll(logits, labels, temperature),
    }


def _sentiment_logits(model: TextSentimentModel, texts: list[str]) -> np.ndarray:
    return model.logits([normalize(t).text for t in texts])[0]


def measure(weights: Path = DEFAULT_WEIGHTS, previous: Path | None = None) -> dict[str, Any]:
    model = TextSentimentModel.load(weights)
    variants = {"float32": model, "int8": TextSentimentModel.load(weights, precision="int8")}
    if cpu_bf16_supported():
        variants["bfloat16"] = TextSentimentModel.load(weights, precision="bfloat16")
    val = D.tweeteval("sentiment", "val")
    report_cut = D.tweet_sentiment_splits()["report"]
    t0 = time.process_time()
    logits = _sentiment_logits(model, val.texts)
    pred = logits.argmax(1)
    in_cut = np.isin(np.arange(len(val)), D.stratified_split(val.labels)["report"])
    card: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python -m ml.text.model_card",
        "weights_sha256": sha256_file(weights),
        "torch": str(torch.__version__),
        "temperatures": model.temperatures,
        "step": model.metadata.get("step"),
        "epoch": model.metadata.get("epoch"),
        "train_cpu_hours": model.metadata.get("train_cpu_hours"),
        "train_args": model.metadata.get("train_args"),
        "sentiment": {
            "val": {
                "model": _short(classification_report(val.labels, pred, D.SENTIMENT_CLASSES)),
                "precisions": {},
                "vader": _short(
                    classification_report(val.labels, vader_labels(val.texts), D.SENTIMENT_CLASSES)
                ),
            },
            "report_cut": {
                "model": _short(
                    classification_report(val.labels[in_cut], pred[in_cut], D.SENTIMENT_CLASSES)
                )
            },
        },
        "calibration": {
            "sentiment_val": calibration(logits, val.labels, model.temperatures["sentiment"])
        },
        "emotion": {},
    }
    if previous is not None:
        old = TextSentimentModel.load(previous)
        old_pred = _sentiment_logits(old, report_cut.texts).argmax(1)
        card["sentiment"]["report_cut"]["previous"] = {
            "weights_sha256": sha256_file(previous),
            **_short(classification_report(report_cut.labels, old_pred, D.SENTIMENT_CLASSES)),
        }
    for split in ("val", "test"):
        ds = D.tweeteval("emotion", split)
        texts = [normalize(t).text for t in ds.texts]
        e_logits = model.logits(texts)[1]
        card["emotion"][split] = _short(
            classification_report(ds.labels, e_logits.argmax(1), D.EMOTION_CLASSES)
        )
        if split == "val":
            card["calibration"]["emotion_val"] = calibration(
                e_logits, ds.labels, model.temperatures["emotion"]
            )
    emo_test = D.tweeteval("emotion", "test")
    emo_texts = [normalize(t).text for t in emo_test.texts]
    for name, variant in variants.items():
        batched = pred if variant is model else _sentiment_logits(variant, val.texts).argmax(1)
        alone = np.array([_sentiment_logits(variant, [t])[0].argmax() for t in val.texts[:ALONE]])
        card["sentiment"]["val"]["precisions"][name] = {
            **_short(classification_report(val.labels, batched, D.SENTIMENT_CLASSES)),
            "same_label_as_float32": float((batched == pred).mean()),
            "same_label_batched_and_alone": float((batched[:ALONE] == alone).mean()),
            "emotion_test": _short(
                classification_report(
                    emo_test.labels, variant.logits(emo_texts)[1].argmax(1), D.EMOTION_CLASSES
                )
            ),
        }
    card["measure_cpu_s"] = round(time.process_time() - t0, 1)
    if CURVE_JSON.is_file():
        curve = json.loads(CURVE_JSON.read_text())
        card["curve"] = {"command": curve["command"], "history": curve["history"]}
    return card


def _table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    out = [
        "| model | data | n | macro-recall | accuracy | macro-F1 |",
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


def _calibration_table(cal: dict[str, dict[str, Any]]) -> list[str]:
    out = [
        "| head | temperature | ECE T=1 | ECE fitted T (in-sample) | ECE 2-fold cross-fit "
        "| NLL T=1 | NLL fitted T |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in cal.items():
        out.append(
            f"| {name} | {c['temperature']:.3f} | {c['ece_uncalibrated']:.4f} "
            f"| {c['ece_calibrated_in_sample']:.4f} | {c['ece_calibrated_cross_fit']:.4f} "
            f"| {c['nll_uncalibrated']:.4f} | {c['nll_calibrated_in_sample']:.4f} |"
        )
    return out


def _precision_table(val: dict[str, Any]) -> list[str]:
    out = [
        "| encoder | val macro-recall | val accuracy | val macro-F1 | same label as float32 "
        f"| same label batched and alone ({ALONE} tweets) | emotion test macro-F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in val["precisions"].items():
        out.append(
            f"| {name} | {r['macro_recall']:.4f} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} "
            f"| {r['same_label_as_float32']:.4f} | {r['same_label_batched_and_alone']:.3f} "
            f"| {r['emotion_test']['macro_f1']:.4f} |"
        )
    return out


def _curve(card: dict[str, Any]) -> list[str]:
    if "curve" not in card:
        return []
    out = [
        f"Learning curve (`{card['curve']['command']}`; full validation file):",
        "",
        "| step | epoch | train loss | val macro-recall | val accuracy | emotion val "
        "macro-F1 | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in card["curve"]["history"]:
        out.append(
            f"| {h['step']} | {h['epoch']:.3f} | {h['loss'].get('sentiment', float('nan')):.4f} "
            f"| {h['val_macro_recall']:.4f} | {h['val_accuracy']:.4f} "
            f"| {h['emotion_val_macro_f1']:.4f} | {h['cpu_s']:.0f} |"
        )
    return [*out, ""]


def render(card: dict[str, Any]) -> str:
    s, e, cal = card["sentiment"], card["emotion"], card["calibration"]
    cut_rows = [("`text_sentiment` (this model) | old report cut", s["report_cut"]["model"])]
    if "previous" in s["report_cut"]:
        cut_rows.append(("previous model | old report cut", s["report_cut"]["previous"]))
    cpu_h = card.get("train_cpu_hours")
    lines = [
        f"Measured {card['generated_at']} with `{card['command']}` (torch {card['torch']}). "
        "Sentiment figures are on the TweetEval sentiment **validation** file (2,000 tweets), "
        "which also chose the checkpoint and fitted the temperature: validation figures, "
        "mildly optimistic. The TweetEval sentiment test split is held out and scored "
        "independently; no test figure is claimed.",
        "",
        "Tweet sentiment (macro-recall is TweetEval's official metric):",
        "",
        *_table(
            [
                ("`text_sentiment` | validation", s["val"]["model"]),
                ("VADER | validation", s["val"]["vader"]),
            ]
        ),
        "",
        "Encoder precision at inference (the analyzer uses bfloat16 on a CPU with native bf16 "
        "kernels, float32 elsewhere; int8 is measured, not used):",
        "",
        *_precision_table(s["val"]),
        "",
        "The old 60/20/20 cut's `report` part (401 validation tweets the previous model never "
        "trained on or selected with; this model selected on the whole file, these included):",
        "",
        *_table(cut_rows),
        "",
        "`text_sentiment` per class on validation:",
        "",
        *_per_class(s["val"]["model"]),
        "",
        "Confusion matrix on validation (rows true, columns predicted):",
        "",
        *_confusion(s["val"]["model"]),
        "",
        "Calibration (top-label ECE, 15 bins). The in-sample column re-uses the tweets the "
        "temperature was fitted on; the cross-fit column fits it on one stratified half and "
        "measures on the other, both ways:",
        "",
        *_calibration_table(
            {
                "sentiment (validation)": cal["sentiment_val"],
                "emotion (emotion val)": cal["emotion_val"],
            }
        ),
        "",
        "Emotion head (TweetEval emotion; `val` took part in selecting the checkpoint and "
        "fitted the temperature, `test` was used for nothing else):",
        "",
        *_table(
            [
                ("emotion head | val", e["val"]),
                ("emotion head | test", e["test"]),
            ]
        ),
        "",
        "Emotion head per class on `test`:",
        "",
        *_per_class(e["test"]),
        "",
        *_curve(card),
        f"Temperatures: sentiment {card['temperatures']['sentiment']:.3f}, "
        f"emotion {card['temperatures']['emotion']:.3f}; chosen step {card['step']} "
        f"(epoch {card['epoch']})"
        + (f"; training took {cpu_h:.2f} CPU-hours (one thread)." if cpu_h else "."),
    ]
    return "\n".join(lines)


def write(card: dict[str, Any]) -> None:
    cards.write_card(card, CARD_JSON, CARD_MD, render(card), indent=1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ml.text.model_card", description=__doc__.split("\n")[0]
    )
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--previous", type=Path, default=None, help="earlier weights to compare")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    card = measure(args.weights, args.previous)
    write(card)
    val = card["sentiment"]["val"]
    print(
        json.dumps(
            {
                "val_macro_recall": val["model"]["macro_recall"],
                "precisions": {
                    k: (v["macro_recall"], v["same_label_as_float32"])
                    for k, v in val["precisions"].items()
                },
                "vader_val_macro_recall": val["vader"]["macro_recall"],
                "ece": card["calibration"]["sentiment_val"],
                "emotion_test_macro_f1": card["emotion"]["test"]["macro_f1"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
