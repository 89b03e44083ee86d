"""Training-time augmentation of a batch of faces, all on the batch's device and driven by
one ``torch.Generator`` (so a resumed run augments exactly as an uninterrupted one).

* :func:`augment`: random flip, rotation, scale, shift (+ crop) and light brightness/contrast
  jitter in one ``affine_grid``/``grid_sample`` call;
* :func:`random_erase`: one random rectangle blanked (Zhong et al. 2020), for occlusions;
* :func:`mix_batch`: mixup and CutMix (Zhang et al. 2018; Yun et al. 2019). Both blend each
  sample with another sample of the same batch and blend the targets by the same weight,
  which regularises a network that, on FER2013, otherwise memorises its 28k training faces
  within a few dozen epochs. Targets are given as probability rows so hard labels, label
  smoothing and a teacher's soft labels (``ml.distill``) mix alike.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def augment(
    x: torch.Tensor,
    gen: torch.Generator,
    out_size: int,
    rotate_deg: float = 10.0,
    scale: float = 0.1,
    shift_px: float = 4.0,
    flip: bool = True,
    jitter: float = 0.2,
) -> torch.Tensor:
    """Random flip + rotation + scale + shift (+crop to ``out_size``) and light jitter.

    One ``affine_grid``/``grid_sample`` call per batch replaces torchvision's
    pad-and-random-crop, flip and RandomAffine; it is a few percent of the step time.
    ``x`` is a float batch in [0, 1], shape ``[B, 1, H, W]``.
    """
    b, _, h, _ = x.shape
    dev = gen.device  # CPU generator: numbers as before; a CUDA one keeps it all on-device

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, generator=gen, device=dev) * (hi - lo) + lo

    ang = u(-rotate_deg, rotate_deg) * math.pi / 180
    zoom = u(1 - scale, 1 + scale)
    sign = (
        torch.where(torch.rand(b, generator=gen, device=dev) < 0.5, -1.0, 1.0)
        if flip
        else torch.ones(b, device=dev)
    )
    crop = out_size / h  # output window covers this fraction of the input
    tx = u(-1, 1) * 2 * shift_px / h
    ty = u(-1, 1) * 2 * shift_px / h
    cos, sin = torch.cos(ang) * crop / zoom, torch.sin(ang) * crop / zoom
    theta = torch.stack(
        [torch.stack([sign * cos, -sin, tx], 1), torch.stack([sign * sin, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, [b, 1, out_size, out_size], align_corners=False)
    out = F.grid_sample(x, grid.to(x.device, x.dtype), mode="bilinear", align_corners=False)
    if jitter > 0:
        contrast = u(1 - jitter, 1 + jitter).view(b, 1, 1, 1).to(x.device)
        bright = u(-jitter / 2, jitter / 2).view(b, 1, 1, 1).to(x.device)
        mean = out.mean(dim=(2, 3), keepdim=True)
        out = ((out - mean) * contrast + mean + bright).clamp_(0, 1)
    return out


def random_erase(
    x: torch.Tensor, gen: torch.Generator, p: float = 0.5, area: tuple[float, float] = (0.02, 0.2)
) -> torch.Tensor:
    """Zero (= dataset mean after normalisation) one random rectangle in a fraction ``p``.

    Occlusion robustness: real faces are partly covered by hands, glasses and hair.
    """
    if p <= 0:
        return x
    b, _, h, w = x.shape
    dev = gen.device

    def rand() -> torch.Tensor:
        return torch.rand(b, generator=gen, device=dev)

    a = (rand() * (area[1] - area[0]) + area[0]) * h * w
    logr = rand() * (math.log(3.3) - math.log(0.3)) + math.log(0.3)
    r = torch.exp(logr)
    eh = torch.sqrt(a * r).clamp(1, h).long()
    ew = torch.sqrt(a / r).clamp(1, w).long()
    top = (rand() * (h - eh + 1)).long()
    left = (rand() * (w - ew + 1)).long()
    on = rand() < p
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    mask = (
        (ys >= top.view(b, 1, 1))
        & (ys < (top + eh).view(b, 1, 1))
        & (xs >= left.view(b, 1, 1))
        & (xs < (left + ew).view(b, 1, 1))
        & on.view(b, 1, 1)
    )
    return x.masked_fill(mask.unsqueeze(1).to(x.device), 0.0)


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
