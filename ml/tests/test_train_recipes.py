"""Training recipes: mixup/CutMix, distillation targets, EMA with resume, the GPU preset
(run on the CPU with tiny data), ensemble weights and classifier precision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("numpy")
pytest.importorskip("PIL")

import numpy as np
import torch
import torch.nn.functional as F

from ml import train
from ml.classifiers import load_face_classifier, resolve_precision
from ml.data.augment import mix_batch
from ml.distill import soft_cross_entropy, soft_targets, teacher_log_probs
from ml.models.emotion_cnn import ArchConfig, EmotionCNN, ModelInfo, make_checkpoint
from ml.progress import training_record
from ml.tests.runs import train_argv

CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_mix_batch_keeps_target_rows_distributions_and_is_seeded() -> None:
    x = torch.rand(16, 1, 48, 48)
    y = F.one_hot(torch.arange(16) % 7, 7).float()
    assert mix_batch(x, y, _gen(), 0.0, 0.0) == (x, y)  # off: the very same tensors
    for mixup, cutmix in ((0.4, 0.0), (0.0, 1.0), (0.4, 1.0)):
        xm, ym = mix_batch(x, y, _gen(1), mixup, cutmix)
        assert xm.shape == x.shape and ym.shape == y.shape
        assert torch.allclose(ym.sum(1), torch.ones(16))
        assert not torch.equal(xm, x)
        xm2, ym2 = mix_batch(x, y, _gen(1), mixup, cutmix)
        assert torch.equal(xm, xm2) and torch.equal(ym, ym2)
    # CutMix pastes pixels unchanged, and the target weight is the pasted area.
    xm, ym = mix_batch(x, y, _gen(2), 0.0, 1.0)
    pasted = (xm != x).any(0).float().mean().item()  # share of pixel positions pasted
    own = (ym * y).sum(1)  # each row's weight on its own label
    assert 0 < pasted < 1
    assert float(own.min()) == pytest.approx(1 - pasted, abs=0.05) or float(own.min()) == 1.0
    assert mix_batch(x, y, _gen(3), 0.4, 0.0, prob=0.0) == (x, y)


def test_soft_targets_and_cross_entropy_match_the_hard_label_loss() -> None:
    logits = torch.randn(32, 7, generator=_gen())
    labels = torch.randint(0, 7, (32,), generator=_gen(1))
    hard = soft_targets(labels, 7, label_smoothing=0.1)
    assert torch.allclose(hard.sum(1), torch.ones(32))
    expected = F.cross_entropy(logits, labels, label_smoothing=0.1)
    assert soft_cross_entropy(logits, hard) == pytest.approx(float(expected), rel=1e-5)
    teacher = F.log_softmax(torch.randn(32, 7, generator=_gen(2)), 1)
    assert torch.equal(soft_targets(labels, 7, 0.1, teacher, weight=0.0), hard)
    blend = soft_targets(labels, 7, 0.0, teacher, weight=1.0, temperature=1.0)
    assert torch.allclose(blend, teacher.exp(), atol=1e-6)
    softer = soft_targets(labels, 7, 0.0, teacher, weight=1.0, temperature=4.0)
    assert (softer.max(1).values <= blend.max(1).values + 1e-6).all()


def _tiny_teacher(path: Path) -> Path:
    torch.manual_seed(0)
    net = EmotionCNN(ArchConfig(widths=(4, 8), hidden=8))
    torch.save(make_checkpoint(net, ModelInfo(classes=CLASSES, temperature=2.0)), path)
    return path


def test_teacher_log_probs_are_calibrated_and_cached(tmp_path: Path) -> None:
    teacher = _tiny_teacher(tmp_path / "teacher.pt")
    faces = np.random.default_rng(0).integers(0, 256, (10, 48, 48), dtype=np.uint8)
    cache = tmp_path / "t.npz"
    lp = teacher_log_probs(teacher, faces, cache)
    assert lp.shape == (10, 7) and lp.dtype == np.float32
    assert np.allclose(np.exp(lp).sum(1), 1, atol=1e-5)
    classifier = load_face_classifier(teacher, precision="fp32")
    want = F.log_softmax(classifier.collect_logits(faces) / 2.0, 1).numpy()
    assert np.allclose(lp, want, atol=1e-2)  # auto precision may be bf16 here
    assert cache.exists()
    again = teacher_log_probs(teacher, faces, cache)
    assert np.array_equal(lp, again)
    other = teacher_log_probs(teacher, faces[:5], cache)  # other images: recomputed
    assert other.shape == (5, 7)


def test_ema_mixing_distillation_run_resumes_identically(fer_zip: Path, tmp_path: Path) -> None:
    teacher = _tiny_teacher(tmp_path / "teacher.pt")
    recipe = ["--ema", "0.9", "--mixup", "0.4", "--cutmix", "1.0", "--distill", str(teacher)]
    whole = tmp_path / "whole"
    assert train.main([*train_argv(fer_zip, whole), *recipe, "--epochs", "2"]) == 0
    first = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert len(first) == 2
    assert {"val_acc_raw", "val_acc_ema", "weights"} <= set(first[0])
    assert first[0]["weights"] in ("raw", "ema")
    half = tmp_path / "half"
    assert (
        train.main([*train_argv(fer_zip, half), *recipe, "--epochs", "2", "--stop-after", "1"]) == 0
    )
    assert "ema" in torch.load(half / "last.pt", weights_only=True)
    assert len((half / "metrics.jsonl").read_text().splitlines()) == 1
    assert train.main([*train_argv(fer_zip, half), *recipe, "--epochs", "2", "--resume"]) == 0
    second = [json.loads(line) for line in (half / "metrics.jsonl").read_text().splitlines()]
    assert len(second) == 2
    for a, b in zip(first, second, strict=True):
        for key in ("train_loss", "val_acc", "val_acc_ema", "val_acc_raw"):
            assert a[key] == pytest.approx(b[key], rel=1e-5), key
    record = training_record(half)
    assert record["epochs_done"] == 2 and record["epochs_planned"] == 2
    assert record["history"] == second and record["cpu_s"] > 0
    assert "--ema 0.9" in record["command"] and "--resume" not in record["command"]
    assert record["resume"] == record["command"] + " --resume"


def test_gpu_preset_defaults_are_overridable_and_it_trains_on_cpu(
    fer_zip: Path, tmp_path: Path
) -> None:
    args = train.parse_args(["fer", "--preset", "gpu"])
    assert args.device == "cuda" and args.amp and args.data_on_device
    assert args.widths == "64,128,256,512" and args.ema > 0
    out = tmp_path / "gpu"
    argv = [
        *train_argv(fer_zip, out, batch_size=6, tiny_net=False),
        *("--preset", "gpu", "--limit", "12", "--epochs", "1"),
    ]
    args = train.parse_args(argv)
    assert args.device == "cpu" and args.batch_size == 6 and args.widths == "64,128,256,512"
    assert train.main(argv) == 0
    rec = json.loads((out / "metrics.jsonl").read_text())
    assert rec["epoch"] == 1 and 0 <= rec["val_acc"] <= 1
    best = torch.load(out / "best.pt", weights_only=True)
    assert list(best["arch"]["widths"]) == [64, 128, 256, 512]
    assert best["metadata"]["train_args"]["preset"] == "gpu"


def test_ensemble_weights_and_precision(tmp_path: Path) -> None:
    a = _tiny_teacher(tmp_path / "a.pt")
    torch.manual_seed(1)
    net = EmotionCNN(ArchConfig(widths=(4, 8), hidden=8))
    b = tmp_path / "b.pt"
    torch.save(make_checkpoint(net, ModelInfo(classes=CLASSES)), b)
    faces = np.random.default_rng(0).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    spec = {"format": "emotionhub.ensemble/1", "members": [str(a), str(b)], "temperature": 1.0}
    only_a = tmp_path / "only_a.json"
    only_a.write_text(json.dumps({**spec, "weights": [1.0, 0.0]}))
    ens = load_face_classifier(only_a, precision="fp32")
    single = load_face_classifier(a, precision="fp32")
    want = F.log_softmax(single.collect_logits(faces) / single.temperature, 1)
    assert torch.allclose(ens.collect_logits(faces), want, atol=1e-5)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**spec, "weights": [1.0]}))
    with pytest.raises(ValueError, match="weights"):
        load_face_classifier(bad)
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("auto", "cuda") == "fp32"
    assert resolve_precision("auto", "cpu") in ("fp32", "bf16")
    with pytest.raises(ValueError):
        resolve_precision("int4", "cpu")
    bf16 = load_face_classifier(a, precision="bf16").predict_proba(faces)
    fp32 = single.predict_proba(faces)
    assert bf16.dtype == np.float32 and np.allclose(bf16, fp32, atol=0.02)


def test_mini_xception_fine_tunes_from_the_shipped_port_into_its_own_format(
    fer_zip: Path, tmp_path: Path
) -> None:
    """``--kind mini_xception``: trains the ported network through the 48->64 adapter and
    writes best.pt in the shipped mini-Xception format, which the analyzer's loader reads."""
    from ml.models import mini_xception
    from ml.shipped import shipped_model

    shipped = shipped_model("mini_xception").path
    out = tmp_path / "mx"
    argv = [
        *train_argv(fer_zip, out, batch_size=6, tiny_net=False),
        *("--kind", "mini_xception", "--init-from", str(shipped), "--epochs", "1"),
        *("--lr", "1e-4", "--log-every", "0"),
    ]
    assert train.main(argv) == 0
    model, meta = mini_xception.load_checkpoint(out / "best.pt")
    assert meta["source"]["fine_tuned_from"] == str(shipped)
    assert 0 <= meta["metrics"]["val"]["accuracy"] <= 1
    base, _ = mini_xception.load_checkpoint(shipped)
    faces = (np.random.default_rng(0).random((4, 48, 48)) * 255).astype(np.uint8)
    with torch.no_grad():
        tuned, before = model(model.preprocess(faces)), base(base.preprocess(faces))
    # One epoch at a tiny LR on a few faces: changed, but still the same network.
    assert not torch.equal(tuned, before)
    assert torch.allclose(tuned.softmax(1), before.softmax(1), atol=0.2)
    # The adapter is the shipped preprocessing up to rounding to grey levels.
    x = torch.from_numpy(faces).unsqueeze(1).float() / 255
    adapted = mini_xception.FromFer48(base)((x - 0.5) / 0.5)
    assert torch.allclose(adapted, before, atol=0.05)
