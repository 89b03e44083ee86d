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

#: Extra context on each side, as a fraction of the face box's longer side. MTCNN's boxes run
#: from the eyebrows/hairline to the chin; 0.1 gives FER2013's framing (eyes ~40% from the
#: top, chin near the bottom edge, ears just cut), checked against FER2013 validation images.
DEFAULT_MARGIN = 0.0


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

    It rotates about the box centre so the eyes are level, scales a square of side
    ``max(box w, box h) * (1 + 2 * margin)`` to ``output_size`` and centres it. Exposed so
    callers can map landmarks (or anything else) into the crop.
    """
    cx, cy = face.center
    side = max(face.width, face.height, 1.0) * (1 + 2 * margin)
    scale = output_size / side
    angle = math.radians(eye_angle(face))
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    # Rotating by -angle (image coords) levels the eyes: [[cos, sin], [-sin, cos]].
    half = (output_size - 1) / 2
    return np.array(
        [
            [cos, sin, half - cos * cx - sin * cy],
            [-sin, cos, half + sin * cx - cos * cy],
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
