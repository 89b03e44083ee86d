"""BlazeFace detection on real photos from the repository and views built from them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("numpy")
cv2 = pytest.importorskip("cv2")
pytest.importorskip("torch")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from ml.detection import (  # noqa: E402
    DETECTORS,
    BlazeFaceDetector,
    align_face,
    alignment_matrix,
    eye_angle,
    load_image,
    make_detector,
)
from ml.detection.blazeface_decode import weighted_nms  # noqa: E402
from ml.detection.faces import iou  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples"
PHOTOS = ROOT / "tests" / "data" / "photos"
ASTRONAUT_FACE = (178.0, 66.0, 272.0, 170.0)  # by eye, as in test_detection.py
OBAMA_FACE = (205.0, 62.0, 350.0, 234.0)  # by eye on obama.jpg (512x640)


@pytest.fixture(scope="module")
def blazeface() -> BlazeFaceDetector:
    return BlazeFaceDetector(device="cpu")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image(EXAMPLES / "astronaut.jpg")


def test_astronaut_one_face_with_six_keypoints(blazeface, astronaut) -> None:
    (face,) = blazeface.detect([astronaut])[0]
    assert iou(face.box, ASTRONAUT_FACE) > 0.6
    assert 0.8 < face.score <= 1.0
    assert len(face.landmarks) == 6
    (lx, ly), (rx, ry), (nx, ny), (_, my), (lex, _), (rex, _) = face.landmarks
    assert lx < nx < rx and ly < ny and ry < ny < my  # eyes, nose, mouth top to bottom
    assert lex < lx and rex > rx  # ear tragions outside the eyes
    assert abs(eye_angle(face)) < 10


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_no_human_face(blazeface, name: str) -> None:
    assert blazeface.detect([load_image(EXAMPLES / f"{name}.jpg")]) == [[]]


def test_grayscale_cameraman(blazeface) -> None:
    (face,) = blazeface.detect([load_image(EXAMPLES / "camera.jpg")])[0]
    assert iou(face.box, (200.0, 118.0, 255.0, 197.0)) > 0.4  # his face, by eye


def test_batch_keeps_order_and_matches_single_calls(blazeface, astronaut) -> None:
    images = [
        astronaut,
        load_image(EXAMPLES / "coffee.jpg"),
        cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA),
        load_image(PHOTOS / "obama.jpg"),
        np.zeros((8, 8, 3), np.uint8),
        load_image(PHOTOS / "biden.jpg"),
    ]
    together = blazeface.detect(images)
    assert [len(faces) for faces in together] == [1, 0, 1, 1, 0, 1]
    for image, faces in zip(images, together, strict=True):
        alone = blazeface.detect([image])[0]
        for a, b in zip(alone, faces, strict=True):
            assert np.allclose(a.box, b.box, atol=0.05) and abs(a.score - b.score) < 1e-4


def test_face_filling_the_frame(blazeface) -> None:
    """A close-up whose face fills the frame: the short-range pass finds it."""
    obama = load_image(PHOTOS / "obama.jpg")
    x1, y1, x2, y2 = (int(v) for v in OBAMA_FACE)
    closeup = np.ascontiguousarray(obama[y1 - 5 : y2 + 5, x1 - 5 : x2 + 5])
    expected = (5.0, 5.0, x2 - x1 + 5.0, y2 - y1 + 5.0)
    (face,) = blazeface.detect([closeup])[0]
    assert iou(face.box, expected) > 0.5
    # The same close-up in a grayscale, 4x upscaled copy (a large grayscale close-up).
    big = cv2.cvtColor(cv2.cvtColor(closeup, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    big = cv2.resize(big, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    (face,) = blazeface.detect([big])[0]
    assert iou(face.box, tuple(4 * v for v in expected)) > 0.5


def test_small_faces_in_a_large_image_are_found_by_tiles(astronaut) -> None:
    """Three 48-56 px faces on a 2000x1400 canvas: the whole view (192 px for 2000)
    shrinks them below 6 px, so only the tiles can find them."""
    portrait = Image.fromarray(astronaut[20:240, 120:330])  # head and shoulders, 210x220
    canvas = Image.new("RGB", (2000, 1400), (205, 200, 190))
    expected = []
    for x, y, scale in [(100, 150, 0.5), (1200, 300, 0.55), (700, 1100, 0.6)]:
        copy = portrait.resize((round(210 * scale), round(220 * scale)), Image.Resampling.LANCZOS)
        canvas.paste(copy, (x, y))
        face = (ASTRONAUT_FACE[0] - 120, ASTRONAUT_FACE[1] - 20, ASTRONAUT_FACE[2] - 120, 150.0)
        expected.append(tuple(v * scale + (x if i % 2 == 0 else y) for i, v in enumerate(face)))
    image = np.asarray(canvas)
    tiled = BlazeFaceDetector(device="cpu", min_face_size=40)
    faces = tiled.detect([image])[0]
    assert len(faces) == 3
    for box in expected:
        assert max(iou(f.box, box) for f in faces) > 0.4
    whole_only = BlazeFaceDetector(device="cpu", min_face_size=10_000)
    assert whole_only.detect([image])[0] == []


def test_rotated_face_is_levelled_by_the_eye_keypoints(blazeface, astronaut) -> None:
    portrait = Image.fromarray(astronaut[:320, 80:380])
    rotated = np.asarray(portrait.rotate(25, expand=True, fillcolor=(255, 255, 255)))
    (face,) = blazeface.detect([rotated])[0]
    upright = blazeface.detect([astronaut])[0][0]
    assert eye_angle(face) == pytest.approx(eye_angle(upright) - 25, abs=6)
    matrix = alignment_matrix(face, output_size=48)
    (lx, ly), (rx, ry) = (matrix @ np.array([*p, 1.0]) for p in face.landmarks[:2])
    assert abs(math.degrees(math.atan2(ry - ly, rx - lx))) < 0.01
    assert align_face(rotated, face).shape == (48, 48)


def test_very_large_image_is_bounded(blazeface, astronaut) -> None:
    """A 4096-px upscale: found, with a bounded number of views (max_side semantics)."""
    big = cv2.resize(astronaut, (4096, 4096), interpolation=cv2.INTER_LINEAR)
    regions = blazeface._regions(4096, 4096)
    assert len(regions) <= 2 + 16
    (face,) = blazeface.detect([big])[0]
    assert iou(face.box, tuple(8 * v for v in ASTRONAUT_FACE)) > 0.5


def test_tiny_min_face_size_still_tiles_within_max_tiles() -> None:
    detector = BlazeFaceDetector(device="cpu", min_face_size=12, max_tiles=16)
    regions = detector._regions(1200, 1600)
    assert 2 < len(regions) <= 1 + 16  # the whole view, then at most 16 (larger) tiles
    sides = {side for _, _, side in regions[1:]}
    assert len(sides) == 1 and sides.pop() > 12 * 192 / 16


def test_weighted_nms_blends_overlapping_candidates() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float64)
    scores = np.array([0.9, 0.6, 0.8])
    keypoints = np.zeros((3, 6, 2))
    keypoints[1] += 1.0
    out = weighted_nms(boxes, scores, keypoints, iou_threshold=0.3)
    assert out.scores.tolist() == [0.9, 0.8]  # the best member's score
    assert np.allclose(out.boxes[0], [0.4, 0.4, 10.4, 10.4])  # (0.9*0 + 0.6*1) / 1.5
    assert np.allclose(out.keypoints[0], 0.4)
    assert np.allclose(out.boxes[1], boxes[2])
    empty = weighted_nms(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2)))
    assert empty.boxes.shape == (0, 4) and empty.keypoints.shape == (0, 6, 2)


def test_make_detector_knows_blazeface(astronaut) -> None:
    assert "blazeface" in DETECTORS
    detector = make_detector("blazeface", device="cpu", min_score=0.9, close_up=False)
    assert isinstance(detector, BlazeFaceDetector) and detector.min_score == 0.9
    data = detector.detect([astronaut])[0][0].to_dict()
    assert set(data) == {"box", "score", "landmarks"} and len(data["landmarks"]) == 6
