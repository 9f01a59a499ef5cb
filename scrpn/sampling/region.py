"""Region assigner: Cascade RPN's anchor-free stage-1 rule (mmdetection's ``RegionAssigner``).

Design choice: the same decision rules as mmdetection's RegionAssigner, in the same order (the
order matters, later steps overwrite earlier ones). For each gt g, in index order:
  1. its level i_g by eq. (1) with the head's base scale (levels.target_level; mmdetection's
     floor(log2 sqrt(S) - log2(anchor_scale x stride_0) + 0.5) is the same rule);
  2. the ignore region (ratio ``ignore_ratio``) and the centre region (ratio ``center_ratio``) of g
     are projected onto level i_g in feature cells and rounded to whole cells
     (``round((1 - r) x1 + r x2)`` with r = (1 - ratio) / 2, torch.round: half to even);
  3. priors of level i_g whose *centre* (in cells) lies in the ignore region, bounds inclusive,
     become -1, then those whose centre lies in the centre region become positive for g
     (so a later gt's ignore region overwrites an earlier gt's positives, as in mmdetection);
  4. after all gts: priors whose centre lies in g's ignore region on the levels adjacent to i_g
     (i_g - 1 and i_g + 1) become -1, overwriting positives of other gts on those levels.
Everything else stays negative (0). "Inside the region" is the prior-centre test (mmdetection's
``anchor_ctr_inside_region_flags``), not an anchor-in-region overlap; the several anchors of one
location share its centre and so its label.

Two deliberate simplifications, both no-ops for the project's inputs:
  * mmdetection clamps the rounded region to [0, feature size]; for gts inside the image the
    region already lies in [0, image size / stride] and every prior centre lies in
    [0, feature size - 1], so clamping changes no label. We do not clamp.
  * mmdetection marks anchors outside the image as -1 when ``allowed_border >= 0``; Cascade RPN's
    config uses ``allowed_border = -1`` (keep all), so we never do.
mmdetection raises on crowd (ignore) boxes; we follow the Positive Region assigner: a non-positive
prior whose centre lies strictly inside an ignore box is -1. No IoU is involved, so
``max_overlaps`` is 1 for positives and 0 elsewhere.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..pyramid import FPN_STRIDES
from .assign_result import AssignResult
from .priors import PriorSet
from .levels import point_levels, target_level
from .geometry import box_area, box_centres, points_in_boxes


def region_in_cells(boxes: Tensor, ratio: float, stride: float) -> Tensor:
    """The central ``ratio`` part of each box on a level of ``stride``, rounded to whole cells.

    ``ratio`` is the region's side over the box side (0.2: the middle fifth), mmdetection's
    ``calc_region`` with r = (1 - ratio) / 2. (M, 4) pixels -> (M, 4) cells.
    """
    r = (1.0 - ratio) / 2.0
    cells = boxes / stride                                                   # (M, 4)
    lo = (1.0 - r) * cells[:, :2] + r * cells[:, 2:]
    hi = r * cells[:, :2] + (1.0 - r) * cells[:, 2:]
    return torch.round(torch.cat([lo, hi], dim=1))


def centres_in_regions(centres: Tensor, regions: Tensor) -> Tensor:
    """Inclusive point-in-box test in cells. (N, 2), (M, 4) -> (N, M) bool."""
    return points_in_boxes(centres, regions, strict=False)


class RegionAssigner:
    """Assigns priors by where their centre falls in each gt's centre / ignore region.

    Args:
        center_ratio: side of the positive region over the gt's side (Cascade RPN: 0.2).
        ignore_ratio: side of the ignore region over the gt's side (Cascade RPN: 0.5).
        base_scale: level-rule base, anchor scale x finest stride (32 for mmdetection's configs).
        strides: stride of each level.
    """

    def __init__(self, center_ratio: float = 0.2, ignore_ratio: float = 0.5,
                 base_scale: float = 32.0, strides: tuple[int, ...] = FPN_STRIDES) -> None:
        self.center_ratio = center_ratio
        self.ignore_ratio = ignore_ratio
        self.base_scale = base_scale
        self.strides = tuple(strides)

    def assign_priors(self, priors: PriorSet, gt_boxes: Tensor,
                      gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        """The common interface (:mod:`scrpn.sampling.priors`): the boxes' centres and levels."""
        return self.assign(priors.boxes, priors.num_per_level, gt_boxes, gt_boxes_ignore)

    def assign(self, priors: Tensor, num_per_level: list[int], gt_boxes: Tensor,
               gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        """priors (N, 4) concatenated over levels, level-major; gt_boxes (M, 4) -> AssignResult."""
        num_priors, num_gts = priors.size(0), gt_boxes.size(0)
        assert len(num_per_level) == len(self.strides), "one count per level"
        assert sum(num_per_level) == num_priors, "num_per_level must add up to the priors"
        if num_priors == 0 or num_gts == 0:
            return AssignResult.all_negative(num_priors, num_gts, priors.device)

        num_levels = len(self.strides)
        levels = target_level(box_area(gt_boxes), self.base_scale, num_levels).tolist()
        prior_level = point_levels(num_per_level, priors.device)             # (N,)
        strides = torch.tensor(self.strides, dtype=priors.dtype, device=priors.device)
        centres = box_centres(priors) / strides[prior_level][:, None]        # (N, 2) in cells

        def inside(gt: int, level: int, ratio: float) -> Tensor:             # (N,) bool
            region = region_in_cells(gt_boxes[gt:gt + 1], ratio, float(self.strides[level]))
            return centres_in_regions(centres, region)[:, 0] & (prior_level == level)

        gt_inds = torch.zeros(num_priors, dtype=torch.long, device=priors.device)
        adjacent_ignore = torch.zeros(num_priors, dtype=torch.bool, device=priors.device)
        for g, lvl in enumerate(levels):
            gt_inds[inside(g, lvl, self.ignore_ratio)] = -1
            gt_inds[inside(g, lvl, self.center_ratio)] = g + 1
            for adj in (lvl - 1, lvl + 1):
                if 0 <= adj < num_levels:
                    adjacent_ignore |= inside(g, adj, self.ignore_ratio)
        gt_inds[adjacent_ignore] = -1
        pos = gt_inds > 0
        if gt_boxes_ignore is not None and gt_boxes_ignore.numel() > 0:
            crowd = points_in_boxes(box_centres(priors), gt_boxes_ignore).any(dim=1)
            gt_inds[crowd & ~pos] = -1
        return AssignResult(num_gts=num_gts, gt_inds=gt_inds, max_overlaps=pos.float())
