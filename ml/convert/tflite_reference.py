"""A tiny NumPy interpreter for the TFLite graphs of :mod:`ml.convert.tflite_graph`.

It is the reference the PyTorch port of BlazeFace is checked against: it works in NHWC as
TFLite does, straight from the flatbuffer's tensors and options, with TFLite's own rules
for ``SAME`` padding (the extra pixel goes after), half-pixel bilinear resizing and
flattening order, and shares no code with :mod:`ml.detection.blazeface_net`. Float32
throughout, like TFLite's reference kernels for these float models; slow (seconds per
image) but simple enough to read op by op. Not used at run time.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ml.convert.tflite_graph import Graph, Op


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite ``SAME``: output ``ceil(size / stride)``, the odd padding pixel at the end."""
    out = math.ceil(size / stride)
    extent = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


def _pad_spatial(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], value: float):
    top, bottom = same_padding(x.shape[1], kernel[0], stride[0])
    left, right = same_padding(x.shape[2], kernel[1], stride[1])
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """``(N, Ho, Wo, C, kh, kw)`` view of every ``kernel`` window at ``stride``."""
    view = sliding_window_view(x, kernel, axis=(1, 2))
    return view[:, :: stride[0], :: stride[1]]


def _activate(x: np.ndarray, activation: str) -> np.ndarray:
    if activation == "NONE":
        return x
    if activation == "RELU":
        return np.maximum(x, 0)
    if activation == "RELU6":
        return np.clip(x, 0, 6)
    raise ValueError(f"activation {activation} is not supported")


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, options: dict) -> np.ndarray:
    """TFLite CONV_2D: ``weight`` is ``(O, kh, kw, I)``."""
    kernel = weight.shape[1:3]
    if options["dilation"] != (1, 1):
        raise ValueError("dilated convolutions are not supported")
    if options["padding"] == "SAME":
        x = _pad_spatial(x, kernel, options["stride"], 0.0)
    win = _windows(x, kernel, options["stride"])
    out = np.einsum("nhwcij,oijc->nhwo", win, weight, optimize=True) + bias
    return _activate(out.astype(np.float32), options["activation"])


def depthwise_conv2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, options: dict
) -> np.ndarray:
    """TFLite DEPTHWISE_CONV_2D with multiplier 1: ``weight`` is ``(1, kh, kw, C)``."""
    if options["depth_multiplier"] != 1 or weight.shape[3] != x.shape[3]:
        raise ValueError("only depth multiplier 1 is supported")
    kernel = weight.shape[1:3]
    if options["padding"] == "SAME":
        x = _pad_spatial(x, kernel, options["stride"], 0.0)
    win = _windows(x, kernel, options["stride"])
    out = np.einsum("nhwcij,ijc->nhwc", win, weight[0], optimize=True) + bias
    return _activate(out.astype(np.float32), options["activation"])


def max_pool2d(x: np.ndarray, options: dict) -> np.ndarray:
    kernel = options["filter"]
    if options["padding"] == "SAME":
        x = _pad_spatial(x, kernel, options["stride"], -np.inf)
    out = _windows(x, kernel, options["stride"]).max(axis=(4, 5))
    return _activate(out, options["activation"])


def resize_bilinear(x: np.ndarray, options: dict) -> np.ndarray:
    """TFLite RESIZE_BILINEAR (half-pixel centres or the legacy corner mapping)."""
    if options["align_corners"]:
        raise ValueError("align_corners resizing is not supported")
    out_h, out_w = options["size"]
    in_h, in_w = x.shape[1:3]

    def axis(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale = in_size / out_size
        i = np.arange(out_size, dtype=np.float32)
        src = (i + 0.5) * scale - 0.5 if options["half_pixel_centers"] else i * scale
        low = np.floor(src)
        frac = (src - low).astype(np.float32)
        lo = np.clip(low, 0, in_size - 1).astype(np.int64)
        hi = np.clip(np.ceil(src), 0, in_size - 1).astype(np.int64)
        return lo, hi, frac

    y0, y1, fy = axis(out_h, in_h)
    x0, x1, fx = axis(out_w, in_w)
    top = (
        x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None]
        + x[:, y0][:, :, x1] * fx[None, None, :, None]
    )
    bottom = (
        x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None]
        + x[:, y1][:, :, x1] * fx[None, None, :, None]
    )
    return (top * (1 - fy)[None, :, None, None] + bottom * fy[None, :, None, None]).astype(
        np.float32
    )


def run(graph: Graph, image: np.ndarray) -> list[np.ndarray]:
    """Outputs of ``graph`` for one NHWC float32 input (batch 1 or more), in graph order."""
    values: dict[int, np.ndarray] = {graph.inputs[0]: np.asarray(image, dtype=np.float32)}

    def get(index: int) -> np.ndarray:
        if index in values:
            return values[index]
        return graph.constants[index].astype(np.float32)

    for op in graph.ops:
        values[op.outputs[0]] = _execute(op, graph, get)
    return [values[index] for index in graph.outputs]


def _execute(op: Op, graph: Graph, get) -> np.ndarray:
    args = op.inputs
    if op.kind == "CONV_2D":
        return conv2d(get(args[0]), get(args[1]), get(args[2]), op.options)
    if op.kind == "DEPTHWISE_CONV_2D":
        return depthwise_conv2d(get(args[0]), get(args[1]), get(args[2]), op.options)
    if op.kind == "RELU":
        return np.maximum(get(args[0]), 0)
    if op.kind == "ADD":
        return _activate(get(args[0]) + get(args[1]), op.options["activation"])
    if op.kind == "MAX_POOL_2D":
        return max_pool2d(get(args[0]), op.options)
    if op.kind == "PAD":
        return np.pad(get(args[0]), op.options["paddings"])
    if op.kind == "RESIZE_BILINEAR":
        return resize_bilinear(get(args[0]), op.options)
    if op.kind == "RESHAPE":
        x = get(args[0])
        shape = graph.shapes[op.outputs[0]]
        return x.reshape((x.shape[0], *shape[1:]))  # row-major NHWC, as TFLite
    if op.kind == "CONCATENATION":
        out = np.concatenate([get(i) for i in args], axis=op.options["axis"])
        return _activate(out, op.options["activation"])
    raise ValueError(f"operator {op.kind} is not supported")
