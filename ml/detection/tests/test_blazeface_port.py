"""The PyTorch BlazeFace port against MediaPipe's TFLite graphs, run by a NumPy reference.

The reference (``ml.convert.tflite_reference``) interprets the original ``.tflite`` files in
``tests/data/blazeface`` op by op; the port runs the converted ``ml/weights/blazeface_*.pt``.
On real photos, letterboxed as the detector feeds them, the raw outputs must agree within
``REGRESSOR_TOL`` input pixels (box offsets, sizes and keypoints) and ``LOGIT_TOL`` (face
logits), and the decoded scores within ``SCORE_TOL``. The weights are the graphs' own fp16
values, so the gap is float32 summation order only (measured: below 1e-4 everywhere).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("numpy")
pytest.importorskip("torch")
pytest.importorskip("tflite", reason="the dev dependency tflite reads the .tflite graphs")

import numpy as np
import torch

from ml.convert import tflite_reference
from ml.convert.blazeface import build_plan, read_source
from ml.convert.tflite_graph import read_graph
from ml.detection import load_image
from ml.detection.blazeface_decode import anchors, decode
from ml.detection.blazeface_net import (
    MANIFEST,
    MODELS,
    WeightsIntegrityError,
    load_blazeface,
    weights_path,
)

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ROOT / "tests" / "data" / "blazeface"
PHOTOS = [
    ROOT / "docs" / "examples" / "astronaut.jpg",
    ROOT / "docs" / "examples" / "camera.jpg",  # grayscale
    ROOT / "tests" / "data" / "photos" / "obama2.jpg",
    ROOT / "docs" / "examples" / "coffee.jpg",  # no face
]
REGRESSOR_TOL = 1e-3
LOGIT_TOL = 1e-3
SCORE_TOL = 1e-4


def letterboxed(path: Path, size: int) -> np.ndarray:
    """The photo padded to a square with black and resized: NHWC float32 in [-1, 1]."""
    import cv2

    image = load_image(path)
    h, w = image.shape[:2]
    side = max(h, w)
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = image
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32)[None] / 127.5 - 1.0


@pytest.fixture(scope="module", params=MODELS)
def model(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def graph(model: str):
    return read_graph(read_source(SOURCES, model))


def test_sources_are_the_converted_ones(model: str) -> None:
    entry = json.loads(MANIFEST.read_text())["models"][model]
    data = read_source(SOURCES, model)
    assert hashlib.sha256(data).hexdigest() == entry["source_sha256"]
    assert hashlib.sha256(weights_path(model).read_bytes()).hexdigest() == entry["sha256"]


def test_shipped_weights_equal_the_graph_constants(model: str, graph) -> None:
    """The fp16 weights in the .pt are the .tflite's own values, bit for bit."""
    _, state = build_plan(graph)
    shipped = torch.load(weights_path(model), weights_only=True)["state_dict"]
    assert shipped.keys() == state.keys()
    for key, tensor in state.items():
        assert shipped[key].dtype == torch.float16
        assert torch.equal(shipped[key], tensor), key


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_port_matches_reference_on_real_photos(model: str, graph, photo: Path) -> None:
    net = load_blazeface(model)
    batch = letterboxed(photo, net.input_size)
    expected_reg, expected_logits = tflite_reference.run(graph, batch)
    with torch.inference_mode():
        reg, logits = net(torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous())
    assert reg.shape == expected_reg.shape and logits.shape == expected_logits.shape
    assert np.abs(reg.numpy() - expected_reg).max() <= REGRESSOR_TOL
    assert np.abs(logits.numpy() - expected_logits).max() <= LOGIT_TOL
    anchor_xy = torch.from_numpy(anchors(model))
    _, scores, _ = decode(reg, logits, anchor_xy, net.input_size)
    _, expected_scores, _ = decode(
        torch.from_numpy(expected_reg),
        torch.from_numpy(expected_logits),
        anchor_xy,
        net.input_size,
    )
    assert np.abs(scores.numpy() - expected_scores.numpy()).max() <= SCORE_TOL


def test_reference_finds_the_astronaut(model: str, graph) -> None:
    """The reference itself is right: its best box is Eileen Collins' face (by eye)."""
    size = graph.shapes[graph.inputs[0]][1]
    reg, logits = tflite_reference.run(graph, letterboxed(PHOTOS[0], size))
    boxes, scores, _ = decode(
        torch.from_numpy(reg), torch.from_numpy(logits), torch.from_numpy(anchors(model)), size
    )
    best = int(scores[0].argmax())
    assert float(scores[0, best]) > 0.9
    box = boxes[0, best].numpy() * 512  # the photo is 512x512: no letterbox offset
    face = np.array([178.0, 66.0, 272.0, 170.0])
    lt, rb = np.maximum(box[:2], face[:2]), np.minimum(box[2:], face[2:])
    inter = np.prod(np.clip(rb - lt, 0, None))
    union = np.prod(box[2:] - box[:2]) + np.prod(face[2:] - face[:2]) - inter
    assert inter / union > 0.5


def test_port_is_batch_independent(model: str) -> None:
    net = load_blazeface(model)
    batch = np.concatenate([letterboxed(p, net.input_size) for p in PHOTOS])
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
    with torch.inference_mode():
        together = net(x)
        alone = net(x[1:2])
    for a, b in zip(together, alone, strict=True):
        assert torch.allclose(a[1:2], b, atol=1e-4)


def test_port_runs_channels_last(model: str) -> None:
    net = load_blazeface(model)
    x = torch.from_numpy(letterboxed(PHOTOS[0], net.input_size)).permute(0, 3, 1, 2)
    with torch.inference_mode():
        plain = net(x.contiguous())
        # Module.to takes memory_format; the torch stubs lack that overload.
        fast = net.to(memory_format=torch.channels_last)(  # type: ignore[call-overload]
            x.contiguous(memory_format=torch.channels_last)
        )
    for a, b in zip(plain, fast, strict=True):
        assert torch.allclose(a, b, atol=1e-4)


def test_tampered_weights_do_not_load(tmp_path: Path) -> None:
    copy = tmp_path / "blazeface_short_range.pt"
    shutil.copyfile(weights_path("short_range"), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    with pytest.raises(WeightsIntegrityError, match="SHA-256"):
        load_blazeface("short_range", path=copy)


def test_anchor_counts_match_the_networks(model: str) -> None:
    net = load_blazeface(model)
    with torch.inference_mode():
        reg, _ = net(torch.zeros(1, 3, net.input_size, net.input_size))
    assert anchors(model).shape == (reg.shape[1], 2)
