"""Read a ``.tflite`` flatbuffer into plain Python: tensors, constants and operators.

Only the operators MediaPipe's BlazeFace graphs use are understood (anything else is an
error, not a silent skip). fp16 weights stored behind ``DEQUANTIZE`` ops are folded into
constants, keeping their stored dtype, so a converter can ship them bit for bit.
Needs the ``tflite`` package (schema bindings over ``flatbuffers``): a dev dependency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SUPPORTED = (
    "ADD",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "MAX_POOL_2D",
    "PAD",
    "RELU",
    "RESHAPE",
    "RESIZE_BILINEAR",
)
_DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "INT64": np.int64}


@dataclass
class Op:
    """One operator: its kind (``CONV_2D``...), tensor ids in and out, parsed options."""

    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """A single-subgraph model; tensors are ids, shapes NHWC as TFLite stores them."""

    shapes: dict[int, tuple[int, ...]]
    names: dict[int, str]
    constants: dict[int, np.ndarray]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]


def _enum_names(enum_class: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


def read_graph(data: bytes) -> Graph:
    """Parse a ``.tflite`` file's bytes; DEQUANTIZE of a constant becomes that constant."""
    import tflite

    op_names = _enum_names(tflite.BuiltinOperator)
    type_names = _enum_names(tflite.TensorType)
    model = tflite.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() != 1:
        raise ValueError(f"expected one subgraph, found {model.SubgraphsLength()}")
    graph = model.Subgraphs(0)
    shapes, names, constants = {}, {}, {}
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        shapes[index] = tuple(int(v) for v in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        names[index] = tensor.Name().decode()
        buffer = model.Buffers(tensor.Buffer())
        if buffer is not None and buffer.DataLength():
            dtype = _DTYPES[type_names[tensor.Type()]]
            raw = buffer.DataAsNumpy().tobytes()
            constants[index] = np.frombuffer(raw, dtype=dtype).reshape(shapes[index]).copy()
    ops = []
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        inputs = [int(op.Inputs(i)) for i in range(op.InputsLength())]
        outputs = [int(op.Outputs(i)) for i in range(op.OutputsLength())]
        if kind == "DEQUANTIZE":
            if inputs[0] not in constants:
                raise ValueError(f"DEQUANTIZE of a non-constant tensor {names[inputs[0]]!r}")
            constants[outputs[0]] = constants[inputs[0]]
            continue
        if kind not in SUPPORTED:
            raise ValueError(f"operator {kind} (op {index}) is not supported")
        ops.append(Op(kind, inputs, outputs, _options(tflite, kind, op, inputs, constants)))
    return Graph(
        shapes=shapes,
        names=names,
        constants=constants,
        ops=ops,
        inputs=[int(graph.Inputs(i)) for i in range(graph.InputsLength())],
        outputs=[int(graph.Outputs(i)) for i in range(graph.OutputsLength())],
    )


def _options(
    tflite: Any, kind: str, op: Any, inputs: list[int], constants: dict[int, np.ndarray]
) -> dict[str, Any]:
    activations = _enum_names(tflite.ActivationFunctionType)
    paddings = _enum_names(tflite.Padding)

    def table(cls: type) -> Any:
        raw = op.BuiltinOptions()
        options = cls()
        if raw is not None:
            options.Init(raw.Bytes, raw.Pos)
        return options

    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        o = table(tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions)
        out = {
            "stride": (o.StrideH(), o.StrideW()),
            "dilation": (o.DilationHFactor(), o.DilationWFactor()),
            "padding": paddings[o.Padding()],
            "activation": activations[o.FusedActivationFunction()],
        }
        if kind == "DEPTHWISE_CONV_2D":
            out["depth_multiplier"] = o.DepthMultiplier()
        return out
    if kind == "MAX_POOL_2D":
        o = table(tflite.Pool2DOptions)
        return {
            "filter": (o.FilterHeight(), o.FilterWidth()),
            "stride": (o.StrideH(), o.StrideW()),
            "padding": paddings[o.Padding()],
            "activation": activations[o.FusedActivationFunction()],
        }
    if kind == "ADD":
        return {"activation": activations[table(tflite.AddOptions).FusedActivationFunction()]}
    if kind == "CONCATENATION":
        o = table(tflite.ConcatenationOptions)
        return {"axis": o.Axis(), "activation": activations[o.FusedActivationFunction()]}
    if kind == "RESIZE_BILINEAR":
        o = table(tflite.ResizeBilinearOptions)
        size = constants[inputs[1]].tolist() if len(inputs) > 1 else None
        return {
            "size": size,
            "align_corners": bool(o.AlignCorners()),
            "half_pixel_centers": bool(o.HalfPixelCenters()),
        }
    if kind == "PAD":
        return {"paddings": constants[inputs[1]].tolist()}
    return {}
