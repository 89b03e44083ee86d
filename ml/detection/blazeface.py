"""BlazeFace face detection (MediaPipe's full- and short-range models, our PyTorch port).

One detection call renders every image into a few fixed-size square *views* and runs all
views of all images through the networks together, so a batch costs a handful of large
forward passes rather than a pyramid per image:

* ``whole``: the image letterboxed (black bars) into the full-range model's 192x192 input.
  The model finds faces from about 12 to 160 input pixels, i.e. from ~6% to ~80% of the
  image's longer side.
* ``close``: the image letterboxed into the short-range model's 128x128 input. That model is
  trained on faces filling a selfie frame and finds faces up to the whole frame, which the
  full-range model scores poorly past ~80%: close-ups, passport photos, face crops. Only
  images where the full-range views found no face, or one over half the frame, take it.
* ``tiles``: when the whole view cannot reach ``min_face_size`` (images longer than
  ``16 * min_face_size`` pixels), overlapping square tiles of ``12 * min_face_size`` pixels
  go through the full-range model too; tiles overlap by the smallest face the whole view
  finds, so every face is wholly inside at least one view that can find it. As MTCNN's
  ``max_side``, images longer than ``max_side`` are tiled as if downscaled to it: the
  smallest face sought grows with them, so a 24-megapixel photo costs a few tiles, not 40.

Candidates above ``min_score`` are merged per view and then per image with MediaPipe's
weighted NMS. Faces carry BlazeFace's six keypoints, eyes first, so the existing
eye-based alignment levels them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ml.detection.blazeface_decode import anchors, decode, weighted_nms
from ml.detection.blazeface_net import BlazeFaceNet, load_blazeface
from ml.detection.faces import Face
from ml.detection.loading import as_rgb_uint8
from ml.detection.mtcnn import resolve_device

#: Smallest face (input pixels) the full-range model finds (scores 0.5-0.65 on real faces):
#: decides whether the whole view reaches ``min_face_size``.
FULL_RANGE_MIN_FACE = 12
#: Face size (input pixels) a tile is sized to give a face of ``min_face_size`` (scores
#: 0.85+ on real faces), so faces near the limit are not left to chance.
TILE_FACE = 16
#: A face at least this fraction of the image's longer side sends the image through the
#: short-range model too (the full-range model's scores fall off past ~0.65).
CLOSE_UP_FRACTION = 0.5
#: Views per forward pass. On the CPU small chunks keep a chunk's activations in cache (the
#: first full-range layers hold 1.2 MB per view): measured per view on one thread, chunks of
#: 4 cost 30-54 ms, of 32 62-67 ms, of 1 39-76 ms (loaded 2-core VM, two runs). On CUDA
#: large chunks fill the device.
VIEWS_PER_PASS = {"cpu": 4, "cuda": 256}


@dataclass(frozen=True)
class View:
    """A square region of one image (may extend past its borders) rendered for a model.

    ``origin`` and ``step`` map the rendered input back: image ``x = origin_x + u * step_x``
    for input pixel coordinate ``u`` (continuous, edges at integers).
    """

    image: int
    model: str
    origin: tuple[float, float]
    step: tuple[float, float]


class BlazeFaceDetector:
    """BlazeFace over whole-image, close-up and (for large images) tiled views.

    ``min_score`` is the face probability a detection must reach (MediaPipe uses 0.5);
    ``min_face_size`` (pixels, of the image downscaled to ``max_side`` when longer) is the
    smallest face large images are tiled for: smaller faces are only found when the whole
    view happens to reach them. When that would take more than ``max_tiles`` tiles, the
    tiles grow until it does not (the smallest face sought grows with them).
    ``close_up=False`` drops the short-range pass (faster; faces over ~80% of the frame are
    then missed).
    """

    name = "blazeface"

    def __init__(
        self,
        device: str | torch.device | None = "auto",
        min_score: float = 0.5,
        iou_threshold: float = 0.3,
        min_face_size: int = 40,
        close_up: bool = True,
        max_side: int | None = 1600,
        max_tiles: int = 64,
    ) -> None:
        self.device = resolve_device(device)
        self.min_score = float(min_score)
        self.iou_threshold = float(iou_threshold)
        self.min_face_size = max(1, int(min_face_size))
        self.close_up = bool(close_up)
        self.max_side = max_side
        self.max_tiles = int(max_tiles)
        models = ("full_range", "short_range") if self.close_up else ("full_range",)
        self._nets: dict[str, BlazeFaceNet] = {}
        self._anchors: dict[str, torch.Tensor] = {}
        for model in models:
            net = load_blazeface(model, self.device)
            # Channels-last: mkldnn's depthwise kernels and the GEMM pointwise path want it.
            # (Module.to takes memory_format; the torch stubs lack that overload.)
            self._nets[model] = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self._anchors[model] = torch.from_numpy(anchors(model)).to(self.device)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces in each image (``(H, W, 3)`` uint8 RGB), best score first.

        First the full-range views of every image, batched; then the close-up view of the
        images that need it, batched too.
        """
        rgbs = [as_rgb_uint8(image) for image in images]
        found: list[list[tuple[np.ndarray, ...]]] = [[] for _ in rgbs]
        requests = [
            (index, "full_range", region)
            for index, rgb in enumerate(rgbs)
            for region in self._regions(rgb.shape[0], rgb.shape[1])
        ]
        self._detect_views(rgbs, requests, found)
        if self.close_up:
            requests = [
                (index, "short_range", self._regions(rgb.shape[0], rgb.shape[1])[0])
                for index, rgb in enumerate(rgbs)
                if self._needs_close_up(found[index], max(rgb.shape[:2]))
            ]
            self._detect_views(rgbs, requests, found)
        return [self._faces(parts, rgb.shape) for parts, rgb in zip(found, rgbs, strict=True)]

    def _needs_close_up(self, parts: list[tuple[np.ndarray, ...]], side: int) -> bool:
        """Whether the short-range model should look too: the full-range model found no
        face, or one over :data:`CLOSE_UP_FRACTION` of the frame, where it is unreliable.
        Images whose faces are all smaller skip it (a third of the network time)."""
        boxes = [box for part in parts for box in part[0]]
        if not boxes:
            return True
        largest = max(max(b[2] - b[0], b[3] - b[1]) for b in boxes)
        return largest >= CLOSE_UP_FRACTION * side

    def _detect_views(
        self,
        rgbs: list[np.ndarray],
        requests: list[tuple[int, str, tuple[float, float, float]]],
        found: list[list[tuple[np.ndarray, ...]]],
    ) -> None:
        """Render, run and map back ``(image, model, (x0, y0, side))`` views, in batches."""
        if not requests:
            return
        model = requests[0][1]
        size = self._nets[model].input_size
        rendered = [
            render(rgbs[index], index, model, *region, size) for index, _, region in requests
        ]
        outputs = self._run(model, [pixels for pixels, _ in rendered])
        for (_, view), detections in zip(rendered, outputs, strict=True):
            found[view.image].append(_to_image(detections, view))

    def detect_one(self, image: np.ndarray) -> list[Face]:
        return self.detect([image])[0]

    def _regions(self, height: int, width: int) -> list[tuple[float, float, float]]:
        """``(x0, y0, side)`` of the full-range views of a ``height`` x ``width`` image: the
        letterboxed whole image first, then the tiles if any."""
        side = float(max(height, width))
        regions = [((width - side) / 2, (height - side) / 2, side)]
        size = self._nets["full_range"].input_size
        smallest = FULL_RANGE_MIN_FACE * side / size
        wanted = float(self.min_face_size)
        if self.max_side is not None and side > self.max_side:
            wanted *= side / self.max_side
        if smallest > wanted:
            tile = min(side, wanted * size / TILE_FACE)
            while True:
                overlap = min(smallest, tile / 2)
                xs = _starts(width, tile, overlap)
                ys = _starts(height, tile, overlap)
                if len(xs) * len(ys) <= self.max_tiles or tile >= side:
                    break
                tile = min(side, tile * 1.25)  # too many tiles: look for larger faces
            regions += [(x, y, tile) for y in ys for x in xs]
        return regions

    def _run(self, model: str, inputs: list[np.ndarray]) -> list[tuple[np.ndarray, ...]]:
        """Per view: candidates ``(boxes, scores, keypoints)`` after weighted NMS."""
        net, anchor_xy = self._nets[model], self._anchors[model]
        chunk = VIEWS_PER_PASS.get(self.device.type, 32)
        out: list[tuple[np.ndarray, ...]] = []
        with torch.inference_mode():
            for start in range(0, len(inputs), chunk):
                batch = torch.from_numpy(np.stack(inputs[start : start + chunk]))
                x = batch.to(self.device).permute(0, 3, 1, 2).float()
                x = (x / 127.5 - 1.0).contiguous(memory_format=torch.channels_last)
                regressors, logits = net(x)
                boxes, scores, keypoints = decode(regressors, logits, anchor_xy, net.input_size)
                keep = scores >= self.min_score
                counts = keep.sum(1).tolist()
                kept_boxes, kept_scores, kept_points = (
                    t[keep].cpu().numpy() for t in (boxes, scores, keypoints)
                )
                offsets = np.cumsum([0, *counts])
                for i in range(len(counts)):
                    part = slice(offsets[i], offsets[i + 1])
                    merged = weighted_nms(
                        kept_boxes[part], kept_scores[part], kept_points[part], self.iou_threshold
                    )
                    out.append(
                        (
                            merged.boxes * net.input_size,
                            merged.scores,
                            merged.keypoints * net.input_size,
                        )
                    )
        return out

    def _faces(self, parts: list[tuple[np.ndarray, ...]], shape: tuple[int, ...]) -> list[Face]:
        boxes = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 4))
        if not len(boxes):
            return []
        scores = np.concatenate([p[1] for p in parts])
        keypoints = np.concatenate([p[2] for p in parts])
        merged = weighted_nms(boxes, scores, keypoints, self.iou_threshold)
        height, width = shape[:2]
        faces = []
        for box, score, points in zip(merged.boxes, merged.scores, merged.keypoints, strict=True):
            x1, x2 = (float(np.clip(v, 0, width)) for v in (box[0], box[2]))
            y1, y2 = (float(np.clip(v, 0, height)) for v in (box[1], box[3]))
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            landmarks = tuple((float(x), float(y)) for x, y in points)
            faces.append(Face(box=(x1, y1, x2, y2), score=float(score), landmarks=landmarks))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces


def _starts(length: int, tile: float, overlap: float) -> list[float]:
    """Evenly spaced tile origins covering ``[0, length)`` with at least ``overlap``."""
    if length <= tile:
        return [(length - tile) / 2]
    count = math.ceil((length - overlap) / (tile - overlap))
    step = (length - tile) / (count - 1) if count > 1 else 0.0
    return [i * step for i in range(count)]


def render(
    rgb: np.ndarray, index: int, model: str, x0: float, y0: float, side: float, size: int
) -> tuple[np.ndarray, View]:
    """The square ``(x0, y0, side)`` of ``rgb`` as a ``size`` x ``size`` uint8 input.

    Parts outside the image are black, as MediaPipe letterboxes. Shrinking uses area
    averaging (a 2560-pixel photo into 192 pixels would alias with bilinear sampling).
    """
    height, width = rgb.shape[:2]
    scale = size / side
    ix0, iy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
    ix1, iy1 = min(width, math.ceil(x0 + side)), min(height, math.ceil(y0 + side))
    out_w = max(1, min(size, round((ix1 - ix0) * scale)))
    out_h = max(1, min(size, round((iy1 - iy0) * scale)))
    ox = min(size - out_w, max(0, round((ix0 - x0) * scale)))
    oy = min(size - out_h, max(0, round((iy0 - y0) * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    region = cv2.resize(rgb[iy0:iy1, ix0:ix1], (out_w, out_h), interpolation=interpolation)
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[oy : oy + out_h, ox : ox + out_w] = region
    step = ((ix1 - ix0) / out_w, (iy1 - iy0) / out_h)
    origin = (ix0 - ox * step[0], iy0 - oy * step[1])
    return canvas, View(index, model, origin, step)


def _to_image(detections: tuple[np.ndarray, ...], view: View) -> tuple[np.ndarray, ...]:
    """Input-pixel boxes and keypoints of one view in its image's pixel coordinates."""
    boxes, scores, keypoints = detections
    step = np.array(view.step)
    origin = np.array(view.origin)
    boxes = boxes * np.tile(step, 2) + np.tile(origin, 2)
    keypoints = keypoints * step + origin
    return boxes, scores, keypoints
