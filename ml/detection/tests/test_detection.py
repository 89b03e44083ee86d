"""Face detection and alignment on real photos (docs/examples) and variants built from them."""

from __future__ import annotations

import importlib.util
import io
import math
import time
from pathlib import Path

import pytest

pytest.importorskip("numpy")
cv2 = pytest.importorskip("cv2")

import numpy as np  # noqa: E402

if importlib.util.find_spec("facenet_pytorch") is None:
    # Not importorskip: facenet_pytorch only imports through ml.detection.compat here.
    pytest.skip("facenet-pytorch is not installed", allow_module_level=True)

from PIL import Image  # noqa: E402

from ml.detection import (  # noqa: E402
    Face,
    HaarDetector,
    ImageDecodeError,
    MTCNNDetector,
    align_face,
    alignment_matrix,
    eye_angle,
    load_image,
    make_detector,
)
from ml.detection.align import FER_EYE_TO_MOUTH, FER_EYE_Y, FER_TEMPLATES  # noqa: E402
from ml.detection.faces import iou  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
#: Eileen Collins' face in astronaut.jpg, checked by eye: cheek to cheek, hairline to chin.
ASTRONAUT_FACE = (178.0, 66.0, 272.0, 170.0)


def points(face: Face) -> tuple[tuple[float, float], ...]:
    """The face's landmarks (MTCNN always gives them)."""
    assert face.landmarks is not None
    return face.landmarks


def shifted(box: tuple[float, ...], dx: float = 0, dy: float = 0, s: float = 1) -> tuple:
    return (box[0] * s + dx, box[1] * s + dy, box[2] * s + dx, box[3] * s + dy)


def jpeg_bytes(image: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def mtcnn() -> MTCNNDetector:
    return MTCNNDetector(device="cpu")


@pytest.fixture(scope="module")
def haar() -> HaarDetector:
    return HaarDetector()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image(EXAMPLES / "astronaut.jpg")


@pytest.fixture(scope="module")
def astronaut_face(mtcnn: MTCNNDetector, astronaut: np.ndarray) -> Face:
    faces = mtcnn.detect([astronaut])[0]
    assert len(faces) == 1
    return faces[0]


def test_astronaut_one_face_with_landmarks(astronaut_face: Face) -> None:
    face = astronaut_face
    assert iou(face.box, ASTRONAUT_FACE) > 0.5
    assert face.score >= 0.9
    assert face.landmarks is not None and len(face.landmarks) == 5
    (lx, ly), (rx, ry), (_, ny), (mlx, mly), (mrx, mry) = face.landmarks
    assert ly < ny and ry < ny  # eyes above the nose
    assert mly > ny and mry > ny  # mouth below it
    assert lx < rx and mlx < mrx  # "left" = image left
    assert abs(eye_angle(face)) < 10  # she holds her head nearly level


def test_haar_finds_the_astronaut(haar: HaarDetector, astronaut: np.ndarray) -> None:
    faces = haar.detect([astronaut])[0]
    assert faces and any(iou(f.box, ASTRONAUT_FACE) > 0.5 for f in faces)
    assert all(f.landmarks is None and f.score == 1.0 for f in faces)


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_no_human_face(mtcnn: MTCNNDetector, name: str) -> None:
    assert mtcnn.detect([load_image(EXAMPLES / f"{name}.jpg")]) == [[]]


def test_cameraman_grayscale_photo(mtcnn: MTCNNDetector) -> None:
    camera = load_image(EXAMPLES / "camera.jpg")  # an 'L' JPEG
    assert camera.shape == (512, 512, 3)
    faces = mtcnn.detect([camera])[0]
    assert len(faces) == 1
    assert iou(faces[0].box, (200.0, 118.0, 255.0, 197.0)) > 0.5  # his face, by eye


def test_batch_of_mixed_sizes_keeps_order(mtcnn: MTCNNDetector, astronaut: np.ndarray) -> None:
    coffee = load_image(EXAMPLES / "coffee.jpg")
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    results = mtcnn.detect([astronaut, coffee, small, astronaut, np.zeros((8, 8, 3), np.uint8)])
    assert [len(r) for r in results] == [1, 0, 1, 1, 0]
    assert iou(results[2][0].box, shifted(ASTRONAUT_FACE, s=0.5)) > 0.5
    assert results[0] == results[3]


def test_composite_with_three_faces(mtcnn: MTCNNDetector, astronaut: np.ndarray) -> None:
    portrait = Image.fromarray(astronaut[20:240, 120:330])  # head and shoulders, 210x220
    canvas = Image.new("RGB", (1000, 420), (205, 200, 190))
    placements = [(30, 60, 1.0), (330, 20, 1.6), (720, 150, 0.8)]
    expected = []
    for x, y, s in placements:
        size = (round(210 * s), round(220 * s))
        copy = portrait.resize(size, Image.Resampling.LANCZOS)
        if s > 1:
            copy = copy.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        canvas.paste(copy, (x, y))
        face = shifted(ASTRONAUT_FACE, dx=-120, dy=-20)
        if s > 1:
            face = (210 - face[2], face[1], 210 - face[0], face[3])
        expected.append(shifted(face, dx=x, dy=y, s=s))
    faces = mtcnn.detect([np.asarray(canvas)])[0]
    assert len(faces) == 3
    for box in expected:
        assert max(iou(f.box, box) for f in faces) > 0.5


def test_rotated_face_is_found_and_levelled(
    mtcnn: MTCNNDetector, astronaut: np.ndarray, astronaut_face: Face
) -> None:
    # Head and shoulders turned 25 degrees counter-clockwise, on a white canvas. (The whole
    # rotated photo also gets a 0.94 "face" on a 20 px suit clasp: a real MTCNN false positive
    # at min_score 0.9, not what this test is about.)
    portrait = Image.fromarray(astronaut[:320, 80:380])
    rotated = np.asarray(portrait.rotate(25, expand=True, fillcolor=(255, 255, 255)))
    faces = mtcnn.detect([rotated])[0]
    assert len(faces) == 1
    face = faces[0]
    # Counter-clockwise rotation raises the right eye: the eye line turns by about -25.
    assert eye_angle(face) == pytest.approx(eye_angle(astronaut_face) - 25, abs=6)
    # In the crop the eyes map onto a level line ...
    matrix = alignment_matrix(face, output_size=160, margin=0.25)
    (lx, ly), (rx, ry) = (matrix @ np.array([*p, 1.0]) for p in points(face)[:2])
    assert abs(math.degrees(math.atan2(ry - ly, rx - lx))) < 0.01
    # ... and MTCNN, run again on the aligned crop itself, agrees.
    crop = align_face(rotated, face, output_size=160, margin=0.25, grayscale=False)
    again = mtcnn.detect([crop])[0]
    assert len(again) == 1
    assert abs(eye_angle(again[0])) < 5
    assert abs(points(again[0])[0][1] - ly) < 8  # eyes where the matrix put them


def test_grayscale_rgba_and_exif_inputs(
    mtcnn: MTCNNDetector, astronaut: np.ndarray, tmp_path: Path
) -> None:
    photo = Image.fromarray(astronaut)
    # Grayscale file, and a 2-D array straight into detect().
    gray_path = tmp_path / "gray.jpg"
    photo.convert("L").save(gray_path, quality=90)
    gray = load_image(gray_path)
    assert gray.shape == (512, 512, 3) and np.array_equal(gray[..., 0], gray[..., 2])
    # RGBA PNG: transparent outside a disc around the face, composited on white.
    alpha = Image.new("L", photo.size, 0)
    alpha.paste(255, (100, 0, 350, 300))
    rgba = photo.copy()
    rgba.putalpha(alpha)
    rgba_path = tmp_path / "alpha.png"
    rgba.save(rgba_path)
    rgba_loaded = load_image(rgba_path)
    assert rgba_loaded.shape == (512, 512, 3)
    assert (rgba_loaded[500, 10] == 255).all()
    # EXIF orientation 6 ("rotate 90 clockwise to view") on a sideways-stored, non-square
    # image: the decoded array must be the upright 512x400 picture.
    upright = photo.crop((60, 0, 460, 512))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif_bytes = jpeg_bytes(upright.transpose(Image.Transpose.ROTATE_90), exif=exif)
    exif_loaded = load_image(exif_bytes)
    assert exif_loaded.shape == (512, 400, 3)

    results = mtcnn.detect([gray, cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY), rgba_loaded])
    results += mtcnn.detect([exif_loaded])
    assert [len(r) for r in results] == [1, 1, 1, 1]
    for faces in results[:3]:
        assert iou(faces[0].box, ASTRONAUT_FACE) > 0.5
    assert iou(results[3][0].box, shifted(ASTRONAUT_FACE, dx=-60)) > 0.5


def test_tiny_image_has_no_face(mtcnn: MTCNNDetector, haar: HaarDetector) -> None:
    tiny = np.full((16, 16, 3), 128, np.uint8)
    assert mtcnn.detect([tiny]) == [[]]
    assert haar.detect([tiny]) == [[]]
    assert mtcnn.detect([]) == []


def test_huge_image_is_downscaled_for_detection(
    mtcnn: MTCNNDetector, astronaut: np.ndarray, astronaut_face: Face
) -> None:
    scale = 4000 / 512
    canvas = Image.new("RGB", (6000, 4000), (255, 255, 255))
    canvas.paste(
        Image.fromarray(astronaut).resize((4000, 4000), Image.Resampling.BILINEAR), (1000, 0)
    )
    huge = np.asarray(canvas)
    start = time.perf_counter()
    faces = mtcnn.detect([huge])[0]
    elapsed = time.perf_counter() - start
    assert len(faces) == 1
    expected = shifted(ASTRONAUT_FACE, dx=1000, s=scale)
    assert iou(faces[0].box, expected) > 0.5
    # Same face as in the original, in original pixels (to a few percent).
    assert iou(faces[0].box, shifted(astronaut_face.box, dx=1000, s=scale)) > 0.8
    # Without the downscale, the pyramid over 24 Mpx takes minutes on this CPU.
    assert elapsed < 20, f"{elapsed:.1f} s"
    # The area-reduced alignment of the huge face looks like the original's crop.
    crop = align_face(huge, faces[0]).astype(int)
    reference = align_face(astronaut, astronaut_face).astype(int)
    assert np.abs(crop - reference).mean() < 12


def test_landmark_crop_has_fer2013_framing(astronaut_face: Face) -> None:
    # Eyes level and centred at FER2013's height, mouth at FER2013's distance below them;
    # a margin widens the framing about the crop centre.
    for size, margin in ((48, 0.0), (160, 0.25)):
        matrix = alignment_matrix(astronaut_face, output_size=size, margin=margin)
        pts = np.array([matrix @ np.array([*p, 1.0]) for p in points(astronaut_face)])
        eye, mouth = pts[:2].mean(0), pts[3:].mean(0)
        zoom = 1 + 2 * margin
        half = (size - 1) / 2
        assert eye[0] == pytest.approx(half, abs=1e-6)
        assert eye[1] == pytest.approx(half + (FER_EYE_Y - 0.5) * size / zoom, abs=1e-6)
        assert np.hypot(*(mouth - eye)) == pytest.approx(FER_EYE_TO_MOUTH * size / zoom, rel=1e-6)
    # BlazeFace's six points (mouth centre at index 3) use their own measured template.
    (lx, ly), (rx, ry), nose, mouth_l, mouth_r = points(astronaut_face)
    mouth = ((mouth_l[0] + mouth_r[0]) / 2, (mouth_l[1] + mouth_r[1]) / 2)
    six = Face(
        box=astronaut_face.box,
        score=1.0,
        landmarks=((lx, ly), (rx, ry), nose, mouth, (lx - 20, ly), (rx + 20, ry)),
    )
    eye_y, eye_to_mouth = FER_TEMPLATES[6]
    matrix = alignment_matrix(six, output_size=48)
    pts = np.array([matrix @ np.array([*p, 1.0]) for p in points(six)])
    assert pts[:2].mean(0)[1] == pytest.approx(23.5 + (eye_y - 0.5) * 48, abs=1e-6)
    assert np.hypot(*(pts[3] - pts[:2].mean(0))) == pytest.approx(eye_to_mouth * 48, rel=1e-6)
    # Without landmarks the face box is the crop (Haar).
    boxed = Face(box=astronaut_face.box, score=1.0, landmarks=None)
    matrix = alignment_matrix(boxed, output_size=48)
    x1, y1, x2, y2 = astronaut_face.box
    assert matrix @ np.array([(x1 + x2) / 2, (y1 + y2) / 2, 1.0]) == pytest.approx([23.5, 23.5])


def test_align_face_shapes_and_borders(
    astronaut: np.ndarray, astronaut_face: Face, haar: HaarDetector
) -> None:
    gray = align_face(astronaut, astronaut_face)
    assert gray.shape == (48, 48) and gray.dtype == np.uint8
    color = align_face(astronaut, astronaut_face, output_size=64, grayscale=False)
    assert color.shape == (64, 64, 3) and color.dtype == np.uint8
    haar_face = haar.detect([astronaut])[0][0]
    assert align_face(astronaut, haar_face).shape == (48, 48)
    # A face cut by the image corner: padded, not an error.
    corner = astronaut[100:, 210:]
    corner_face = Face(box=(0.0, 0.0, 60.0, 70.0), score=1.0, landmarks=None)
    assert align_face(corner, corner_face, margin=0.3).shape == (48, 48)


def test_make_detector_and_face_dict(astronaut: np.ndarray) -> None:
    assert isinstance(make_detector("haar"), HaarDetector)
    detector = make_detector("mtcnn", device="cpu", min_score=0.99)
    assert isinstance(detector, MTCNNDetector) and detector.min_score == 0.99
    data = detector.detect([astronaut])[0][0].to_dict()
    assert set(data) == {"box", "score", "landmarks"} and len(data["landmarks"]) == 5
    with pytest.raises(ValueError, match="unknown face detector"):
        make_detector("dlib")


def test_corrupt_and_truncated_files(tmp_path: Path) -> None:
    data = (EXAMPLES / "astronaut.jpg").read_bytes()
    with pytest.raises(ImageDecodeError):
        load_image(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError):
        load_image(b"this is not an image")
    with pytest.raises(ImageDecodeError):
        load_image(data[:20] + bytes(200) + data[220:5000])
    path = tmp_path / "broken.jpg"
    path.write_bytes(data[:3000])
    with pytest.raises(ImageDecodeError):
        load_image(path)
    with pytest.raises(ImageDecodeError, match="more than 1000"):
        load_image(data, max_pixels=1000)
    with pytest.raises(FileNotFoundError):  # a missing file is not a decode error
        load_image(tmp_path / "missing.jpg")


def test_load_image_modes(tmp_path: Path) -> None:
    # 16-bit grayscale: Pillow's own conversion would clip everything above 255 to white.
    ramp = np.linspace(0, 65535, 64 * 8).astype(np.uint16).reshape(8, 64)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    deep = load_image(path)
    assert deep.shape == (8, 64, 3) and deep[0, 0, 0] == 0 and deep[-1, -1, 0] == 255
    assert 120 < deep[4, 0, 0] < 136  # mid-ramp is mid-grey
    # Palette with a transparent index -> white there.
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.info["transparency"] = 1
    buf = io.BytesIO()
    pal.save(buf, format="PNG", transparency=1)
    assert (load_image(buf.getvalue()) == 255).all()
    # CMYK JPEG -> RGB.
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red
    red = load_image(jpeg_bytes(cmyk))
    assert red.shape == (8, 8, 3) and red[4, 4, 0] > 200 and red[4, 4, 1] < 60
