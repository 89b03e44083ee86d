"""Temperature scaling (Guo et al., 2017): the one fit used for every shipped head.

Dividing logits by one scalar T leaves every argmax (so accuracy and F1) unchanged but
makes softmax confidences usable as probabilities, which the server reports to users. T
minimises the negative log-likelihood on a held-out split. The NLL is convex in 1/T, so a
golden-section search on log T in [e^-3, e^3] is exact enough and, unlike LBFGS, cannot
diverge. The face models (``ml.export``) and the text heads (``ml.text.train``) both use it.
ECE is :func:`ml.metrics.expected_calibration_error`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

#: The search interval of log T: T in [0.05, 20.1].
LOG_T_RANGE = (-3.0, 3.0)


def _as_tensors(
    logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.as_tensor(
        np.asarray(logits, dtype=np.float32) if isinstance(logits, np.ndarray) else logits
    )
    y = torch.as_tensor(
        np.asarray(labels, dtype=np.int64) if isinstance(labels, np.ndarray) else labels
    )
    return z.float(), y.long()


def nll(
    logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, temperature: float
) -> float:
    """Mean negative log-likelihood of softmax(logits / temperature); 0.0 for an empty set."""
    z, y = _as_tensors(logits, labels)
    return float(F.cross_entropy(z / temperature, y)) if len(y) else 0.0


def fit_temperature(logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    """The T minimising NLL of softmax(logits / T); 1.0 for an empty set."""
    z, y = _as_tensors(logits, labels)
    if len(y) == 0:
        return 1.0

    def loss(log_t: float) -> float:
        return float(F.cross_entropy(z / math.exp(log_t), y))

    lo, hi = LOG_T_RANGE
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(80):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = loss(b)
    return math.exp((lo + hi) / 2)


def calibration_report(
    logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, temperature: float
) -> dict[str, dict[str, float]]:
    """NLL and ECE before (T = 1) and after dividing by ``temperature``."""
    from ml.metrics import expected_calibration_error

    z, y = _as_tensors(logits, labels)

    def at(t: float) -> dict[str, float]:
        probs = F.softmax(z / t, 1).numpy()
        return {"nll": nll(z, y, t), "ece": expected_calibration_error(probs, y.numpy())}

    return {"before": at(1.0), "after": at(temperature)}
