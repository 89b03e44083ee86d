"""Knowledge distillation (Hinton et al. 2015) from a shipped classifier or ensemble.

The teacher's soft labels carry which wrong classes are plausible for a face (fear vs
surprise, sad vs neutral), which FER2013's noisy one-hot labels do not. Teacher targets
are computed once on the clean training faces (flip TTA) and cached: running the
teacher on every augmented batch would cost more CPU than the student's own step.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def teacher_log_probs(teacher: str | Path, images: np.ndarray, cache: Path | None) -> np.ndarray:
    """Calibrated teacher log-probabilities ``[N, 7]`` (float32) for uint8 faces.

    Cached in ``cache`` (an ``.npz``) keyed on the teacher's weights fingerprint and the
    images, so a resumed run does not pay for the teacher again.
    """
    from ml.classifiers import load_face_classifier

    classifier = load_face_classifier(teacher)
    key = hashlib.sha256(
        classifier.weights_sha256.encode() + np.ascontiguousarray(images).tobytes()
    ).hexdigest()
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as npz:
            if str(npz["key"]) == key:
                return npz["log_probs"]
    logits = classifier.collect_logits(images, tta=True)
    log_probs = F.log_softmax(logits / classifier.temperature, dim=1).numpy().astype(np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez(tmp, log_probs=log_probs, key=np.asarray(key))
        tmp.replace(cache)
    return log_probs


def soft_targets(
    labels: torch.Tensor,
    num_classes: int,
    label_smoothing: float = 0.0,
    teacher_log_probs: torch.Tensor | None = None,
    weight: float = 0.0,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Target distribution ``[B, K]``: smoothed one-hot, blended with the teacher's.

    ``weight`` is the teacher's share; its log-probabilities are softened by
    ``temperature`` first. Training with cross-entropy against this blend equals the
    usual ``(1 - w) * CE + w * KL`` distillation loss up to a constant, and it mixes
    with mixup/cutmix like any other target row.
    """
    hard = F.one_hot(labels, num_classes).float()
    hard = hard * (1 - label_smoothing) + label_smoothing / num_classes
    if teacher_log_probs is None or weight <= 0:
        return hard
    soft = F.softmax(teacher_log_probs.float() / temperature, dim=1)
    return (1 - weight) * hard + weight * soft


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` against probability rows ``targets``."""
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(1).mean()
