"""MTCNN face detection (facenet-pytorch's bundled weights) behind the :class:`Face` API.

facenet's own ``MTCNN.detect`` wraps results in NumPy object arrays whose shape depends on
how many faces each image has, and its ``detect_face`` needs equal-size images and spends
most of its CPU time in resampling and NCHW max-pooling. This runs facenet's networks
through :mod:`ml.detection.mtcnn_stages` (the same algorithm, batched over images of any
sizes) and returns plain :class:`Face` records in original-image coordinates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ml.detection.compat import import_facenet_pytorch
from ml.detection.faces import Face
from ml.detection.loading import as_rgb_uint8, downscale
from ml.detection.mtcnn_stages import Nets, Settings, detect_faces

#: Pixels detected together at most: the integral images alone take 12 bytes per pixel.
BATCH_PIXELS = 8_000_000
#: An image queued for detection: its index, the (downscaled) RGB copy and the x/y scales.
_Prepared = tuple[int, np.ndarray, float, float]


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
    ``min_face_size * longer_side / max_side`` pixels. Images are detected together,
    ``max_batch`` at a time to bound memory on large images (an integral image of a
    1600x1200 copy takes 23 MB).
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
        max_batch: int = 16,
    ) -> None:
        facenet = import_facenet_pytorch()

        self.device = resolve_device(device)
        self.min_face_size = int(min_face_size)
        p_net, r_net, o_net = thresholds
        self.thresholds = (float(p_net), float(r_net), float(o_net))
        self.min_score = float(min_score)
        self.max_side = max_side
        self.factor = float(factor)
        self.max_batch = max(1, int(max_batch))
        net = facenet.MTCNN(min_face_size=self.min_face_size, device=self.device).eval()
        # Channels-last: the CPU's NCHW max-pool kernel cost more than all the convolutions.
        self._net = net.to(memory_format=torch.channels_last)
        self._nets = Nets(net.pnet, net.rnet, net.onet)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces in each image (``(H, W, 3)`` uint8 RGB), best score first.

        Images of any sizes are detected together, ``max_batch`` at a time (same-size images
        next to each other, so their pyramid levels share P-Net calls); per image the result
        does not depend on what else is in the batch (up to float rounding).
        """
        results: list[list[Face]] = [[] for _ in images]
        prepared: list[_Prepared] = []
        for i, image in enumerate(images):
            rgb = as_rgb_uint8(image)
            h, w = rgb.shape[:2]
            small, _ = downscale(rgb, self.max_side)
            sh, sw = small.shape[:2]
            # The image pyramid is empty below min_face_size: nothing to detect.
            if min(sh, sw) < self.min_face_size:
                continue
            prepared.append((i, small, sw / w, sh / h))
        prepared.sort(key=lambda member: member[1].shape[:2])
        settings = Settings(self.min_face_size, self.thresholds, self.factor)
        for chunk in self._chunks(prepared):
            found = detect_faces([m[1] for m in chunk], self._nets, settings, self.device)
            for (i, _, sx, sy), faces in zip(chunk, found, strict=True):
                h, w = images[i].shape[:2]
                results[i] = self._to_faces(faces, sx, sy, w, h)
        return results

    def detect_one(self, image: np.ndarray) -> list[Face]:
        """Convenience for a single image."""
        return self.detect([image])[0]

    def _chunks(self, prepared: list[_Prepared]) -> Iterator[list[_Prepared]]:
        """At most ``max_batch`` images and :data:`BATCH_PIXELS` pixels (one image at least)."""
        chunk: list[_Prepared] = []
        pixels = 0
        for member in prepared:
            size = member[1].shape[0] * member[1].shape[1]
            if chunk and (len(chunk) == self.max_batch or pixels + size > BATCH_PIXELS):
                yield chunk
                chunk, pixels = [], 0
            chunk.append(member)
            pixels += size
        if chunk:
            yield chunk

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
