"""MTCNN's three stages over a batch of images of any sizes, channels-last and vectorised.

This is facenet-pytorch's ``detect_face`` (same networks, thresholds, pyramid, box
regression and NMS, reusing its helpers) reorganised for speed; per image it gives the same
boxes, scores and landmarks up to float rounding. The differences, and why:

* Resampling (pyramid levels, 24x24 and 48x48 candidate crops) comes from one integral image
  per image (:mod:`ml.detection.area`) instead of ``interpolate(mode="area")`` per level and
  a Python loop over candidates; on the CPU those were a third of the detection time.
* The networks run channels-last: the CPU NCHW ``max_pool2d`` kernel alone took more time
  than all the convolutions (R-Net: 21 ms -> 5 ms for 90 candidates).
* Images of different sizes go through one call: P-Net runs per pyramid level on each group
  of same-size images, R-Net and O-Net run once on the candidates of all images. facenet's
  ``detect_face`` needs equal sizes, so different sizes meant separate calls.
* Candidates whose crop is empty (box entirely outside the image) are dropped; facenet skips
  their crop but keeps the box, misaligning every later box with its network output.
* The final "Min" NMS runs per image. facenet's batched version offsets boxes by
  ``image index * (max + 1)``, which lets boxes of neighbouring images overlap when
  coordinates are negative (faces at the top or left border), so one image could suppress a
  face in another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ml.detection import area
from ml.detection.compat import import_facenet_pytorch
from ml.detection.torch_ops import batched_nms

import_facenet_pytorch()  # registers torchvision stand-ins for the next import when needed
from facenet_pytorch.models.utils.detect_face import (  # noqa: E402
    bbreg,
    generateBoundingBox,
    nms_numpy,
    rerec,
)

#: Candidates per R-/O-Net forward pass. facenet uses 512 to bound GPU memory; on the CPU
#: chunks of 64 keep the activations in cache: O-Net costs 0.37 ms per candidate in chunks
#: of 32-64 and 0.74 ms in chunks of 512, R-Net 58 and 62 us (one thread, AVX-512).
NET_CHUNK = {"cpu": 64, "cuda": 512}
#: Input pixels per P-Net call: its first activation is 40 bytes per pixel, so a call stays
#: near 80 MB however many same-size large images a batch holds.
PNET_PIXELS = 2**21


@dataclass(frozen=True)
class Nets:
    """The three networks, already on their device and in channels-last memory format."""

    pnet: torch.nn.Module
    rnet: torch.nn.Module
    onet: torch.nn.Module


@dataclass(frozen=True)
class Settings:
    min_face_size: int
    thresholds: tuple[float, float, float]
    factor: float


def pyramid_scales(height: int, width: int, min_face_size: int, factor: float) -> list[float]:
    """facenet's scale pyramid: from ``12 / min_face_size`` down while the short side >= 12."""
    scale = 12.0 / min_face_size
    short = min(height, width) * scale
    scales = []
    while short >= 12:
        scales.append(scale)
        scale *= factor
        short *= factor
    return scales


def detect_faces(
    images: Sequence[np.ndarray], nets: Nets, settings: Settings, device: torch.device
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per image, ``boxes`` ``(n, 5)`` (x1, y1, x2, y2, score) and ``points`` ``(n, 5, 2)``.

    ``images`` are ``(H, W, 3)`` uint8 RGB of any sizes; coordinates are in their pixels.
    """
    if not images:
        return []
    with torch.inference_mode():
        integrals = [area.integral_image(image, device) for image in images]
        sizes = torch.tensor([image.shape[:2] for image in images], device=device)
        boxes, owners = _propose(images, integrals, nets.pnet, settings, device)
        boxes, owners = _refine(integrals, sizes, boxes, owners, nets.rnet, settings)
        boxes, points, owners = _output(integrals, sizes, boxes, owners, nets.onet, settings)
        return _per_image(len(images), boxes, points, owners)


def _propose(
    images: Sequence[np.ndarray],
    integrals: Sequence[torch.Tensor],
    pnet: torch.nn.Module,
    settings: Settings,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 1: P-Net over each pyramid level, NMS per level and then per image."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, image in enumerate(images):
        groups[image.shape[:2]].append(index)
    found_boxes, found_owners = [], []
    for (height, width), same_size in groups.items():
        scales = pyramid_scales(height, width, settings.min_face_size, settings.factor)
        if not scales:
            continue
        largest = int(height * scales[0] + 1) * int(width * scales[0] + 1)
        per_call = max(1, PNET_PIXELS // largest)
        for start in range(0, len(same_size), per_call):
            members = same_size[start : start + per_call]
            owner_of = torch.tensor(members, device=device)
            for scale in scales:
                size = (int(height * scale + 1), int(width * scale + 1))
                level = torch.stack([area.resize(integrals[i], size) for i in members])
                level = (level - 127.5) * 0.0078125
                reg, probs = pnet(level.permute(0, 3, 1, 2))
                boxes, local = generateBoundingBox(reg, probs[:, 1], scale, settings.thresholds[0])
                pick = batched_nms(boxes[:, :4], boxes[:, 4], local, 0.5)
                found_boxes.append(boxes[pick])
                found_owners.append(owner_of[local[pick]])
    if not found_boxes:  # every image below min_face_size: no pyramid level at all
        return torch.zeros((0, 5), device=device), torch.zeros(0, dtype=torch.int64, device=device)
    boxes = torch.cat(found_boxes)
    owners = torch.cat(found_owners)
    pick = batched_nms(boxes[:, :4], boxes[:, 4], owners, 0.7)
    boxes, owners = boxes[pick], owners[pick]
    regw = boxes[:, 2] - boxes[:, 0]
    regh = boxes[:, 3] - boxes[:, 1]
    qq1 = boxes[:, 0] + boxes[:, 5] * regw
    qq2 = boxes[:, 1] + boxes[:, 6] * regh
    qq3 = boxes[:, 2] + boxes[:, 7] * regw
    qq4 = boxes[:, 3] + boxes[:, 8] * regh
    boxes = torch.stack([qq1, qq2, qq3, qq4, boxes[:, 4]]).permute(1, 0)
    return rerec(boxes), owners


def _refine(
    integrals: Sequence[torch.Tensor],
    sizes: torch.Tensor,
    boxes: torch.Tensor,
    owners: torch.Tensor,
    rnet: torch.nn.Module,
    settings: Settings,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 2: R-Net on 24x24 crops of every candidate, threshold, NMS, regression."""
    crops, keep = _crops(integrals, sizes, boxes, owners, 24)
    if crops is None:
        return boxes[:0], owners[:0]
    boxes, owners = boxes[keep], owners[keep]
    reg, probs = _run_chunked(rnet, crops)
    score = probs[:, 1]
    passed = score > settings.thresholds[1]
    boxes = torch.cat((boxes[passed, :4], score[passed].unsqueeze(1)), dim=1)
    owners, reg = owners[passed], reg[passed]
    pick = batched_nms(boxes[:, :4], boxes[:, 4], owners, 0.7)
    boxes, owners, reg = boxes[pick], owners[pick], reg[pick]
    return rerec(bbreg(boxes, reg)), owners


def _output(
    integrals: Sequence[torch.Tensor],
    sizes: torch.Tensor,
    boxes: torch.Tensor,
    owners: torch.Tensor,
    onet: torch.nn.Module,
    settings: Settings,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage 3: O-Net on 48x48 crops: final scores, box regression and five landmarks."""
    no_points = torch.zeros((0, 5, 2), device=boxes.device)
    crops, keep = _crops(integrals, sizes, boxes, owners, 48)
    if crops is None:
        return boxes[:0], no_points, owners[:0]
    boxes, owners = boxes[keep], owners[keep]
    reg, landmarks, probs = _run_chunked(onet, crops)
    score = probs[:, 1]
    passed = score > settings.thresholds[2]
    landmarks = landmarks[passed]
    boxes = torch.cat((boxes[passed, :4], score[passed].unsqueeze(1)), dim=1)
    owners, reg = owners[passed], reg[passed]
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    points_x = w * landmarks[:, :5] + boxes[:, 0:1] - 1
    points_y = h * landmarks[:, 5:10] + boxes[:, 1:2] - 1
    points = torch.stack((points_x, points_y), dim=2)
    return bbreg(boxes, reg), points, owners


def _crops(
    integrals: Sequence[torch.Tensor],
    sizes: torch.Tensor,
    boxes: torch.Tensor,
    owners: torch.Tensor,
    size: int,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Normalised NCHW (channels-last) crops of the non-empty boxes, and which boxes those are.

    Boxes are truncated to integers and clipped to the image as facenet's ``pad`` does (the
    part outside is cut off, not padded), then the crop is area-resized to ``size``.
    """
    if len(boxes) == 0:
        return None, torch.zeros(0, dtype=torch.bool, device=boxes.device)
    corners = boxes[:, :4].trunc().to(torch.int64)
    height, width = sizes[owners, 0], sizes[owners, 1]
    top = corners[:, 1].clamp(min=1) - 1
    left = corners[:, 0].clamp(min=1) - 1
    bottom = torch.minimum(corners[:, 3], height)
    right = torch.minimum(corners[:, 2], width)
    keep = (bottom > top) & (right > left)
    regions = torch.stack([top, bottom, left, right], dim=1)
    indices = keep.nonzero().squeeze(1)
    if len(indices) == 0:
        return None, keep
    out = torch.empty((len(indices), size, size, 3), device=boxes.device)
    kept_owners = owners[indices]
    for owner in kept_owners.unique().tolist():
        rows = (kept_owners == owner).nonzero().squeeze(1)
        out[rows] = area.crop_resize(integrals[owner], regions[indices[rows]], size)
    return ((out - 127.5) * 0.0078125).permute(0, 3, 1, 2), keep


def _run_chunked(net: torch.nn.Module, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
    chunk = NET_CHUNK.get(crops.device.type, 64)
    parts = [net(crops[i : i + chunk]) for i in range(0, len(crops), chunk)]
    return tuple(torch.cat(outputs) for outputs in zip(*parts, strict=True))


def _per_image(
    count: int, boxes: torch.Tensor, points: torch.Tensor, owners: torch.Tensor
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split by image and apply facenet's final "Min" NMS to each image on its own."""
    boxes_np = boxes.cpu().numpy()
    points_np = points.cpu().numpy()
    owners_np = owners.cpu().numpy()
    out = []
    for index in range(count):
        mine = np.flatnonzero(owners_np == index)
        if len(mine):
            pick = nms_numpy(boxes_np[mine, :4], boxes_np[mine, 4], 0.7, "Min")
            mine = mine[pick]
        out.append((boxes_np[mine].copy(), points_np[mine].copy()))
    return out
