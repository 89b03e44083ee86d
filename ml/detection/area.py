"""Area resampling from an integral image: MTCNN's pyramid levels and face crops, fast.

facenet-pytorch resizes with ``F.interpolate(mode="area")``, i.e. ``adaptive_avg_pool2d``:
output pixel ``i`` averages input rows ``floor(i * H / h)`` to ``ceil((i + 1) * H / h)``
(exclusive). On the CPU that kernel dominated detection: about 15 ms per 640x512 image for the
pyramid (NCHW float, one full pass per level) and a Python-level call per R-/O-Net candidate
(about a hundred per image). The same bins summed from an integral image cost a few gathers
per output pixel whatever the scale, every crop of an image comes out of one vectorised
gather, and the integral is computed once per image for the pyramid and both refinement
stages. Results equal ``interpolate(mode="area")`` up to float rounding (1 ulp).

Tensors here are channels-last, ``(..., H, W, 3)``, the layout the MTCNN networks run in.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

#: Sums of uint8 pixels stay exact in int32 below this many pixels (255 * n < 2**31).
_INT32_PIXELS = (2**31 - 1) // 255


def integral_image(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(H + 1, W + 1, 3)`` sums of ``rgb`` (``(H, W, 3)`` uint8) above and left of each pixel.

    int32 where that is exact, else float64 (exact up to 2**53); on ``device``. On CUDA it is
    computed there, so only the uint8 image crosses the bus.
    """
    h, w = rgb.shape[:2]
    exact32 = h * w <= _INT32_PIXELS
    rgb = np.ascontiguousarray(rgb)
    if device.type == "cpu":
        return torch.from_numpy(cv2.integral(rgb, sdepth=cv2.CV_32S if exact32 else cv2.CV_64F))
    pixels = torch.from_numpy(rgb).to(device)
    return cumsum_integral(pixels, torch.int32 if exact32 else torch.float64)


def cumsum_integral(pixels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """:func:`integral_image` of an ``(H, W, 3)`` tensor with torch ops, on its device."""
    h, w = pixels.shape[:2]
    out = torch.zeros((h + 1, w + 1, 3), dtype=dtype, device=pixels.device)
    out[1:, 1:] = pixels.to(dtype).cumsum(0, dtype=dtype).cumsum(1, dtype=dtype)
    return out


def bins(size_in: int, size_out: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Start (inclusive) and end (exclusive) input index of each of ``size_out`` area bins."""
    i = torch.arange(size_out, device=device)
    return (i * size_in) // size_out, ((i + 1) * size_in + size_out - 1) // size_out


def resize(integral: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The whole image area-resized to ``size`` = ``(h, w)``: float32 ``(h, w, 3)``.

    Separable: row bins are gathered first (whole rows, cheap), then column bins of that.
    """
    height, width = integral.shape[0] - 1, integral.shape[1] - 1
    y0, y1 = bins(height, size[0], integral.device)
    x0, x1 = bins(width, size[1], integral.device)
    rows = integral.index_select(0, y1) - integral.index_select(0, y0)
    sums = rows.index_select(1, x1) - rows.index_select(1, x0)
    counts = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).to(torch.float32)
    return sums.to(torch.float32) / counts[:, :, None]


def crop_resize(integral: torch.Tensor, regions: torch.Tensor, size: int) -> torch.Tensor:
    """Area-resize each region to ``size`` x ``size``: float32 ``(K, size, size, 3)``.

    ``regions`` is ``(K, 4)`` integer ``(top, bottom, left, right)`` with bottom/right
    exclusive, non-empty and inside the image, as ``img[:, top:bottom, left:right]``.
    """
    regions = regions.to(device=integral.device, dtype=torch.int64)
    top, bottom, left, right = regions.unbind(1)
    i = torch.arange(size, device=integral.device)
    rh = (bottom - top)[:, None]
    rw = (right - left)[:, None]
    y0 = top[:, None] + (i * rh) // size
    y1 = top[:, None] + ((i + 1) * rh + size - 1) // size
    x0 = left[:, None] + (i * rw) // size
    x1 = left[:, None] + ((i + 1) * rw + size - 1) // size
    stride = integral.shape[1]
    flat = integral.reshape(-1, 3)

    def at(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        # index_select, not flat[index]: advanced indexing is ~8x slower for this on the CPU.
        index = (rows[:, :, None] * stride + cols[:, None, :]).reshape(-1)
        return flat.index_select(0, index).reshape(len(rows), size, size, 3)

    sums = at(y1, x1) - at(y0, x1) - at(y1, x0) + at(y0, x0)
    counts = ((y1 - y0)[:, :, None] * (x1 - x0)[:, None, :]).to(torch.float32)
    return sums.to(torch.float32) / counts[..., None]
