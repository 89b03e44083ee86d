"""Score tweet sentiment on a text file and a label file (TweetEval format).

Used by ``python -m ml.evaluate tweet-sentiment``. Every line is scored whatever its
language: this measures the model, not the analyzer's non-English policy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ml.metrics import classification_report
from ml.text.data import SENTIMENT_CLASSES, read_text_labels

VADER = "vader"
DEFAULT = "text_sentiment"


def evaluate_tweet_sentiment(
    text_path: str | Path, labels_path: str | Path, model: str = DEFAULT, device: str = "cpu"
) -> dict[str, Any]:
    """JSON-ready report with ``macro_recall`` (the official metric), accuracy, macro-F1."""
    data = read_text_labels(text_path, labels_path)
    if len(data) == 0:
        raise ValueError(f"{text_path} has no examples")
    if data.labels.min() < 0 or data.labels.max() > 2:
        raise ValueError("labels must be 0 (negative), 1 (neutral) or 2 (positive)")
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    if model == VADER:
        from ml.text.baselines import vader_labels

        pred = vader_labels(data.texts)
        extra = {"model": VADER, "model_version": "vaderSentiment 3.3.2, thresholds +-0.05"}
    else:
        from ml.text.model import DEFAULT_WEIGHTS, TextSentimentModel
        from ml.text.preprocess import normalize

        path = DEFAULT_WEIGHTS if model == DEFAULT else Path(model)
        loaded = TextSentimentModel.load(path, device)
        logits, _ = loaded.logits([normalize(t).text for t in data.texts])
        pred = logits.argmax(1)
        extra = {
            "model": model,
            "weights": str(path),
            "temperature": loaded.temperatures["sentiment"],
        }
    report = classification_report(data.labels, np.asarray(pred), SENTIMENT_CLASSES)
    report.update(extra)
    report.update(
        {
            "classes": list(SENTIMENT_CLASSES),
            "text": str(text_path),
            "labels": str(labels_path),
            "timing_s": {"total": round(time.perf_counter() - t0, 2)},
        }
    )
    return report
