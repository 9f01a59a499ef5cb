"""Positive Region assigner (PosR), Algorithm 1: the first-stage positives of SADS.

Design choice: positives are chosen by position and size only, never by IoU, so stage 1 (which only
regresses the init proposals) keeps a stable, size-aware set of samples. For each gt g:
  * its level i_g comes from eq. (1) (levels.target_level);
  * its positive region R_g is the centre region of g with ratio sigma = center_ratio:
    |x - cx| <= sigma * w / 2 and |y - cy| <= sigma * h / 2 (bounds inclusive);
  * the locations of level i_g whose centres lie in R_g are its positives;
  * a gt whose region holds no location of level i_g (tiny or thin gts) gets the location of
    level i_g nearest (L2) to its centre, so every gt is trained (ties: lowest location index);
  * a location claimed by several gts goes to the gt of smallest area (the FCOS / RepPoints rule;
    ties: lowest gt index). This runs after the fallback, so a gt can lose its only location to a
    smaller gt.
Everything else is 0: stage 1 needs no negatives, the caller regresses positives only. Locations
that are not positive and whose centre lies strictly inside an ignore (crowd) box are -1. No IoU is
involved, so max_overlaps is 1 for positives and 0 elsewhere.
"""
import torch
from torch import Tensor

from ..pyramid import FPN_STRIDES
from .assign_result import AssignResult
from .levels import point_levels, target_level
from .geometry import box_area, box_centres, centre_regions, points_in_boxes


class PositiveRegionAssigner:
    def __init__(self, center_ratio: float = 0.2, base_scale: float = 32.0,
                 strides: tuple[int, ...] = FPN_STRIDES):
        self.center_ratio = center_ratio
        self.base_scale = base_scale
        self.strides = tuple(strides)

    def assign(self, points: Tensor, num_per_level: list[int], gt_boxes: Tensor,
               gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        num_points, num_gts = points.size(0), gt_boxes.size(0)
        assert len(num_per_level) == len(self.strides), "one count per level"
        assert sum(num_per_level) == num_points, "num_per_level must add up to the points"
        if num_points == 0 or num_gts == 0:
            return AssignResult.all_negative(num_points, num_gts, points.device)

        areas = box_area(gt_boxes)  # (M,)
        gt_levels = target_level(areas, self.base_scale, len(self.strides)).to(points.device)
        on_level = point_levels(num_per_level, points.device)[:, None] == gt_levels[None, :]
        region = centre_regions(gt_boxes, self.center_ratio)  # (M, 4)
        claimed = points_in_boxes(points, region, strict=False) & on_level  # (N, M)

        # fallback: the nearest location of level i_g for gts whose region holds none
        dist = torch.cdist(points, box_centres(gt_boxes))  # (N, M)
        dist = torch.where(on_level, dist, torch.full_like(dist, float("inf")))
        nearest = dist.argmin(dim=0)  # (M,)
        lonely = (~claimed.any(dim=0) & on_level.any(dim=0)).nonzero()[:, 0]
        claimed[nearest[lonely], lonely] = True

        # conflicts: the smallest gt wins (min returns the first, i.e. lowest gt index, on ties)
        cost = torch.where(claimed, areas[None, :], torch.full_like(dist, float("inf")))
        best_cost, owner = cost.min(dim=1)  # (N,)
        pos = torch.isfinite(best_cost)
        gt_inds = torch.where(pos, owner + 1, torch.zeros_like(owner))
        if gt_boxes_ignore is not None and gt_boxes_ignore.numel() > 0:
            crowd = points_in_boxes(points, gt_boxes_ignore).any(dim=1)
            gt_inds[crowd & ~pos] = -1
        return AssignResult(num_gts=num_gts, gt_inds=gt_inds, max_overlaps=pos.float())
