"""BlazeFace's anchors, box/keypoint decoding and weighted NMS (MediaPipe's blending).

The networks predict, per anchor, a face logit and 16 numbers: box centre offset and size
and six keypoints (x, y), in input pixels relative to the anchor centre. These functions
follow MediaPipe's ``SsdAnchorsCalculator`` (fixed anchor size 1, offset 0.5) and
``TensorsToDetectionsCalculator`` (scale = input size, logits clipped to +-100), and
``NonMaxSuppressionCalculator`` in its ``WEIGHTED`` mode: every box overlapping the best
remaining one by IoU above the threshold is averaged into it, weighted by score, which
steadies boxes and keypoints rather than just dropping the neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: MediaPipe's anchor layouts: per model, the input side and the SSD layers' strides.
ANCHOR_STRIDES = {"short_range": (128, (8, 16, 16, 16)), "full_range": (192, (4,))}
#: short_range uses interpolated_scale_aspect_ratio 1.0 (two anchors per layer and cell),
#: full_range 0.0 (one).
ANCHORS_PER_LAYER = {"short_range": 2, "full_range": 1}
RAW_SCORE_LIMIT = 100.0


def anchors(model: str) -> np.ndarray:
    """``(A, 2)`` anchor centres ``(x, y)`` in [0, 1] of the input, in the networks' order."""
    size, strides = ANCHOR_STRIDES[model]
    out = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        repeats = ANCHORS_PER_LAYER[model] * (same - layer)
        cells = size // strides[layer]
        centres = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, repeats, axis=0))
        layer = same
    return np.concatenate(out).astype(np.float32)


@dataclass(frozen=True)
class Detections:
    """Faces in one network input, coordinates as fractions of that input's side."""

    boxes: np.ndarray  # (n, 4) x1, y1, x2, y2
    scores: np.ndarray  # (n,)
    keypoints: np.ndarray  # (n, 6, 2)


def decode(
    regressors: torch.Tensor, logits: torch.Tensor, anchor_xy: torch.Tensor, input_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch decode: ``boxes (N, A, 4)``, ``scores (N, A)``, ``keypoints (N, A, 6, 2)``."""
    raw = regressors.reshape(regressors.shape[0], regressors.shape[1], 8, 2) / input_size
    centre = raw[:, :, 0] + anchor_xy
    half = raw[:, :, 1] / 2
    boxes = torch.cat([centre - half, centre + half], dim=2)
    keypoints = raw[:, :, 2:] + anchor_xy[:, None, :]
    scores = torch.sigmoid(logits[..., 0].clamp(-RAW_SCORE_LIMIT, RAW_SCORE_LIMIT))
    return boxes, scores, keypoints


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(n, 4)`` and ``(m, 4)`` x1, y1, x2, y2 boxes (0 for empty unions)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, iou_threshold: float = 0.3
) -> Detections:
    """MediaPipe's weighted NMS over candidates already above the score threshold.

    Repeatedly: take the best remaining candidate, gather every remaining one whose IoU with
    it exceeds ``iou_threshold`` (itself included), output their score-weighted mean box and
    keypoints with the best one's score, and drop them all.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    remaining = np.arange(len(scores))
    out_boxes, out_scores, out_points = [], [], []
    overlaps = iou_matrix(boxes, boxes) if len(boxes) else np.zeros((0, 0))
    while len(remaining):
        best = remaining[0]
        similar = overlaps[best, remaining] > iou_threshold
        similar[0] = True
        members = remaining[similar]
        weights = scores[members][:, None]
        total = weights.sum()
        out_boxes.append((boxes[members] * weights).sum(0) / total)
        out_points.append((keypoints[members] * weights[:, :, None]).sum(0) / total)
        out_scores.append(scores[best])
        remaining = remaining[~similar]
    if not out_scores:
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2)))
    return Detections(np.stack(out_boxes), np.array(out_scores), np.stack(out_points))
