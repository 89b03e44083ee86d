"""The detector-independent face record shared by the BlazeFace, MTCNN and Haar back ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

Point = tuple[float, float]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Face:
    """One detected face, in the pixel coordinates of the image given to ``detect``.

    ``box`` is ``(x1, y1, x2, y2)``, clipped to the image. ``score`` is the detector's
    confidence (BlazeFace: face probability; MTCNN: O-Net face probability; Haar has none and
    reports 1.0). ``landmarks`` always start with the two eyes, the image's left one first
    (the person's right): MTCNN's five points are left eye, right eye, nose, mouth left,
    mouth right; BlazeFace's six are left eye, right eye, nose tip, mouth centre, left and
    right ear tragion; ``None`` for Haar.
    Frozen so results can be cached, hashed and shared between threads safely.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[Point, ...] | None = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center(self) -> Point:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (rounded to 0.1 px), for analyzer results."""
        return {
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": None
            if self.landmarks is None
            else [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
        }


class FaceDetector(Protocol):
    """What analyzers rely on: BlazeFace, MTCNN and Haar all satisfy it."""

    name: str

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces per image, in that image's pixel coordinates, best first."""
        ...
