"""OpenCV Haar-cascade face detection: the light fallback when torch/MTCNN is unwanted.

Frontal faces only, no landmarks (so no rotation in alignment) and no calibrated confidence:
every face reports ``score`` 1.0. Faces are ordered by the cascade's last-stage weight, the
closest thing it has to a confidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ml.detection.faces import Face
from ml.detection.loading import as_rgb_uint8, downscale

CASCADE_FILE = "haarcascade_frontalface_default.xml"


class HaarDetector:
    """``cv2.CascadeClassifier`` with the frontal-face default cascade shipped in opencv.

    ``device`` is accepted for API symmetry with :class:`MTCNNDetector` and ignored (OpenCV
    runs on the CPU). ``min_neighbors`` 5 and ``scale_factor`` 1.1 are OpenCV's usual
    trade-off between recall and duplicate/false boxes. The classifier object is not
    thread-safe, so use one detector per thread.
    """

    name = "haar"

    def __init__(
        self,
        device: object = None,
        min_face_size: int = 20,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        max_side: int | None = 1600,
    ) -> None:
        del device
        # cv2.data exists at run time (opencv-python's data files); OpenCV's stubs omit it.
        path = cv2.data.haarcascades + CASCADE_FILE  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"cannot load Haar cascade {path}")
        self.min_face_size = int(min_face_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.max_side = max_side

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces in each image (``(H, W, 3)`` uint8 RGB), strongest first."""
        return [self.detect_one(image) for image in images]

    def detect_one(self, image: np.ndarray) -> list[Face]:
        rgb = as_rgb_uint8(image)
        h, w = rgb.shape[:2]
        small, _ = downscale(rgb, self.max_side)
        sh, sw = small.shape[:2]
        if min(sh, sw) < self.min_face_size:
            return []
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        rects, _, weights = self._cascade.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_face_size, self.min_face_size),
            outputRejectLevels=True,
        )
        sx, sy = sw / w, sh / h
        found = []
        for (x, y, bw, bh), weight in zip(rects, np.ravel(weights), strict=True):
            box = (
                float(max(x / sx, 0.0)),
                float(max(y / sy, 0.0)),
                float(min((x + bw) / sx, w)),
                float(min((y + bh) / sy, h)),
            )
            found.append((float(weight), Face(box=box, score=1.0, landmarks=None)))
        found.sort(key=lambda item: item[0], reverse=True)
        return [face for _, face in found]
