"""Training helpers that need no encoder: batching, class weights, the head refit."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from ml.text.train import batches, build_parser, class_weights, fit_linear_head  # noqa: E402


def test_batches_cover_every_example_once_and_are_length_sorted_within_chunks():
    rng = np.random.default_rng(0)
    ids = [[1] * int(n) for n in rng.integers(3, 60, size=500)]
    labels = np.arange(500)
    out = batches(ids, labels, 32, random.Random(1))
    seen = np.concatenate([y for _, y in out])
    assert sorted(seen.tolist()) == list(range(500))
    assert all(len(seqs) <= 32 for seqs, _ in out)
    for seqs, _ in out:  # one chunk of 50 batches holds them all: each batch is sorted
        assert [len(s) for s in seqs] == sorted(len(s) for s in seqs)
    again = batches(ids, labels, 32, random.Random(1))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(out, again, strict=True))


def test_class_weights_favour_the_rare_class_and_average_one():
    w = class_weights(np.array([0] * 10 + [1] * 30 + [2] * 60), 3, power=0.5)
    assert w[0] > w[1] > w[2] and float(w.mean()) == pytest.approx(1.0)


def test_linear_head_refit_separates_separable_classes():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, size=(4, 16))
    y = rng.integers(0, 4, size=400)
    x = torch.from_numpy((centres[y] + rng.normal(0, 0.5, size=(400, 16))).astype(np.float32))
    w, b = fit_linear_head(x, y, 4, torch.ones(4), l2=1e-3)
    assert w.shape == (4, 16) and b.shape == (4,)
    assert ((x @ w.T + b).argmax(1).numpy() == y).mean() > 0.98


def test_refit_is_on_by_default_and_can_be_turned_off():
    assert build_parser().parse_args([]).refit_emotion_head
    assert not build_parser().parse_args(["--no-refit-emotion-head"]).refit_emotion_head
