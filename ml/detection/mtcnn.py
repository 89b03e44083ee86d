"""MTCNN face detection (facenet-pytorch's bundled weights) behind the :class:`Face` API.

facenet's own ``MTCNN.detect`` wraps results in NumPy object arrays whose shape depends on
how many faces each image has; this calls its ``detect_face`` pipeline directly and returns
plain :class:`Face` records in original-image coordinates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from ml.detection.compat import import_facenet_pytorch
from ml.detection.faces import Face
from ml.detection.loading import as_rgb_uint8, downscale


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` -> CUDA when available, else CPU; anything else as given."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class MTCNNDetector:
    """Three-stage MTCNN (P-, R-, O-Net) with five landmarks per face.

    ``thresholds`` are the per-stage candidate thresholds (facenet's defaults); ``min_score``
    is the final O-Net probability a face must reach to be reported: 0.9 drops many of the
    false positives on textures and animals that the 0.7 stage threshold lets through (not
    all: tiny, 20-pixel "faces" on clothing can still score 0.9-0.95).
    Images whose longer side exceeds ``max_side`` are detected on a downscaled copy (the
    pyramid cost grows with the pixel count), so the smallest face found in such an image is
    ``min_face_size * longer_side / max_side`` pixels. Same-size images are batched together,
    ``max_batch`` at a time, to bound memory on large images.
    """

    name = "mtcnn"

    def __init__(
        self,
        device: str | torch.device | None = "auto",
        min_face_size: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        min_score: float = 0.9,
        max_side: int | None = 1600,
        factor: float = 0.709,
        max_batch: int = 8,
    ) -> None:
        facenet = import_facenet_pytorch()
        from facenet_pytorch.models.utils.detect_face import detect_face

        self.device = resolve_device(device)
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.min_score = float(min_score)
        self.max_side = max_side
        self.factor = float(factor)
        self.max_batch = max(1, int(max_batch))
        net = facenet.MTCNN(min_face_size=self.min_face_size, device=self.device)
        self._net = net.eval()
        self._detect_face = detect_face

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces in each image (``(H, W, 3)`` uint8 RGB), best score first."""
        results: list[list[Face]] = [[] for _ in images]
        groups: dict[tuple[int, int], list[tuple[int, np.ndarray, float, float]]] = defaultdict(
            list
        )
        for i, image in enumerate(images):
            rgb = as_rgb_uint8(image)
            h, w = rgb.shape[:2]
            small, _ = downscale(rgb, self.max_side)
            sh, sw = small.shape[:2]
            # MTCNN's image pyramid is empty below min_face_size (and facenet then crashes).
            if min(sh, sw) < self.min_face_size:
                continue
            groups[(sh, sw)].append((i, small, sw / w, sh / h))
        for members in groups.values():
            for start in range(0, len(members), self.max_batch):
                chunk = members[start : start + self.max_batch]
                batch = np.stack([m[1] for m in chunk])
                for (i, _, sx, sy), faces in zip(chunk, self._run(batch), strict=True):
                    h, w = images[i].shape[:2]
                    results[i] = self._to_faces(faces, sx, sy, w, h)
        return results

    def detect_one(self, image: np.ndarray) -> list[Face]:
        """Convenience for a single image."""
        return self.detect([image])[0]

    def _run(self, batch: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        tensor = torch.from_numpy(batch).to(self.device)
        with torch.inference_mode():
            boxes, points = self._detect_face(
                tensor,
                self.min_face_size,
                self._net.pnet,
                self._net.rnet,
                self._net.onet,
                list(self.thresholds),
                self.factor,
                self.device,
            )
        out = []
        for b, p in zip(boxes, points, strict=True):
            out.append(
                (
                    np.asarray(b, dtype=np.float64).reshape(-1, 5),
                    np.asarray(p, dtype=np.float64).reshape(-1, 5, 2),
                )
            )
        return out

    def _to_faces(
        self, found: tuple[np.ndarray, np.ndarray], sx: float, sy: float, w: int, h: int
    ) -> list[Face]:
        boxes, points = found
        faces = []
        for box, pts in zip(boxes, points, strict=True):
            score = float(box[4])
            if score < self.min_score:
                continue
            x1 = float(min(max(box[0] / sx, 0.0), w))
            y1 = float(min(max(box[1] / sy, 0.0), h))
            x2 = float(min(max(box[2] / sx, 0.0), w))
            y2 = float(min(max(box[3] / sy, 0.0), h))
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            landmarks = tuple((float(x / sx), float(y / sy)) for x, y in pts)
            faces.append(Face(box=(x1, y1, x2, y2), score=score, landmarks=landmarks))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces
