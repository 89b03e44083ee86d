"""Logits of many uint8 faces, plain and mirrored: the one loop that training (validation),
export, conversion checks and evaluation share."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


@torch.no_grad()
def predict_logits(
    net: Callable[[torch.Tensor], torch.Tensor],
    images: np.ndarray,
    preprocess: Callable[[np.ndarray], torch.Tensor],
    batch_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(plain, mirrored) float logits on the CPU of uint8 faces ``[N, H, W]``.

    ``preprocess`` turns a slice of ``images`` into the network's input on its device;
    each batch then runs twice, as is and flipped left-right. The mean of the two is the
    flip-TTA prediction. An empty ``images`` still runs one (empty) batch, so the result has
    the network's class count.
    """
    plain, mirrored = [], []
    for i in range(0, max(len(images), 1), batch_size):
        x = preprocess(images[i : i + batch_size])
        plain.append(net(x).float().cpu())
        mirrored.append(net(torch.flip(x, dims=[-1])).float().cpu())
    return torch.cat(plain), torch.cat(mirrored)
