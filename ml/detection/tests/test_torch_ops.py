"""The torchvision stand-ins (NMS, to_tensor) and the import shim, against plain references."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

from ml.detection import torch_ops  # noqa: E402
from ml.detection.faces import iou  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def reference_batched_nms(boxes, scores, idxs, threshold: float) -> list[int]:
    """Textbook greedy NMS per class: highest score first, ties in input order."""
    boxes, scores, idxs = boxes.tolist(), scores.tolist(), idxs.tolist()
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable
    keep: list[int] = []
    for i in order:
        if all(idxs[j] != idxs[i] or iou(boxes[i], boxes[j]) <= threshold for j in keep):
            keep.append(i)
    return keep


def _random_boxes(rng, n: int, dtype, negative: bool = False):
    origin = -50.0 if negative else 0.0
    xy = rng.uniform(origin, 200, size=(n, 2))
    wh = rng.uniform(1, 60, size=(n, 2))
    boxes = torch.tensor(np.hstack([xy, xy + wh]), dtype=dtype)
    # Few distinct score values, so many ties.
    scores = torch.tensor(rng.integers(0, 8, size=n) / 8.0, dtype=dtype)
    idxs = torch.tensor(rng.integers(0, 4, size=n), dtype=torch.int64)
    return boxes, scores, idxs


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batched_nms_matches_reference(seed: int, threshold: float, dtype: str) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    boxes, scores, idxs = _random_boxes(rng, n, getattr(torch, dtype), negative=seed % 2 == 1)
    keep = torch_ops.batched_nms(boxes, scores, idxs, threshold)
    assert keep.dtype == torch.int64
    assert keep.tolist() == reference_batched_nms(boxes, scores, idxs, threshold)
    kept_scores = scores[keep]
    assert torch.all(kept_scores[:-1] >= kept_scores[1:])


def test_batched_nms_blockwise_path_is_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(99)
    boxes, scores, idxs = _random_boxes(rng, 500, torch.float64)
    expected = reference_batched_nms(boxes, scores, idxs, 0.4)
    monkeypatch.setattr(torch_ops, "_MAX_IOU_ELEMENTS", 4999)  # blocks of 9 rows
    assert torch_ops.batched_nms(boxes, scores, idxs, 0.4).tolist() == expected


def test_nms_exact_threshold_and_ties() -> None:
    # IoU of the first two is exactly 1/3 (areas 100 and 100, intersection 50).
    boxes = torch.tensor(
        [[0, 0, 10, 10], [5, 0, 15, 10], [0, 0, 10, 10], [100, 100, 110, 110]],
        dtype=torch.float32,
    )
    scores = torch.tensor([0.9, 0.9, 0.9, 0.1])
    # Equal scores: input order wins; IoU == threshold is kept (only > suppresses).
    assert torch_ops.nms(boxes, scores, 1 / 3).tolist() == [0, 1, 3]
    assert torch_ops.nms(boxes, scores, 0.3).tolist() == [0, 3]
    # Identical boxes in different classes never suppress each other.
    idxs = torch.tensor([0, 0, 1, 1])
    assert torch_ops.batched_nms(boxes, scores, idxs, 0.3).tolist() == [0, 2, 3]


def test_nms_empty_and_degenerate() -> None:
    empty = torch.zeros((0, 4))
    assert torch_ops.nms(empty, torch.zeros(0), 0.5).tolist() == []
    assert torch_ops.batched_nms(empty, torch.zeros(0), torch.zeros(0), 0.5).dtype == torch.int64
    # Zero-area boxes: IoU is 0/0 = NaN, which never suppresses (as in torchvision).
    points = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    assert torch_ops.nms(points, torch.tensor([0.5, 0.4]), 0.1).tolist() == [0, 1]


def test_negative_coordinates_do_not_leak_across_classes() -> None:
    # torchvision's ``max + 1`` offset would shift class 1 by 11 and make these overlap.
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [-11.0, 0.0, -1.0, 10.0]])
    keep = torch_ops.batched_nms(boxes, torch.tensor([0.9, 0.8]), torch.tensor([0, 1]), 0.5)
    assert keep.tolist() == [0, 1]


def test_to_tensor_matches_torchvision_semantics() -> None:
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = torch_ops.to_tensor(image)
    assert out.shape == (3, 2, 3) and out.dtype == torch.float32
    assert torch.allclose(out[:, 1, 2], torch.tensor(image[1, 2], dtype=torch.float32) / 255)
    floats = np.float32(image)  # facenet's extract_face passes float32: no rescaling
    assert torch.equal(torch_ops.to_tensor(floats), torch.from_numpy(floats.transpose(2, 0, 1)))
    assert torch_ops.to_tensor(np.zeros((4, 5), dtype=np.uint8)).shape == (1, 4, 5)
    pil = pytest.importorskip("PIL.Image")
    assert torch.equal(torch_ops.to_tensor(pil.fromarray(image)), out)
    with pytest.raises(TypeError):
        torch_ops.to_tensor([1, 2, 3])  # type: ignore[arg-type]  # the wrong type on purpose


def _require_facenet() -> None:
    # Not importorskip: importing facenet_pytorch directly fails without torchvision.
    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip("facenet-pytorch is not installed")


def _run_python(code: str, extra_path: Path | None = None) -> str:
    env = dict(os.environ)
    paths = [str(REPO)] + ([str(extra_path)] if extra_path else [])
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_facenet_imports_without_torchvision_or_tqdm() -> None:
    _require_facenet()
    out = _run_python(
        """
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):  # as if neither were installed
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("torchvision", "tqdm"):
                    raise ImportError("blocked " + name)

        sys.meta_path.insert(0, Block())
        from ml.detection import torch_ops
        from ml.detection.compat import import_facenet_pytorch

        facenet = import_facenet_pytorch()
        from facenet_pytorch.models.utils import detect_face

        assert detect_face.batched_nms is torch_ops.batched_nms
        assert detect_face.F.to_tensor is torch_ops.to_tensor
        # The stand-ins were only there for the import.
        assert not any(m.split(".")[0] in ("torchvision", "tqdm") for m in sys.modules)
        facenet.InceptionResnetV1()  # the rest of the package works too (no weights)
        facenet.MTCNN()
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_real_torchvision_is_preferred(tmp_path: Path) -> None:
    _require_facenet()
    fake = tmp_path / "torchvision"
    (fake / "ops").mkdir(parents=True)
    (fake / "transforms").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "ops" / "__init__.py").write_text("")
    (fake / "ops" / "boxes.py").write_text("def batched_nms(*a):\n    return 'real'\n")
    (fake / "transforms" / "__init__.py").write_text("")
    (fake / "transforms" / "functional.py").write_text("def to_tensor(x):\n    return 'real'\n")
    out = _run_python(
        """
        from ml.detection.compat import import_facenet_pytorch

        import_facenet_pytorch()
        from facenet_pytorch.models.utils import detect_face

        print(detect_face.batched_nms(), detect_face.F.to_tensor(None))
        """,
        extra_path=tmp_path,
    )
    assert out.split() == ["real", "real"]
