"""mmdetection-style multi-level anchor generator.

Per level with stride s, the base anchors are centred at (0, 0) with, for each ratio r (= h / w,
mmdetection's convention) and scale k::

    w = s * k / sqrt(r),   h = s * k * sqrt(r)

enumerated ratio-major then scale (mmdetection's order). They are then shifted to every feature
location ``(x, y) = (col * s, row * s)`` (``center_offset = 0``, as mmdetection v2+; the location
grid is :func:`scrpn.models.points.grid_points`, the single definition shared with the point head).
Per level the result is ``(H * W * A, 4)``, **location-major**: the A anchors of location
(r, c) are rows ``(r * W + c) * A .. + A - 1``. That is the order of a conv output
``(B, A * 4, H, W).permute(0, 2, 3, 1).reshape(B, H * W * A, 4)``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from scrpn.models.points import grid_points
from scrpn.pyramid import FPN_STRIDES

__all__ = ["AnchorGenerator", "base_anchors"]


def base_anchors(stride: float, ratios: Sequence[float], scales: Sequence[float],
                 center_offset: float = 0.0) -> Tensor:
    """(A, 4) anchors of one level centred at ``center_offset * stride``; A = len(ratios) * len(scales)."""
    h_ratios = torch.tensor([math.sqrt(r) for r in ratios], dtype=torch.float32)  # (R,)
    w_ratios = 1.0 / h_ratios
    scales_t = torch.tensor(list(scales), dtype=torch.float32)                     # (S,)
    ws = (stride * w_ratios[:, None] * scales_t[None, :]).reshape(-1)              # (R*S,)
    hs = (stride * h_ratios[:, None] * scales_t[None, :]).reshape(-1)
    center = center_offset * stride
    return torch.stack([center - 0.5 * ws, center - 0.5 * hs, center + 0.5 * ws, center + 0.5 * hs], dim=1)


class AnchorGenerator:
    """Anchors for every location of every FPN level (no learnable state, so not an nn.Module).

    Args:
        strides: stride of each level, P2..P6 by default.
        ratios: aspect ratios h / w.
        scales: anchor side in units of the stride (8 -> 32 px on P2, as mmdetection's RPN).
        center_offset: anchor centre inside its cell, in cells (0 = the cell's top-left corner).
    """

    def __init__(self, strides: Sequence[int] = FPN_STRIDES,
                 ratios: Sequence[float] = (0.5, 1.0, 2.0), scales: Sequence[float] = (8.0,),
                 center_offset: float = 0.0) -> None:
        if len(ratios) == 0 or len(scales) == 0:
            raise ValueError("need at least one ratio and one scale")
        if any(r <= 0 for r in ratios) or any(s <= 0 for s in scales):
            raise ValueError(f"ratios and scales must be positive, got {ratios} and {scales}")
        self.strides = tuple(int(s) for s in strides)
        self.ratios = tuple(float(r) for r in ratios)
        self.scales = tuple(float(s) for s in scales)
        self.center_offset = float(center_offset)
        self.base_anchors = [base_anchors(s, self.ratios, self.scales, self.center_offset) for s in self.strides]

    @property
    def num_levels(self) -> int:
        return len(self.strides)

    @property
    def num_base_anchors(self) -> int:
        """A: anchors per location (the same on every level)."""
        return len(self.ratios) * len(self.scales)

    def grid_anchors(self, featmap_sizes: Sequence[tuple[int, int]],
                     device: torch.device | str | None = None) -> list[Tensor]:
        """Anchors of each level, a list of (H * W * A, 4) float32 tensors, location-major."""
        if len(featmap_sizes) != self.num_levels:
            raise ValueError(f"{len(featmap_sizes)} feature maps for {self.num_levels} anchor levels")
        # The cell offset lives in the base anchors, so the location grid itself is unshifted.
        centers = grid_points(featmap_sizes, self.strides, device)  # [(H*W, 2)]
        anchors = []
        for level_centers, base in zip(centers, self.base_anchors):
            shifts = level_centers.repeat(1, 2)                      # (H*W, 4) as (x, y, x, y)
            level = shifts[:, None, :] + base.to(device)[None, :, :]  # (H*W, A, 4)
            anchors.append(level.reshape(-1, 4))
        return anchors
