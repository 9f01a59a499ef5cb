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
``region_rule='rounded'`` (fidelity switch, issue 17) replaces the continuous region by
mmdetection's ``center_ratio`` region, rounded to whole cells of the gt's level exactly as Cascade
RPN's region assigner does (:func:`scrpn.sampling.region.region_in_cells`, inclusive test on the
location centres in cells). The paper's sigma is that parameter; the continuous region is the
study's first reading and gives ~1 location per object at the mini scale, the rounded one ~3
(fidelity review). The fallback and the conflict rule are the same under both rules.
Everything else is 0: stage 1 needs no negatives, the caller regresses positives only. Locations
that are not positive and whose centre lies strictly inside an ignore (crowd) box are -1. No IoU is
involved, so max_overlaps is 1 for positives and 0 elsewhere.
"""
import torch
from torch import Tensor

from ..pyramid import FPN_STRIDES
from .assign_result import AssignResult
from .priors import PriorSet
from .levels import point_levels, target_level
from .geometry import box_area, box_centres, centre_regions, points_in_boxes
from .region import region_in_cells

REGION_RULES = ("continuous", "rounded")


class PositiveRegionAssigner:
    def __init__(self, center_ratio: float = 0.2, base_scale: float = 32.0,
                 strides: tuple[int, ...] = FPN_STRIDES, region_rule: str = "continuous"):
        if region_rule not in REGION_RULES:
            raise ValueError(f"unknown region_rule {region_rule!r}; expected one of {REGION_RULES}")
        self.center_ratio = center_ratio
        self.base_scale = base_scale
        self.strides = tuple(strides)
        self.region_rule = region_rule

    def _claimed(self, points: Tensor, point_level: Tensor, gt_boxes: Tensor,
                 gt_levels: Tensor) -> Tensor:
        """(N, M) bool: location n lies in gt m's centre region on gt m's level."""
        on_level = point_level[:, None] == gt_levels[None, :]
        if self.region_rule == "continuous":
            region = centre_regions(gt_boxes, self.center_ratio)                     # (M, 4) px
            return points_in_boxes(points, region, strict=False) & on_level
        strides = torch.tensor(self.strides, dtype=points.dtype, device=points.device)
        gt_stride = strides[gt_levels]                                               # (M,)
        region = region_in_cells(gt_boxes / gt_stride[:, None], self.center_ratio, 1.0)  # cells
        cells = points / strides[point_level][:, None]                               # (N, 2)
        return points_in_boxes(cells, region, strict=False) & on_level

    def assign_priors(self, priors: PriorSet, gt_boxes: Tensor,
                      gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        """The common interface (:mod:`scrpn.sampling.priors`): PosR reads the locations only."""
        return self.assign(priors.centres, priors.num_per_level, gt_boxes, gt_boxes_ignore)

    def assign(self, points: Tensor, num_per_level: list[int], gt_boxes: Tensor,
               gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        num_points, num_gts = points.size(0), gt_boxes.size(0)
        assert len(num_per_level) == len(self.strides), "one count per level"
        assert sum(num_per_level) == num_points, "num_per_level must add up to the points"
        if num_points == 0 or num_gts == 0:
            return AssignResult.all_negative(num_points, num_gts, points.device)

        areas = box_area(gt_boxes)  # (M,)
        gt_levels = target_level(areas, self.base_scale, len(self.strides)).to(points.device)
        point_level = point_levels(num_per_level, points.device)                    # (N,)
        on_level = point_level[:, None] == gt_levels[None, :]
        claimed = self._claimed(points, point_level, gt_boxes, gt_levels)            # (N, M)

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
