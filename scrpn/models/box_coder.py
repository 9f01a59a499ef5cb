"""Delta (dx, dy, dw, dh) box coder, as mmdetection's ``DeltaXYWHBBoxCoder``.

Widths are ``x2 - x1`` (no "+1", mmdetection v2+). For a prior p and target g::

    dx = (gx - px) / pw,  dy = (gy - py) / ph,  dw = log(gw / pw),  dh = log(gh / ph)

and the stored targets are ``(delta - means) / stds`` (Cascade RPN uses stds (0.1, 0.1, 0.5, 0.5)
in stage 1 and (0.05, 0.05, 0.1, 0.1) in stage 2). Decoding inverts this after clamping dw, dh to
``+-|log(wh_ratio_clip)|`` (= log(62.5) ~ 4.135 for the default 16 / 1000), so a wild prediction
cannot overflow ``exp``; boxes are then optionally clipped to the image ``(h, w)``, with x in
[0, w] and y in [0, h] (mmdetection v2+, not w - 1).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor

__all__ = ["DeltaXYWHCoder", "clip_to_image"]


def _centers_and_sizes(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(..., 4) x1y1x2y2 -> centre x, centre y, width, height, each (...,)."""
    widths = boxes[..., 2] - boxes[..., 0]
    heights = boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * widths, boxes[..., 1] + 0.5 * heights, widths, heights


class DeltaXYWHCoder:
    """Encode boxes as normalised deltas w.r.t. priors, and decode them back.

    Args:
        means, stds: per-coordinate normalisation of the deltas.
        clip_border: clip decoded boxes to ``max_shape`` when it is given.
        wh_ratio_clip: bound on the decoded size change, |dw|, |dh| <= |log(wh_ratio_clip)|.
    """

    def __init__(self, means: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
                 stds: Sequence[float] = (1.0, 1.0, 1.0, 1.0), clip_border: bool = True,
                 wh_ratio_clip: float = 16 / 1000) -> None:
        if len(means) != 4 or len(stds) != 4:
            raise ValueError(f"means and stds need 4 values, got {means} and {stds}")
        if any(s <= 0 for s in stds):
            raise ValueError(f"stds must be positive, got {stds}")
        self.means = tuple(float(m) for m in means)
        self.stds = tuple(float(s) for s in stds)
        self.clip_border = clip_border
        self.wh_ratio_clip = wh_ratio_clip
        self.max_ratio = abs(math.log(wh_ratio_clip))

    def _norm(self, like: Tensor) -> tuple[Tensor, Tensor]:
        means = torch.tensor(self.means, dtype=like.dtype, device=like.device)
        stds = torch.tensor(self.stds, dtype=like.dtype, device=like.device)
        return means, stds

    def encode(self, priors: Tensor, gts: Tensor) -> Tensor:
        """priors (..., 4), gts (..., 4) of the same shape -> normalised deltas (..., 4).

        Degenerate (zero-size) priors or targets give inf/nan; callers encode only positives
        matched to valid boxes.
        """
        if priors.shape != gts.shape or priors.shape[-1] != 4:
            raise ValueError(f"priors {tuple(priors.shape)} and gts {tuple(gts.shape)} must be equal (..., 4)")
        px, py, pw, ph = _centers_and_sizes(priors)
        gx, gy, gw, gh = _centers_and_sizes(gts.to(priors.dtype))
        deltas = torch.stack([(gx - px) / pw, (gy - py) / ph,
                              torch.log(gw / pw), torch.log(gh / ph)], dim=-1)  # (..., 4)
        means, stds = self._norm(deltas)
        return (deltas - means) / stds

    def decode(self, priors: Tensor, deltas: Tensor,
               max_shape: Optional[Sequence[int]] = None) -> Tensor:
        """priors (..., 4) and normalised deltas (..., 4) -> boxes (..., 4).

        ``max_shape`` is the image (h, w) (extra trailing entries such as channels are ignored);
        boxes are clipped to it when ``clip_border`` is set.
        """
        if priors.shape[-1] != 4 or deltas.shape[-1] != 4:
            raise ValueError(f"priors {tuple(priors.shape)} and deltas {tuple(deltas.shape)} must end in 4")
        means, stds = self._norm(deltas)
        d = deltas * stds + means                                              # (..., 4)
        dw = d[..., 2].clamp(-self.max_ratio, self.max_ratio)
        dh = d[..., 3].clamp(-self.max_ratio, self.max_ratio)
        px, py, pw, ph = _centers_and_sizes(priors.to(deltas.dtype))
        cx, cy = px + pw * d[..., 0], py + ph * d[..., 1]
        w, h = pw * torch.exp(dw), ph * torch.exp(dh)
        boxes = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)
        if max_shape is not None and self.clip_border:
            boxes = clip_to_image(boxes, max_shape)
        return boxes


def clip_to_image(boxes: Tensor, max_shape: Sequence[int]) -> Tensor:
    """Clip (..., 4) boxes to x in [0, w], y in [0, h] for ``max_shape = (h, w, ...)``."""
    height, width = float(max_shape[0]), float(max_shape[1])
    xs = boxes[..., 0::2].clamp(0.0, width)
    ys = boxes[..., 1::2].clamp(0.0, height)
    return torch.stack([xs[..., 0], ys[..., 0], xs[..., 1], ys[..., 1]], dim=-1)
