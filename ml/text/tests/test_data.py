"""TweetEval train/validation, the fixed old cut of validation, halves, file readers."""

from __future__ import annotations

import numpy as np
import pytest

from ml.text import data as D

HAVE_DATA = (D.DATASETS / "tweeteval" / "sentiment" / "val_text.txt").is_file()


def test_stratified_split_is_disjoint_complete_seeded_and_proportional():
    labels = np.repeat([0, 1, 2], [100, 250, 150])
    a, b = D.stratified_split(labels), D.stratified_split(labels)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    joined = np.concatenate(list(a.values()))
    assert sorted(joined.tolist()) == list(range(len(labels)))
    for c, n in [(0, 100), (1, 250), (2, 150)]:
        assert (labels[a["train"]] == c).sum() == round(0.6 * n)
        assert (labels[a["select"]] == c).sum() == round(0.2 * n)
    assert not np.array_equal(D.stratified_split(labels, seed=1)["report"], a["report"])


def test_text_and_label_files_must_have_the_same_length(tmp_path):
    (tmp_path / "t.txt").write_text("one\ntwo\n")
    (tmp_path / "l.txt").write_text("0\n")
    with pytest.raises(ValueError, match="2 lines"):
        D.read_text_labels(tmp_path / "t.txt", tmp_path / "l.txt")
    (tmp_path / "l.txt").write_text("0\n2\n")
    ds = D.read_text_labels(tmp_path / "t.txt", tmp_path / "l.txt")
    assert ds.texts == ["one", "two"] and ds.labels.tolist() == [0, 2]


@pytest.mark.skipif(not HAVE_DATA, reason=f"TweetEval not found under {D.DATASETS}")
def test_real_splits_have_the_documented_sizes():
    splits = D.tweet_sentiment_splits()
    assert [len(splits[k]) for k in ("train", "select", "report")] == [1199, 400, 401]
    texts = [set(s.texts) for s in splits.values()]
    # Duplicated tweets in the source could land in two splits; there are none.
    assert not (texts[0] & texts[2]) and not (texts[1] & texts[2])


def test_stratified_halves_are_disjoint_complete_and_balanced():
    labels = np.repeat([0, 1, 2], [11, 20, 31])
    a, b = D.stratified_halves(labels, seed=3)
    assert sorted(np.concatenate([a, b]).tolist()) == list(range(len(labels)))
    for c in range(3):
        assert abs((labels[a] == c).sum() - (labels[b] == c).sum()) <= 1


HAVE_TRAIN = (D.DATASETS / "tweeteval" / "sentiment" / "train_text.txt").is_file()


@pytest.mark.skipif(not HAVE_TRAIN, reason=f"TweetEval train not found under {D.DATASETS}")
def test_train_split_has_the_documented_size_and_no_validation_tweet():
    train, val = D.tweeteval("sentiment", "train"), D.tweeteval("sentiment", "val")
    assert len(train) == 47_444 and len(val) == 2_000
    assert np.bincount(train.labels).tolist() == [7_414, 21_257, 18_773]
    assert not set(train.texts) & set(val.texts)
