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

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ml.checksums import sha256_file
from ml.shipped import WEIGHTS_DIR, shipped_model

#: The converter's record (sources, their hashes); the file hashes are also in ml.shipped.
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
        self.nodes: list[dict[str, Any]] = [dict(node) for node in plan["nodes"]]
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
        self._schedule()

    def _schedule(self) -> None:
        """Which adds may write into an operand, and after which node each tensor is dropped
        (so activations do not pile up)."""
        last_use: dict[int, int] = {}
        for position, node in enumerate(self.nodes):
            for tensor in node["in"]:
                last_use[tensor] = position
        keep = set(self.output_ids)
        for position, node in enumerate(self.nodes):
            target = node["in"][-1] if node.get("narrow") else node["in"][0]
            node["inplace"] = (
                node["op"] == "add"
                and last_use[target] == position
                and target not in keep
                and target != self.input_id
                and node["in"].count(target) == 1
            )
        self._free_after = [
            [t for t in node["in"] if last_use[t] == position and t not in keep]
            for position, node in enumerate(self.nodes)
        ]

    @torch.no_grad()
    def fuse(self) -> BlazeFaceNet:
        """Rewrite two TFLite idioms that cost copies in PyTorch, keeping the same outputs:

        * ``SAME`` padding of stride-2 convs puts the odd pixel after (TFLite), which needs an
          ``F.pad`` copy of the input; a kernel one larger, zero in its first row and column,
          with symmetric padding one larger computes the same sums without the copy.
        * A residual whose narrower branch is zero-padded in channels (``channel_pad`` then
          ``add``) becomes an in-place add into the first channels of the wider operand.
        Call after loading the weights (``load_blazeface`` does).
        """
        for node in self.nodes:
            pad = node["op"] == "conv" and node["pad"]
            if pad and pad[1] == pad[0] + 1 and pad[3] == pad[2] + 1:
                old = self._conv(node["param"])
                (kh, kw), (sh, sw) = old.kernel_size, old.stride
                kernel = [kh + 1, kw + 1]
                new = nn.Conv2d(
                    old.in_channels,
                    old.out_channels,
                    (kh + 1, kw + 1),
                    stride=(sh, sw),
                    padding=(pad[2] + 1, pad[0] + 1),
                    groups=old.groups,
                    bias=True,
                ).to(old.weight.device, old.weight.dtype)
                assert new.bias is not None and old.bias is not None  # every conv has one
                new.weight.copy_(F.pad(old.weight, (1, 0, 1, 0)))
                new.bias.copy_(old.bias)
                self.convs[node["param"]] = new
                node.update(kernel=kernel, pad=None, symmetric_pad=[pad[2] + 1, pad[0] + 1])
        readers: dict[int, list[dict[str, Any]]] = {}
        for node in self.nodes:
            for tensor in node["in"]:
                readers.setdefault(tensor, []).append(node)
        fused = []
        for node in self.nodes:
            users = readers.get(node["out"], [])
            if node["op"] != "channel_pad" or node["channels"][0] != 0 or len(users) != 1:
                continue
            (add,) = users
            if add["op"] != "add" or add["in"].count(node["out"]) != 1:
                continue
            other = next(t for t in add["in"] if t != node["out"])
            add["in"] = [node["in"][0], other]  # narrow first, the wide operand last
            add["narrow"] = True
            fused.append(node)
        self.nodes = [node for node in self.nodes if not any(node is f for f in fused)]
        self._schedule()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values = {self.input_id: x}
        for node, free in zip(self.nodes, self._free_after, strict=True):
            values[node["out"]] = self._run(node, [values[t] for t in node["in"]])
            for tensor in free:
                del values[tensor]
        regressors, classificators = (values[t] for t in self.output_ids)
        return regressors, classificators

    def _conv(self, key: str) -> nn.Conv2d:
        conv = self.convs[key]
        assert isinstance(conv, nn.Conv2d), conv
        return conv

    def _run(self, node: dict[str, Any], args: list[torch.Tensor]) -> torch.Tensor:
        op = node["op"]
        if op == "conv":
            conv = self._conv(node["param"])
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
            if node.get("narrow"):  # a channel-padded residual: add into the first channels
                narrow, wide = args
                x = wide if node["inplace"] else wide.clone()
                x[:, : narrow.shape[1]] += narrow
            else:  # in place when the left operand has no other reader: saves an allocation
                x = args[0].add_(args[1]) if node["inplace"] else args[0] + args[1]
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


def weights_path(model: str) -> Path:
    if model not in MODELS:
        raise ValueError(f"unknown BlazeFace model {model!r}; choose one of {', '.join(MODELS)}")
    return shipped_model(f"blazeface_{model}").path


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
    actual = sha256_file(path)
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
    return net.fuse().eval().to(device)
