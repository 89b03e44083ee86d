"""Temperature scaling (Guo et al. 2017): one scalar per head, fitted by NLL."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T minimising NLL of softmax(logits / T); 1.0 for an empty set."""
    if len(labels) == 0:
        return 1.0
    z = torch.from_numpy(np.asarray(logits, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.exp().clamp(0.05, 20.0))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = torch.from_numpy(np.asarray(logits, dtype=np.float32)) / temperature
    return float(F.cross_entropy(z, torch.from_numpy(np.asarray(labels, dtype=np.int64))))
