"""Checkpoint files of the training and export scripts: atomic writes and the resumable
training state (``last.pt``).

A ``last.pt`` is a plain dict (tensors, numbers, lists), loadable with
``torch.load(weights_only=True)``: ``model``, ``ema`` (only with an EMA), ``optimizer``,
``scaler``, ``step``, ``elapsed_s``, ``epoch``, ``epochs``, ``best_acc``, ``history`` and
``arch``. Runs written by earlier versions resume, so these keys never change meaning.
The self-contained model checkpoints (``best.pt``, the shipped files) are each model's own
format (:func:`ml.models.emotion_cnn.make_checkpoint`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file, then rename: a killed run leaves the old file."""
    path = Path(path)
    torch.save(obj, _tmp(path))
    os.replace(_tmp(path), path)


def atomic_write_text(text: str, path: str | Path) -> None:
    """Write ``text`` to a temporary file, then rename (shipped JSON files)."""
    path = Path(path)
    _tmp(path).write_text(text)
    os.replace(_tmp(path), path)


def arch_dict(cfg: Any) -> dict[str, Any]:
    """An architecture dataclass as stored in ``last.pt`` (tuples as lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def training_state(
    net: torch.nn.Module,
    ema: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    *,
    step: int,
    elapsed_s: float,
    epoch: int,
    epochs: int,
    best_acc: float,
    history: list[dict[str, Any]],
    arch: dict[str, Any],
) -> dict[str, Any]:
    """The ``last.pt`` dict: everything :func:`ml.train.train_fer` needs to resume."""
    return {
        "model": net.state_dict(),
        **({"ema": ema.state_dict()} if ema is not None else {}),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "elapsed_s": elapsed_s,
        "scaler": scaler.state_dict(),
        "epoch": epoch,
        "epochs": epochs,
        "best_acc": best_acc,
        "history": history,
        "arch": arch,
    }


def load_training_state(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """A ``last.pt`` written by :func:`training_state` (any version of it)."""
    state: dict[str, Any] = torch.load(Path(path), map_location=device, weights_only=True)
    return state
