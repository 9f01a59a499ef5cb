"""Point-set representation (RepPoints style) used by SC-RPN's point-based proposals.

Conventions, shared by every module that touches points:

* **Locations.** Feature location (row r, col c) of a level with stride s sits at image pixel
  ``(x, y) = ((c + center_offset) * s, (r + center_offset) * s)`` with ``center_offset = 0`` by
  default, as mmdetection v2+'s anchor generator and RepPoints' point generator. Locations are
  enumerated row-major (x fastest), i.e. index ``r * W + c``, which is the order of a conv output
  ``(B, C, H, W).permute(0, 2, 3, 1).reshape(B, H * W, C)``.
* **Offsets.** A head predicts ``(B, 2 * P, H, W)`` raw offsets (P = 9) with channel layout
  ``(dy0, dx0, dy1, dx1, ..., dy8, dx8)``: **y first**. This is the layout of the ``offset``
  argument of ``torchvision.ops.deform_conv2d`` (and of mmcv's DeformConv2d), so predicted points
  can drive a deformable convolution directly. torchvision's documentation only states the shape
  ``(B, 2 * offset_groups * kh * kw, H, W)``; we checked the order empirically (see
  ``tests/test_points.py``): channel ``2k`` moves kernel tap ``k`` along y, channel ``2k + 1`` along
  x, and taps are numbered row-major over the kernel (k = ky * kw + kx). RepPoints' code reads its
  point offsets with the same (y, x) order.
* **Units.** Offsets are in feature cells of their level, so in image pixels a point is
  ``center + stride * (dx, dy)``.
* **Points.** Decoded points are ``(N, P, 2)`` in ``(x, y)`` image pixels.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

__all__ = [
    "grid_points",
    "offsets_to_points",
    "points_to_offsets",
    "points_to_boxes",
    "dcn_base_offsets",
    "flatten_level_maps",
]


def grid_points(featmap_sizes: Sequence[tuple[int, int]], strides: Sequence[int],
                device: torch.device | str | None = None, center_offset: float = 0.0) -> list[Tensor]:
    """Image coordinates of every feature location, per level.

    Args:
        featmap_sizes: (H, W) of each level.
        strides: stride of each level (same length).
        center_offset: location of the point inside its cell, in cells (0 = top-left corner).

    Returns:
        list of (H * W, 2) float32 tensors of (x, y), row-major over the map.
    """
    if len(featmap_sizes) != len(strides):
        raise ValueError(f"{len(featmap_sizes)} feature map sizes but {len(strides)} strides")
    points = []
    for (height, width), stride in zip(featmap_sizes, strides):
        xs = (torch.arange(int(width), dtype=torch.float32, device=device) + center_offset) * stride
        ys = (torch.arange(int(height), dtype=torch.float32, device=device) + center_offset) * stride
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
        points.append(torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1))  # (H*W, 2)
    return points


def _stride_as_tensor(stride: Tensor | float, like: Tensor) -> Tensor:
    """Stride broadcastable against (N, P, 2): a scalar stays 0-d, an (N,) vector becomes (N, 1, 1)."""
    stride = torch.as_tensor(stride, dtype=like.dtype, device=like.device)
    return stride.view(-1, 1, 1) if stride.dim() == 1 else stride


def offsets_to_points(offsets: Tensor, centers: Tensor, stride: Tensor | float) -> Tensor:
    """Raw (dy, dx)-interleaved offsets in feature cells -> (x, y) points in image pixels.

    Args:
        offsets: (N, 2 * P) as (dy0, dx0, ..., dy_{P-1}, dx_{P-1}).
        centers: (N, 2) location centres (x, y) in pixels.
        stride: a float, or (N,) per-row strides (rows from several levels).

    Returns:
        (N, P, 2) points (x, y).
    """
    if offsets.dim() != 2 or offsets.shape[1] % 2:
        raise ValueError(f"offsets must be (N, 2 * P), got {tuple(offsets.shape)}")
    yx = offsets.view(offsets.shape[0], offsets.shape[1] // 2, 2)  # (N, P, 2) as (dy, dx)
    xy = yx.flip(-1)                            # (N, P, 2) as (dx, dy)
    return centers[:, None, :] + xy * _stride_as_tensor(stride, offsets)


def points_to_offsets(points: Tensor, centers: Tensor, stride: Tensor | float) -> Tensor:
    """Inverse of :func:`offsets_to_points`: (N, P, 2) xy pixels -> (N, 2 * P) (dy, dx) in cells."""
    xy = (points - centers[:, None, :]) / _stride_as_tensor(stride, points)  # (N, P, 2)
    return xy.flip(-1).reshape(points.shape[0], 2 * points.shape[1])


def points_to_boxes(points: Tensor, mode: str = "minmax") -> Tensor:
    """Bounding box of a point set (RepPoints' pseudo box), over the last two dims (..., P, 2).

    ``'minmax'`` uses all points (the paper: "the maximum and the minimum value of the refined
    offset are converted into the boundary"); ``'partial_minmax'`` uses only the first 4 points,
    RepPoints' alternative. Returns (..., 4) as (x1, y1, x2, y2).
    """
    if points.shape[-1] != 2:
        raise ValueError(f"points must be (..., P, 2), got {tuple(points.shape)}")
    if mode == "partial_minmax":
        if points.shape[-2] < 4:
            raise ValueError("partial_minmax needs at least 4 points")
        points = points[..., :4, :]
    elif mode != "minmax":
        raise ValueError(f"unknown points-to-box mode {mode!r}; expected 'minmax' or 'partial_minmax'")
    top_left = points.amin(dim=-2)      # (..., 2)
    bottom_right = points.amax(dim=-2)  # (..., 2)
    return torch.cat([top_left, bottom_right], dim=-1)


def dcn_base_offsets(kernel_size: int = 3, dilation: int = 1) -> Tensor:
    """The regular kernel grid as (dy, dx)-interleaved offsets, shape (2 * k * k,).

    Tap k = ky * kernel_size + kx sits at ((ky - pad) * dilation, (kx - pad) * dilation) cells from
    the centre. Predicted points minus this grid is the ``offset`` a deformable conv needs to
    sample exactly at the points (RepPoints' ``dcn_base_offset``).
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    pad = kernel_size // 2
    base = (torch.arange(kernel_size, dtype=torch.float32) - pad) * dilation
    dy = base.repeat_interleave(kernel_size)  # ky major
    dx = base.repeat(kernel_size)             # kx minor
    return torch.stack([dy, dx], dim=1).reshape(-1)


def flatten_level_maps(maps: Sequence[Tensor], channels_per_item: int) -> Tensor:
    """Per-level (B, A * c, H, W) maps -> (B, sum(H * W * A), c), location-major.

    For location (r, c) its A items are contiguous (item a uses channels a*c .. a*c + c - 1),
    matching :meth:`scrpn.models.anchors.AnchorGenerator.grid_anchors` and :func:`grid_points`.
    """
    if len(maps) == 0:
        raise ValueError("flatten_level_maps needs at least one map")
    flat = []
    for level_map in maps:
        batch, channels = level_map.shape[:2]
        if channels % channels_per_item:
            raise ValueError(f"{channels} channels are not a multiple of {channels_per_item}")
        flat.append(level_map.permute(0, 2, 3, 1).reshape(batch, -1, channels_per_item))
    return torch.cat(flat, dim=1)
