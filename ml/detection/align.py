"""Cut a detected face out as the emotion model expects it: FER2013-like, upright, square.

FER2013 faces are 48x48 grayscale, cropped tightly around the face (forehead to chin, cheeks
to cheeks) with the eyes roughly level. Matching that framing matters more than any detail
of the model: a crop with much more background or a tilted face is out of distribution.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ml.detection.faces import Face
from ml.detection.loading import as_rgb_uint8

#: Extra context on each side, as a fraction of the crop side (0 = FER2013's framing).
DEFAULT_MARGIN = 0.0
#: FER2013's framing, measured: MTCNN run on 253 of 300 random FER2013 validation faces
#: (upscaled 4x; the rest were not found) puts the eye midpoint at 40.0 % of the height
#: (median) and the mouth midpoint 41.6 % of the side below it (inter-ocular distance
#: 38.1 %). With landmarks, the crop reproduces exactly that; the face box alone (MTCNN's,
#: margin 0) gave eyes at 36.6 % and eye-to-mouth 34.9 %: faces ~16 % too small in the
#: crop, with more background than the network ever saw in training.
FER_EYE_Y = 0.400
FER_EYE_TO_MOUTH = 0.416
#: The same framing as each detector's own landmarks see it, keyed by landmark count:
#: MTCNN (5: mouth = corners' midpoint) as above; BlazeFace (6: mouth centre) measured the
#: same way on 291 of the same 300 faces (upscaled to 128 px, padded 64 px): eyes at 39.4 %,
#: mouth centre 38.0 % below. Using MTCNN's numbers with BlazeFace points made faces ~9 %
#: too large (MTCNN's points in those crops: eye-to-mouth 0.437, median of 7 portraits).
FER_TEMPLATES: dict[int, tuple[float, float]] = {
    5: (FER_EYE_Y, FER_EYE_TO_MOUTH),
    6: (0.394, 0.380),
}


def mouth_point(face: Face) -> np.ndarray | None:
    """The mouth's centre from the landmarks, or ``None`` without mouth landmarks.

    MTCNN (five points) gives the two mouth corners: their midpoint; BlazeFace (six) gives
    the mouth centre itself (see :class:`ml.detection.faces.Face`).
    """
    marks = face.landmarks
    if marks is None:
        return None
    if len(marks) == 5:
        return (np.asarray(marks[3], float) + np.asarray(marks[4], float)) / 2
    if len(marks) == 6:
        return np.asarray(marks[3], float)
    return None


def eye_angle(face: Face) -> float:
    """Angle in degrees of the line from the left to the right eye (0 = level, clockwise > 0).

    Positive means the right eye (image right) is lower, in image coordinates (y down).
    Faces without landmarks (Haar) report 0: no rotation information.
    """
    if face.landmarks is None or len(face.landmarks) < 2:
        return 0.0
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def alignment_matrix(
    face: Face, output_size: int = 48, margin: float = DEFAULT_MARGIN
) -> np.ndarray:
    """The 2x3 affine map from image pixels to aligned-crop pixels that :func:`align_face` uses.

    With eye and mouth landmarks (MTCNN, BlazeFace) it is FER2013's framing: eyes levelled,
    the eye midpoint centred horizontally at :data:`FER_EYE_Y` of the height, the mouth
    :data:`FER_EYE_TO_MOUTH` of the side below it (MTCNN; BlazeFace: :data:`FER_TEMPLATES`)
    (eye-to-mouth rather than the eye
    distance sets the scale, so a turned head keeps its size). Without landmarks (Haar) it
    scales a square of side ``max(box w, box h)`` around the box centre. ``margin`` widens
    either framing by ``1 + 2 * margin``. Exposed so callers can map points into the crop.
    """
    angle = math.radians(eye_angle(face))
    zoom = 1 + 2 * margin
    half = (output_size - 1) / 2
    marks, mouth = face.landmarks, mouth_point(face)
    if marks is not None and mouth is not None:
        eye = (np.asarray(marks[0], float) + np.asarray(marks[1], float)) / 2
        eye_y, eye_to_mouth = FER_TEMPLATES[len(marks)]
        span = max(float(np.hypot(*(mouth - eye))), 1.0)
        scale = eye_to_mouth * output_size / (span * zoom)
        (cx, cy), tx, ty = eye, half, half + (eye_y - 0.5) * output_size / zoom
    else:
        (cx, cy), tx, ty = face.center, half, half
        scale = output_size / (max(face.width, face.height, 1.0) * zoom)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    # Rotating by -angle (image coords) levels the eyes: [[cos, sin], [-sin, cos]].
    return np.array(
        [
            [cos, sin, tx - cos * cx - sin * cy],
            [-sin, cos, ty + sin * cx - cos * cy],
        ],
        dtype=np.float64,
    )


def align_face(
    image: np.ndarray,
    face: Face,
    output_size: int = 48,
    margin: float = DEFAULT_MARGIN,
    grayscale: bool = True,
) -> np.ndarray:
    """Aligned square crop of ``face``: uint8 ``(S, S)`` if ``grayscale`` else ``(S, S, 3)``.

    Pixels outside the image are filled by replicating the border (a black band would be a
    feature FER2013 faces never have). When the crop shrinks the face, the region is first
    reduced with area averaging and only then rotated, so a large face does not alias into
    the 48 pixels the way a single bilinear warp would.
    """
    rgb = as_rgb_uint8(image)
    src = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if grayscale else rgb
    matrix = alignment_matrix(face, output_size, margin)
    scale = math.hypot(matrix[0, 0], matrix[0, 1])
    if scale < 1.0:
        src, offset_matrix = _shrunk_region(src, face, output_size, matrix, scale)
        matrix = _compose(matrix, offset_matrix)
    out = cv2.warpAffine(
        src,
        matrix,
        (output_size, output_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.ascontiguousarray(out, dtype=np.uint8)


def _shrunk_region(
    src: np.ndarray, face: Face, output_size: int, matrix: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the source region the crop covers and area-resize it by ``scale``.

    Returns the small region and the affine map from its pixels back to ``src`` pixels.
    """
    h, w = src.shape[:2]
    # Source-space corners of the output square, via the inverse map; pad by 2 px.
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [output_size, 0, 1], [0, output_size, 1]], dtype=np.float64)
    corners = np.vstack([corners, [output_size, output_size, 1]]) @ inverse.T
    x0 = math.floor(corners[:, 0].min()) - 2
    y0 = math.floor(corners[:, 1].min()) - 2
    x1 = math.ceil(corners[:, 0].max()) + 2
    y1 = math.ceil(corners[:, 1].max()) + 2
    region = cv2.copyMakeBorder(
        src[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)],
        max(0, -y0),
        max(0, y1 - h),
        max(0, -x0),
        max(0, x1 - w),
        cv2.BORDER_REPLICATE,
    )
    rh, rw = region.shape[:2]
    size = (max(1, round(rw * scale)), max(1, round(rh * scale)))
    small = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
    fx, fy = size[0] / rw, size[1] / rh
    # cv2.resize maps pixel centres: small = (big + 0.5) * f - 0.5, so big = (small + 0.5) / f
    # - 0.5, then shift by the region origin back into ``src`` coordinates.
    back = np.array(
        [[1 / fx, 0, 0.5 / fx - 0.5 + x0], [0, 1 / fy, 0.5 / fy - 0.5 + y0]], dtype=np.float64
    )
    return small, back


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine ``outer(inner(p))``."""
    a = np.vstack([outer, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]
