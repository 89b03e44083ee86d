"""Learning-rate schedule of the training scripts, as a function of training progress."""

from __future__ import annotations

import math


def lr_factor(progress: float, warmup: float = 0.15, final: float = 1e-3) -> float:
    """Linear warm-up then cosine decay, as a multiple of the peak LR; progress in [0, 1].

    Written as a function of progress (not a step count) so the same curve can be driven
    by a wall-clock budget: the run then always ends fully annealed, however slow the
    shared machine turns out to be.
    """
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0 and progress < warmup:
        return 0.05 + 0.95 * progress / warmup
    t = (progress - warmup) / max(1e-9, 1 - warmup)
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * t))
