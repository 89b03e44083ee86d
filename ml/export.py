"""Turn a training ``best.pt`` into the small shipped checkpoint, with a fitted temperature.

    python -m ml.export fer --checkpoint var/train/fer/best.pt \\
        --val ../shared/datasets/fer2013/val.zip --out ml/weights/fer_emotion_cnn.pt

Temperature scaling (:mod:`ml.calibration`) divides the logits by one scalar T, fitted on
the validation split, so the softmax confidences the server reports become usable as
probabilities without changing any argmax. T is fitted on the same flip-averaged logits
that ``ml.evaluate`` and :meth:`EmotionModel.predict_proba` produce by default.
The weights are stored in fp16 (half the size; predictions are checked to be unchanged).
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

from ml.calibration import calibration_report, fit_temperature
from ml.checkpoint import atomic_save, atomic_write_text
from ml.classifiers import (
    ENSEMBLE_FORMAT,
    SHIPPED_MODELS,
    WEIGHTS_DIR,
    load_face_classifier,
)
from ml.data.fer import DEFAULT_DATA, load_fer
from ml.inference import predict_logits
from ml.models.emotion_cnn import (
    EmotionModel,
    load_emotion_model,
    make_checkpoint,
    model_from_checkpoint,
)


def _tta_logits(model: EmotionModel, images: np.ndarray) -> torch.Tensor:
    """Flip-averaged logits, as ``ml.evaluate`` and the shipped classifiers score faces."""
    plain, mirrored = predict_logits(model.net, images, model.preprocess)
    return (plain + mirrored) / 2


def export_fer(
    checkpoint: Path,
    val: Path,
    out: Path,
    dtype: torch.dtype = torch.float16,
    calibrate: bool = True,
) -> dict[str, Any]:
    """Write the shipped checkpoint; returns a summary of what was checked."""
    model = load_emotion_model(checkpoint)
    images, labels, _ = load_fer(val, classes=tuple(model.classes))
    y = torch.from_numpy(labels)
    logits = _tta_logits(model, images)
    temp = fit_temperature(logits, y) if calibrate else model.info.temperature

    calib = calibration_report(logits, y, temp)
    model.info.temperature = temp
    model.info.metadata.update(
        {
            "exported_from": str(checkpoint),
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "weights_dtype": str(dtype).removeprefix("torch."),
            "temperature_fit": {
                "data": f"{val.name} (validation split, flip-TTA logits, {len(y)} images)",
                **calib,
                "note": "in-sample on the selection split; check on held-out data",
            },
        }
    )
    ckpt = make_checkpoint(model.net, model.info, dtype=dtype)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(ckpt, out)

    # The shipped (possibly fp16) file must predict what the fp32 model predicts.
    shipped = model_from_checkpoint(torch.load(out, map_location="cpu", weights_only=True))
    logits2 = _tta_logits(shipped, images)
    agree = float((logits2.argmax(1) == logits.argmax(1)).float().mean())
    return {
        "out": str(out),
        "bytes": out.stat().st_size,
        "temperature": temp,
        "val_accuracy_flip_tta": float((logits.argmax(1) == y).float().mean()),
        "calibration_before": calib["before"],
        "calibration_after": calib["after"],
        "shipped_vs_fp32_argmax_agreement": agree,
        "shipped_vs_fp32_max_abs_logit_diff": float((logits2 - logits).abs().max()),
    }


def _calibration_report(logits: torch.Tensor, y: torch.Tensor, temperature: float) -> dict:
    return {
        "accuracy": float((logits.argmax(1) == y).float().mean()),
        "temperature": temperature,
        **calibration_report(logits, y, temperature),
    }


def calibrate_shipped(model: str, val: Path) -> dict[str, Any]:
    """Fit the temperature of a shipped checkpoint or ensemble file on ``val``, in place.

    Used for models this project did not train (mini-Xception) and for the ensemble; our
    CNN gets its temperature from :func:`export_fer`.
    """
    classifier = load_face_classifier(model)
    images, labels, _ = load_fer(val, classes=classifier.classes)
    y = torch.from_numpy(labels)
    classifier.temperature = 1.0
    logits = classifier.collect_logits(images, tta=True)
    temp = fit_temperature(logits, y)
    report = _calibration_report(logits, y, temp)
    fit = {
        "data": f"{val.name} (validation split, flip-TTA logits, {len(y)} images)",
        **report,
        "note": "in-sample on the selection split; check on held-out data",
    }
    path = classifier.path
    if path.suffix == ".json":
        spec = json.loads(path.read_text())
        spec.update({"temperature": temp, "temperature_fit": fit})
        atomic_write_text(json.dumps(spec, indent=2) + "\n", path)
    else:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        ckpt.update({"temperature": temp, "temperature_fit": fit})
        atomic_save(ckpt, path)
    return {"model": model, "file": str(path), **report}


def write_ensemble(
    members: list[str], out: Path, val: Path, member_tta: list[bool] | None = None
) -> dict[str, Any]:
    """Write an ensemble file over shipped ``members`` and calibrate it on ``val``.

    ``member_tta`` turns flip TTA off for some members (``None``: on for all).
    """
    spec: dict[str, Any] = {
        "format": ENSEMBLE_FORMAT,
        "members": members,
        "combine": "mean of members' calibrated log-probabilities, then / temperature",
        "temperature": 1.0,
    }
    if member_tta is not None:
        if len(member_tta) != len(members):
            raise ValueError(f"--member-tta needs {len(members)} values, got {member_tta}")
        spec["member_tta"] = member_tta
    out.write_text(json.dumps(spec, indent=2) + "\n")
    return calibrate_shipped(str(out), val)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m ml.export``."""
    p = argparse.ArgumentParser(prog="python -m ml.export", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="task", required=True)
    f = sub.add_parser("fer")
    f.add_argument("--checkpoint", type=Path, default=Path("var/train/fer/best.pt"))
    f.add_argument("--val", type=Path, default=DEFAULT_DATA / "val.zip")
    f.add_argument("--out", type=Path, default=Path("ml/weights/fer_emotion_cnn.pt"))
    f.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    f.add_argument("--no-calibrate", action="store_true", help="keep the stored temperature")
    f.add_argument("--threads", type=int, default=0)
    c = sub.add_parser("calibrate", help="fit the temperature of a shipped model in place")
    c.add_argument("--model", required=True, help="shipped name or file (.pt or ensemble .json)")
    c.add_argument("--val", type=Path, default=DEFAULT_DATA / "val.zip")
    c.add_argument("--threads", type=int, default=0)
    e = sub.add_parser("ensemble", help="write and calibrate an ensemble of shipped models")
    e.add_argument("--members", default="emotion_cnn,mini_xception")
    e.add_argument("--out", type=Path, default=WEIGHTS_DIR / SHIPPED_MODELS["ensemble"])
    e.add_argument(
        "--member-tta",
        default="",
        help="comma-separated on/off per member for flip TTA (default: on for all)",
    )
    e.add_argument("--val", type=Path, default=DEFAULT_DATA / "val.zip")
    e.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.task == "calibrate":
        summary = calibrate_shipped(args.model, args.val)
    elif args.task == "ensemble":
        tta = [v.strip() == "on" for v in args.member_tta.split(",")] if args.member_tta else None
        summary = write_ensemble(args.members.split(","), args.out, args.val, tta)
    else:
        dtype = torch.float16 if args.dtype == "fp16" else torch.float32
        summary = export_fer(args.checkpoint, args.val, args.out, dtype, not args.no_calibrate)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
