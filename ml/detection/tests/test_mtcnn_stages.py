"""The fast MTCNN path (integral-image resampling, batched stages) against facenet's own."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("numpy")
pytest.importorskip("torch")
pytest.importorskip("cv2")

import numpy as np
import torch

if importlib.util.find_spec("facenet_pytorch") is None:
    pytest.skip("facenet-pytorch is not installed", allow_module_level=True)

import torch.nn.functional as F

from ml.detection import MTCNNDetector, area, load_image
from ml.detection.mtcnn_stages import Settings, detect_faces

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
CPU = torch.device("cpu")


def reference_area(rgb: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """facenet's resampling: ``interpolate(mode="area")`` on the float NCHW image."""
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    return F.interpolate(x, size=size, mode="area")[0].permute(1, 2, 0)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (97, 131, 3), dtype=np.uint8)


@pytest.mark.parametrize("size", [(60, 80), (97, 131), (13, 12), (150, 40), (1, 1)])
def test_resize_matches_interpolate_area(noise: np.ndarray, size: tuple[int, int]) -> None:
    ours = area.resize(area.integral_image(noise, CPU), size)
    torch.testing.assert_close(ours, reference_area(noise, size), rtol=0, atol=1e-4)


def test_torch_integral_equals_opencv(noise: np.ndarray) -> None:
    expected = area.integral_image(noise, CPU)
    pixels = torch.from_numpy(noise)
    assert torch.equal(area.cumsum_integral(pixels, torch.int32), expected)
    assert torch.equal(area.cumsum_integral(pixels, torch.float64), expected.double())


def test_crop_resize_matches_per_crop_interpolate(noise: np.ndarray) -> None:
    # (top, bottom, left, right): larger and smaller than the output, thin, one pixel, whole.
    regions = [
        (0, 97, 0, 131),
        (10, 60, 20, 90),
        (5, 15, 7, 12),
        (40, 41, 3, 100),
        (96, 97, 130, 131),
    ]
    integral = area.integral_image(noise, CPU)
    for size in (24, 48):
        ours = area.crop_resize(integral, torch.tensor(regions), size)
        for crop, (top, bottom, left, right) in zip(ours, regions, strict=True):
            expected = reference_area(
                np.ascontiguousarray(noise[top:bottom, left:right]), (size, size)
            )
            torch.testing.assert_close(crop, expected, rtol=0, atol=1e-4)


def test_same_results_as_facenet_detect_face() -> None:
    """Same boxes, scores and landmarks as facenet's pipeline on an equal-size batch."""
    from facenet_pytorch.models.utils.detect_face import detect_face

    astronaut = load_image(EXAMPLES / "astronaut.jpg")
    camera = load_image(EXAMPLES / "camera.jpg")
    batch = [astronaut, camera, np.ascontiguousarray(astronaut[:, ::-1])]
    detector = MTCNNDetector(device="cpu")
    net = detector._net
    with torch.inference_mode():
        ref_boxes, ref_points = detect_face(
            np.stack(batch), 20, net.pnet, net.rnet, net.onet, [0.6, 0.7, 0.7], 0.709, CPU
        )
    ours = detect_faces(batch, detector._nets, Settings(20, (0.6, 0.7, 0.7), 0.709), CPU)
    for (boxes, points), expected_boxes, expected_points in zip(
        ours, ref_boxes, ref_points, strict=True
    ):
        expected_boxes = np.asarray(expected_boxes, dtype=np.float64).reshape(-1, 5)
        expected_points = np.asarray(expected_points, dtype=np.float64).reshape(-1, 5, 2)
        assert len(boxes) == len(expected_boxes) >= 1
        np.testing.assert_allclose(boxes, expected_boxes, atol=1e-3)
        np.testing.assert_allclose(points, expected_points, atol=1e-3)


def test_result_does_not_depend_on_the_batch() -> None:
    detector = MTCNNDetector(device="cpu", max_batch=2)
    images = [load_image(EXAMPLES / f"{name}.jpg") for name in ("astronaut", "coffee", "camera")]
    images.append(np.ascontiguousarray(images[0][100:400, 50:450]))
    alone = [detector.detect([image])[0] for image in images]
    together = detector.detect(images)
    assert [len(faces) for faces in alone] == [1, 0, 1, 1]
    for a, b in zip(alone, together, strict=True):
        for face_a, face_b in zip(a, b, strict=True):
            np.testing.assert_allclose(face_a.box, face_b.box, atol=1e-3)
            assert face_a.landmarks is not None and face_b.landmarks is not None
            np.testing.assert_allclose(face_a.landmarks, face_b.landmarks, atol=1e-3)
