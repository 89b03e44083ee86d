"""Text datasets in ../shared/datasets (never copied into the repo) and our fixed splits.

TweetEval sentiment: ``train`` (47,444 SemEval 2013-2016 tweets, deduplicated against
validation and the held-out test split) is trained on; the whole 2,000-tweet ``val`` file
selects the checkpoint and fits the temperature; the test split is held out and scored
independently. The earlier model had only ``val`` and cut it once, stratified and seeded,
60/20/20 into ``train``/``select``/``report`` (:func:`tweet_sentiment_splits`); that cut is
kept because its ``report`` part is the one figure both models can be compared on cleanly.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
# EMOTIONHUB_DATASETS points a checkout elsewhere (a worktree's parent has no shared/).
DATASETS = Path(os.environ.get("EMOTIONHUB_DATASETS") or REPO_ROOT.parent / "shared" / "datasets")
SENTIMENT_CLASSES = ("negative", "neutral", "positive")
EMOTION_CLASSES = ("anger", "joy", "optimism", "sadness")
SPLIT_SEED = 20260
SPLIT_FRACTIONS = {"train": 0.6, "select": 0.2, "report": 0.2}


@dataclasses.dataclass(frozen=True)
class TextSet:
    texts: list[str]
    labels: np.ndarray  # int64 class indices

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: np.ndarray) -> TextSet:
        return TextSet([self.texts[i] for i in idx], self.labels[idx])


def read_lines(path: str | Path) -> list[str]:
    """One example per line, trailing newline and whitespace stripped (TweetEval format)."""
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n").strip() for line in fh]


def read_text_labels(text_path: str | Path, labels_path: str | Path) -> TextSet:
    """A text file and a label file of the same length, labels as integers."""
    texts = read_lines(text_path)
    labels = [int(x) for x in read_lines(labels_path) if x != ""]
    if texts and texts[-1] == "" and len(texts) == len(labels) + 1:
        texts = texts[:-1]
    if len(texts) != len(labels):
        raise ValueError(f"{text_path} has {len(texts)} lines but {labels_path} {len(labels)}")
    return TextSet(texts, np.asarray(labels, dtype=np.int64))


def tweeteval(task: str, split: str, root: Path = DATASETS) -> TextSet:
    base = root / "tweeteval" / task
    return read_text_labels(base / f"{split}_text.txt", base / f"{split}_labels.txt")


def sst2(split: str = "train", root: Path = DATASETS) -> TextSet:
    """SST-2 ``label<TAB>sentence`` with a header row; 0 negative, 1 positive."""
    texts, labels = [], []
    with open(root / "sst2" / f"{split}.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            label, _, sentence = line.rstrip("\n").partition("\t")
            texts.append(sentence)
            labels.append(int(label))
    return TextSet(texts, np.asarray(labels, dtype=np.int64))


def stratified_split(labels: np.ndarray, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Indices of ``train``/``select``/``report`` with each class split 60/20/20."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SPLIT_FRACTIONS}
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_train = round(len(idx) * SPLIT_FRACTIONS["train"])
        n_select = round(len(idx) * SPLIT_FRACTIONS["select"])
        parts["train"].append(idx[:n_train])
        parts["select"].append(idx[n_train : n_train + n_select])
        parts["report"].append(idx[n_train + n_select :])
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}


def stratified_halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint, class-stratified halves of ``range(len(labels))`` (for cross-fitting)."""
    rng = np.random.default_rng(seed)
    first, second = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        first.append(idx[: len(idx) // 2])
        second.append(idx[len(idx) // 2 :])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


def tweet_sentiment_splits(root: Path = DATASETS) -> dict[str, TextSet]:
    """The old 60/20/20 cut of validation (``report`` was never seen by either model)."""
    data = tweeteval("sentiment", "val", root)
    return {k: data.subset(idx) for k, idx in stratified_split(data.labels).items()}
