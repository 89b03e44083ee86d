"""Mixup and CutMix for a training batch (Zhang et al. 2018; Yun et al. 2019).

Both blend each sample with another sample of the same batch and blend the targets by
the same weight, which regularises a network that, on FER2013, otherwise memorises its
28k training faces within a few dozen epochs. Targets are given as probability rows so
hard labels, label smoothing and a teacher's soft labels (``ml.distill``) mix alike.
"""

from __future__ import annotations

import numpy as np
import torch


def _beta(alpha: float, gen: torch.Generator) -> float:
    """One Beta(alpha, alpha) draw seeded from ``gen`` (torch's Beta takes no generator)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def mix_batch(
    x: torch.Tensor,
    targets: torch.Tensor,
    gen: torch.Generator,
    mixup_alpha: float = 0.0,
    cutmix_alpha: float = 0.0,
    prob: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(mixed x, mixed targets)``; ``targets`` are ``[B, K]`` probabilities.

    With both alphas set, each batch uses one of the two at random (as timm does). With
    probability ``1 - prob`` the batch is returned unchanged. All randomness comes from
    ``gen``, so a resumed run mixes the same way.
    """
    if mixup_alpha <= 0 and cutmix_alpha <= 0:
        return x, targets
    dev = gen.device
    if float(torch.rand(1, generator=gen, device=dev)) >= prob:
        return x, targets
    use_cutmix = cutmix_alpha > 0 and (
        mixup_alpha <= 0 or float(torch.rand(1, generator=gen, device=dev)) < 0.5
    )
    lam = _beta(cutmix_alpha if use_cutmix else mixup_alpha, gen)
    perm = torch.randperm(x.shape[0], generator=gen, device=dev).to(x.device)
    if use_cutmix:
        h, w = x.shape[-2:]
        cut = (1 - lam) ** 0.5
        ch, cw = int(h * cut), int(w * cut)
        cy = int(torch.randint(0, h, (1,), generator=gen, device=dev))
        cx = int(torch.randint(0, w, (1,), generator=gen, device=dev))
        y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
        x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
        x = x.clone()
        x[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)  # the area actually pasted
    else:
        x = lam * x + (1 - lam) * x[perm]
    return x, lam * targets + (1 - lam) * targets[perm]
