"""Facial-expression CNN for 48x48 grayscale faces, plus the shipped-checkpoint format.

A plain VGG-style stack (3x3 conv + BatchNorm + ReLU, max-pool between stages) is used
because on FER2013 it is the strongest single-network family that is still cheap enough to
train on a CPU; residual blocks are offered for comparison (``kind="resnet"``).

A checkpoint is a ``torch.save`` dict that carries everything needed to use the weights
without this repository's training code: architecture config, state dict (fp16 or fp32),
class names, input size, normalisation, calibration temperature and free-form metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.models.config import StoredConfig

CHECKPOINT_FORMAT = "emotionhub.emotion_cnn/1"


@dataclass
class ArchConfig(StoredConfig):
    """Network hyper-parameters; stored in every checkpoint so it can be rebuilt."""

    kind: str = "vgg"  # "vgg" or "resnet"
    widths: tuple[int, ...] = (64, 128, 256, 512)
    convs_per_stage: int = 2
    in_channels: int = 1
    num_classes: int = 7
    hidden: int = 256
    dropout: float = 0.4


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.short(x), inplace=True)


class EmotionCNN(nn.Module):
    """VGG-style (or small ResNet) classifier: [B, 1, H, W] normalised floats -> logits."""

    def __init__(self, cfg: ArchConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or ArchConfig()
        layers: list[nn.Module] = []
        cin = cfg.in_channels
        if cfg.kind == "vgg":
            for i, w in enumerate(cfg.widths):
                for _ in range(cfg.convs_per_stage):
                    layers.append(_conv_bn(cin, w))
                    cin = w
                if i < len(cfg.widths) - 1 or len(cfg.widths) < 4:
                    layers.append(nn.MaxPool2d(2))
        elif cfg.kind == "resnet":
            layers.append(_conv_bn(cin, cfg.widths[0]))
            cin = cfg.widths[0]
            for i, w in enumerate(cfg.widths):
                for j in range(cfg.convs_per_stage):
                    layers.append(_BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
                    cin = w
        else:
            raise ValueError(f"unknown architecture kind {cfg.kind!r}")
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cin, cfg.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return un-normalised class logits."""
        return self.head(self.features(x))


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Crop the central ``size x size`` window; eval-time counterpart of random cropping."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    if h < size or w < size:
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]


@dataclass
class ModelInfo:
    """Everything besides the weights that a user of the checkpoint needs."""

    classes: list[str]
    input_size: int = 48
    mean: float = 0.5
    std: float = 0.25
    temperature: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)


class EmotionModel(nn.Module):
    """A trained :class:`EmotionCNN` bundled with its preprocessing and calibration.

    Takes raw uint8 48x48 grayscale faces so callers cannot get the normalisation wrong.
    """

    def __init__(self, net: EmotionCNN, info: ModelInfo) -> None:
        super().__init__()
        self.net = net
        self.info = info

    @property
    def classes(self) -> list[str]:
        """Class names in logit order."""
        return self.info.classes

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, H, W]`` (or ``[N, 1, H, W]``) -> normalised float tensor on the device."""
        x = torch.as_tensor(images)
        if x.dim() == 2:
            x = x.unsqueeze(0)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        dev = next(self.net.parameters()).device
        x = x.to(dev, torch.float32) / 255.0
        x = center_crop(x, self.info.input_size)
        return (x - self.info.mean) / self.info.std

    @torch.no_grad()
    def logits(self, x: torch.Tensor, tta: bool = True) -> torch.Tensor:
        """Logits of preprocessed input; with ``tta`` averaged with the mirrored face.

        Faces are (roughly) left-right symmetric and training used random flips, so
        averaging the two views is a free ~0.5-1 point accuracy gain at 2x compute. Both
        views go through one forward pass (half the per-call overhead for one face).
        """
        if not tta:
            return self.net(x)
        out = self.net(torch.cat([x, torch.flip(x, dims=[-1])]))
        return (out[: len(x)] + out[len(x) :]) / 2

    @torch.no_grad()
    def predict_proba(
        self, images: np.ndarray | torch.Tensor, tta: bool = True, batch_size: int = 256
    ) -> torch.Tensor:
        """Calibrated class probabilities (softmax of logits / temperature) for uint8 faces."""
        probs = []
        for i in range(0, len(images), batch_size):
            x = self.preprocess(images[i : i + batch_size])
            probs.append(F.softmax(self.logits(x, tta) / self.info.temperature, dim=1).cpu())
        return torch.cat(probs) if probs else torch.empty(0, len(self.classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Plain logits of preprocessed input (no TTA), for tracing/export."""
        return self.net(x)


def make_checkpoint(
    net: EmotionCNN, info: ModelInfo, dtype: torch.dtype = torch.float32
) -> dict[str, Any]:
    """Build the shipped checkpoint dict; fp16 halves the file with no accuracy change."""
    state = {
        k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu())
        for k, v in net.state_dict().items()
    }
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": asdict(net.cfg),
        "state_dict": state,
        "dtype": str(dtype).removeprefix("torch."),
        "classes": list(info.classes),
        "input_size": info.input_size,
        "normalization": {"mean": info.mean, "std": info.std},
        "temperature": info.temperature,
        # JSON round-trip: only plain types, so ``torch.load(weights_only=True)`` accepts it.
        "metadata": json.loads(json.dumps(info.metadata, default=str)),
    }


def model_from_checkpoint(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> EmotionModel:
    """Rebuild an :class:`EmotionModel` (fp32, eval mode) from a checkpoint dict."""
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"not an EmotionHub emotion-CNN checkpoint: {ckpt.get('format')!r}")
    net = EmotionCNN(ArchConfig.from_dict(ckpt["arch"]))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
    net.load_state_dict(state)
    norm = ckpt.get("normalization", {})
    info = ModelInfo(
        classes=list(ckpt["classes"]),
        input_size=int(ckpt.get("input_size", 48)),
        mean=float(norm.get("mean", 0.5)),
        std=float(norm.get("std", 0.25)),
        temperature=float(ckpt.get("temperature", 1.0)),
        metadata=dict(ckpt.get("metadata", {})),
    )
    return EmotionModel(net, info).to(device).eval()


def load_emotion_model(path: str | Path, device: str | torch.device = "cpu") -> EmotionModel:
    """Load a checkpoint file written by :func:`make_checkpoint` (or a training best.pt).

    ``weights_only=True`` keeps loading safe for files from elsewhere: the format is plain
    tensors, lists, dicts and numbers, so no pickled code is needed.
    """
    # TorchVersion (a str subclass) appears in metadata of early training checkpoints.
    with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
        ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    if "model" in ckpt and "format" not in ckpt:  # a resumable training state
        ckpt = ckpt["model"]
    return model_from_checkpoint(ckpt, device)
