"""Network shapes, checkpoint round trip, training/evaluation CLIs on tiny synthetic data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("numpy")
pytest.importorskip("PIL")

import numpy as np
import torch

from ml import evaluate, train
from ml.calibration import fit_temperature
from ml.data.augment import augment, random_erase
from ml.export import export_fer
from ml.metrics import classification_report
from ml.models.emotion_cnn import (
    ArchConfig,
    EmotionCNN,
    ModelInfo,
    load_emotion_model,
    make_checkpoint,
)
from ml.schedule import lr_factor
from ml.tests.runs import train_argv
from ml.threads import ThreadTuner

TINY = ArchConfig(widths=(4, 8), hidden=8)
CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


@pytest.mark.parametrize("kind", ["vgg", "resnet"])
@pytest.mark.parametrize("size", [48, 44])
def test_forward_shape(kind: str, size: int) -> None:
    net = EmotionCNN(ArchConfig(kind=kind, widths=(4, 8, 16), hidden=8)).eval()
    assert net(torch.randn(3, 1, size, size)).shape == (3, 7)


def test_default_architecture_forward() -> None:
    net = EmotionCNN().eval()
    assert net(torch.randn(2, 1, 48, 48)).shape == (2, 7)


def _save_tiny(path: Path, dtype: torch.dtype = torch.float16, temperature: float = 1.5) -> None:
    torch.manual_seed(0)
    net = EmotionCNN(TINY)
    info = ModelInfo(
        classes=CLASSES, mean=0.5, std=0.25, temperature=temperature, metadata={"note": "test"}
    )
    torch.save(make_checkpoint(net, info, dtype=dtype), path)


def test_checkpoint_round_trip_fp16(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    _save_tiny(path)
    raw = torch.load(path, weights_only=True)
    assert raw["dtype"] == "float16"
    assert all(
        v.dtype == torch.float16 for v in raw["state_dict"].values() if v.is_floating_point()
    )
    model = load_emotion_model(path, "cpu")
    assert model.classes == CLASSES
    assert model.info.temperature == 1.5
    assert model.info.metadata == {"note": "test"}
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    probs = model.predict_proba(faces)
    assert probs.shape == (5, 7)
    assert torch.allclose(probs.sum(1), torch.ones(5), atol=1e-5)
    # Flip TTA on a mirror-symmetric face equals no TTA.
    sym = np.concatenate([faces[:, :, :24], faces[:, :, :24][:, :, ::-1]], axis=2)
    assert torch.allclose(model.predict_proba(sym), model.predict_proba(sym, tta=False), atol=1e-5)


def test_evaluate_json(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "m.pt"
    _save_tiny(path)
    assert evaluate.main(["fer", "--data", str(fer_zip), "--model", str(path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "macro_f1", "per_class", "confusion_matrix", "n"):
        assert key in rep
    assert rep["n"] == 14
    assert rep["tta_hflip"] is True
    assert set(rep["per_class"]) == set(CLASSES)
    assert set(rep["per_class"]["happy"]) == {"precision", "recall", "f1", "support"}
    cm = np.asarray(rep["confusion_matrix"])
    assert cm.shape == (7, 7)
    assert cm.sum() == 14
    assert cm.sum(1).tolist() == [2] * 7
    assert (
        evaluate.main(["fer", "--data", str(fer_zip), "--model", str(path), "--no-tta", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["tta_hflip"] is False


def test_evaluate_missing_model(fer_zip: Path, tmp_path: Path) -> None:
    assert evaluate.main(["fer", "--data", str(fer_zip), "--model", str(tmp_path / "nope.pt")]) == 2


def test_metrics_known_values() -> None:
    rep = classification_report(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), ["a", "b"])
    assert rep["accuracy"] == 0.75
    assert rep["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert rep["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert rep["confusion_matrix"] == [[1, 1], [0, 2]]
    assert rep["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_augment_identity_and_shapes() -> None:
    x = torch.rand(4, 1, 48, 48)
    g = torch.Generator().manual_seed(0)
    same = augment(x, g, 48, rotate_deg=0, scale=0, shift_px=0, flip=False, jitter=0)
    assert torch.allclose(same, x, atol=1e-5)
    assert augment(x, g, 44).shape == (4, 1, 44, 44)
    erased = random_erase(x, g, p=1.0)
    assert erased.shape == x.shape
    assert (erased == 0).any()


def test_lr_schedule_and_thread_tuner() -> None:
    assert lr_factor(0.0) == pytest.approx(0.05)
    assert lr_factor(0.15) == pytest.approx(1.0)
    assert lr_factor(1.0) == pytest.approx(1e-3)
    tuner = ThreadTuner((1, 2), period=20, probe=4)
    assert tuner.current == 2
    msg = None
    for step in range(20):  # 1 thread is 3x faster than 2 on this pretend machine
        n = tuner.threads_for(step)
        msg = tuner.record(step, n, 1.0 if n == 1 else 3.0) or msg
    assert tuner.current == 1
    assert msg is not None


def test_fit_temperature_recovers_scale() -> None:
    g = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 7, generator=g) * 2
    labels = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=g).squeeze(1)
    t = fit_temperature(true_logits * 3, labels)  # over-confident by 3x
    assert t == pytest.approx(3.0, rel=0.15)
    assert math.isfinite(t)


def test_train_resume_export_evaluate(fer_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    common = train_argv(fer_zip, out, batch_size=8)
    assert train.main([*common, "--epochs", "1"]) == 0
    assert (out / "best.pt").exists()
    with pytest.raises(SystemExit):  # schedule length is part of the run
        train.main([*common, "--epochs", "2", "--resume"])
    assert train.main([*common, "--epochs", "1", "--resume"]) == 0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1  # resume of a finished run trains nothing more
    rec = json.loads(lines[0])
    assert {"train_loss", "val_acc", "val_macro_f1", "train_time_s"} <= set(rec)
    shipped = tmp_path / "ship.pt"
    summary = export_fer(out / "best.pt", fer_zip, shipped)
    assert summary["shipped_vs_fp32_argmax_agreement"] == 1.0
    model = load_emotion_model(shipped)
    assert model.info.temperature == pytest.approx(summary["temperature"])
    assert model.info.metadata["epoch"] == 1
