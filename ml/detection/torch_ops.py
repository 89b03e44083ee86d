"""Pure-torch versions of the two torchvision ops facenet-pytorch's MTCNN uses.

facenet-pytorch imports exactly ``torchvision.ops.boxes.batched_nms`` and
``torchvision.transforms.functional.to_tensor`` (in ``models/utils/detect_face.py``). No
torchvision build matches the torch installed here, so these re-implement the documented
torchvision semantics in plain torch; :mod:`ml.detection.compat` wires them in only when a real
torchvision is missing.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

#: Upper bound on IoU-matrix elements computed at once, so NMS over tens of thousands of
#: P-Net candidates (large images, small ``min_face_size``) stays within a few tens of MB.
_MAX_IOU_ELEMENTS = 4_000_000


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of ``(N, 4)`` x1,y1,x2,y2 boxes (no +1: continuous coordinates, as torchvision)."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU ``(N, M)``; 0/0 for degenerate pairs gives NaN, which never suppresses."""
    area1 = box_area(boxes1)
    area2 = box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2[None, :] - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS as ``torchvision.ops.nms``: indices of kept boxes by decreasing score.

    A box is dropped when its IoU with an already kept, higher-scored box is strictly greater
    than ``iou_threshold``. Equal scores keep their input order (stable sort), like
    torchvision's CPU kernel. The IoU matrix is built in row blocks (upper triangle only) so
    memory stays bounded; the sequential greedy pass then runs over a boolean matrix.
    """
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    ordered = boxes[order]
    n = ordered.shape[0]
    suppressed = np.zeros(n, dtype=bool)
    block = max(1, _MAX_IOU_ELEMENTS // n)
    for start in range(0, n, block):
        stop = min(n, start + block)
        # Row r (box start + r) against boxes start .. n-1; only later (lower-scored) boxes
        # can be suppressed by it, hence the strict upper triangle.
        over = box_iou(ordered[start:stop], ordered[start:]) > iou_threshold
        later = torch.triu(over, diagonal=1).cpu().numpy()
        for r in range(stop - start):
            if not suppressed[start + r]:
                suppressed[start:] |= later[r]
    keep = torch.from_numpy(np.flatnonzero(~suppressed)).to(order.device)
    return order[keep]


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """NMS independently per category ``idxs``, as ``torchvision.ops.batched_nms``.

    Each category gets its own :func:`nms` call rather than torchvision's coordinate-offset
    trick (one NMS over all boxes shifted apart by category): the IoU matrix is quadratic in
    the boxes of one call, so MTCNN's candidates of a 16-image batch cost 16 times the
    per-image work in a single call. Separate calls also need no offsets, which cost float
    precision far from the origin and, with torchvision's ``max + 1`` stride, let
    categories overlap when coordinates are negative (MTCNN's boxes near image borders).
    Returns int64 indices sorted by decreasing score, ties in input order.
    """
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    categories = idxs.unique()
    if len(categories) == 1:
        return nms(boxes, scores, iou_threshold)
    kept = []
    for category in categories:
        members = (idxs == category).nonzero().squeeze(1)
        kept.append(members[nms(boxes[members], scores[members], iou_threshold)])
    keep = torch.cat(kept).sort().values  # input order, so that ties stay in it below
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


def to_tensor(pic: Image.Image | np.ndarray) -> torch.Tensor:
    """``torchvision.transforms.functional.to_tensor``: HWC image -> CHW float tensor.

    uint8 input is scaled to [0, 1]; other dtypes keep their values (facenet passes float32
    crops and relies on that). Grayscale ``(H, W)`` arrays gain a channel axis.
    """
    if isinstance(pic, Image.Image):
        arr = np.array(pic, dtype=np.uint8 if pic.mode == "1" else None, copy=True)
        if pic.mode == "1":
            arr = arr * 255
    elif isinstance(pic, np.ndarray):
        arr = pic
    else:
        raise TypeError(f"pic should be a PIL Image or ndarray, got {type(pic).__name__}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"pic should be 2 or 3 dimensional, got {arr.ndim} dimensions")
    tensor = torch.from_numpy(np.ascontiguousarray(arr.transpose((2, 0, 1)))).contiguous()
    if tensor.dtype == torch.uint8:
        return tensor.to(dtype=torch.get_default_dtype()).div(255)
    return tensor
