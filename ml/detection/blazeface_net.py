"""BlazeFace's network in PyTorch, built from the layer plan our converter wrote.

MediaPipe ships BlazeFace as TFLite graphs (short range: 128x128 input, 896 anchors; full
range: 192x192, 2304 anchors). ``python -m ml.convert.blazeface`` turned each into a plan:
an ordered list of plain layer records (conv, depthwise conv, add, max-pool, channel pad,
bilinear resize, reshape, concat) over numbered tensors, plus the graph's fp16 weights in
PyTorch's layouts. This module only runs that plan with torch ops, so it needs neither
TensorFlow nor the ``tflite`` reader; the file's SHA-256 is checked against
``ml/weights/blazeface.json`` before ``torch.load`` touches it.

Tensors are NCHW here; the plan already translated TFLite's NHWC axes, its ``SAME``
padding (the odd pixel after) and its NHWC flattening order.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
MANIFEST = WEIGHTS_DIR / "blazeface.json"
FORMAT = "emotionhub.blazeface/1"
#: Model names and what a checkpoint's ``model`` field says.
MODELS = ("short_range", "full_range")


class WeightsIntegrityError(RuntimeError):
    """A shipped weights file does not have the SHA-256 recorded in the manifest."""


class BlazeFaceNet(nn.Module):
    """Runs a converted plan: input ``(N, 3, S, S)`` in [-1, 1], outputs per anchor
    ``regressors`` ``(N, A, 16)`` (box centre, size, six keypoints, in input pixels relative
    to the anchor) and ``classificators`` ``(N, A, 1)`` (raw face logits)."""

    def __init__(self, plan: dict[str, Any]) -> None:
        super().__init__()
        self.input_size = int(plan["input_size"])
        self.nodes: list[dict[str, Any]] = plan["nodes"]
        self.input_id: int = plan["input"]
        self.output_ids: list[int] = plan["outputs"]
        self.convs = nn.ModuleDict()
        for node in self.nodes:
            if node["op"] == "conv":
                self.convs[node["param"]] = nn.Conv2d(
                    node["in_channels"],
                    node["out_channels"],
                    node["kernel"],
                    stride=node["stride"],
                    padding=node["symmetric_pad"],
                    groups=node["groups"],
                    bias=True,
                )
        # After its last reader a tensor is dropped, so activations do not pile up.
        last_use: dict[int, int] = {}
        for position, node in enumerate(self.nodes):
            for tensor in node["in"]:
                last_use[tensor] = position
        keep = set(self.output_ids)
        for position, node in enumerate(self.nodes):
            left = node["in"][0]
            node["inplace"] = (
                node["op"] == "add"
                and last_use[left] == position
                and left not in keep
                and left != self.input_id
                and node["in"].count(left) == 1
            )
        self._free_after = [
            [t for t in node["in"] if last_use[t] == position and t not in keep]
            for position, node in enumerate(self.nodes)
        ]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values = {self.input_id: x}
        for node, free in zip(self.nodes, self._free_after, strict=True):
            values[node["out"]] = self._run(node, [values[t] for t in node["in"]])
            for tensor in free:
                del values[tensor]
        regressors, classificators = (values[t] for t in self.output_ids)
        return regressors, classificators

    def _run(self, node: dict[str, Any], args: list[torch.Tensor]) -> torch.Tensor:
        op = node["op"]
        if op == "conv":
            conv = self.convs[node["param"]]
            x = args[0]
            if node["kernel"] == [1, 1] and node["groups"] == 1 and node["stride"] == [1, 1]:
                # A pointwise conv is a matrix product over channels: on channels-last
                # memory ``linear`` runs it as one GEMM, where conv2d fell back to a slow
                # im2col kernel that cost a third of the network's time.
                weight = conv.weight.view(conv.out_channels, conv.in_channels)
                x = F.linear(x.permute(0, 2, 3, 1), weight, conv.bias).permute(0, 3, 1, 2)
            else:
                if node["pad"] is not None:
                    x = F.pad(x, node["pad"])
                x = conv(x)
            return x.relu_() if node["relu"] else x
        if op == "add":
            # In place when the left operand has no other reader: saves an allocation.
            x = args[0].add_(args[1]) if node.get("inplace") else args[0] + args[1]
            return x.relu_() if node["relu"] else x
        if op == "relu":
            return F.relu(args[0])
        if op == "maxpool":
            x = F.pad(args[0], node["pad"], value=float("-inf")) if node["pad"] else args[0]
            return F.max_pool2d(x, node["kernel"], node["stride"])
        if op == "channel_pad":
            return F.pad(args[0], (0, 0, 0, 0, *node["channels"]))
        if op == "resize":
            return F.interpolate(args[0], size=node["size"], mode="bilinear", align_corners=False)
        if op == "flatten":
            x = args[0]  # NCHW -> NHWC row-major, as TFLite's RESHAPE flattens
            return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, node["last"])
        if op == "concat":
            return torch.cat(args, dim=node["dim"])
        raise ValueError(f"unknown plan op {op!r}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_path(model: str) -> Path:
    if model not in MODELS:
        raise ValueError(f"unknown BlazeFace model {model!r}; choose one of {', '.join(MODELS)}")
    return WEIGHTS_DIR / f"blazeface_{model}.pt"


def load_blazeface(
    model: str,
    device: str | torch.device = "cpu",
    path: Path | None = None,
    manifest_path: Path = MANIFEST,
) -> BlazeFaceNet:
    """The converted ``model`` (``short_range``/``full_range``) in eval mode, float32.

    Raises :class:`WeightsIntegrityError` when the file's SHA-256 differs from the manifest's
    (a truncated or swapped file must not load quietly), ``FileNotFoundError`` if missing.
    ``path`` and ``manifest_path`` default to the shipped files.
    """
    path = weights_path(model) if path is None else path
    manifest = json.loads(manifest_path.read_text())
    expected = manifest["models"][model]["sha256"]
    actual = sha256_of(path)
    if actual != expected:
        raise WeightsIntegrityError(
            f"{path.name} has SHA-256 {actual}, but {manifest_path.name} records {expected}"
        )
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if checkpoint.get("format") != FORMAT or checkpoint.get("model") != model:
        raise ValueError(f"{path.name} is not a {FORMAT} checkpoint of {model}")
    net = BlazeFaceNet(checkpoint["plan"])
    state = {k: v.float() for k, v in checkpoint["state_dict"].items()}
    net.load_state_dict(state)
    return net.eval().to(device)
