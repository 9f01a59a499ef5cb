"""ATSS assigner (Zhang et al., "Bridging the Gap Between Anchor-based and Anchor-free Detection
via Adaptive Training Sample Selection", CVPR 2020, Algorithm 1): the rule SAT is compared with.

The SC-RPN paper presents SAT (Algorithm 2) as ATSS restricted to the size-aware levels with the
mean alone as threshold; this class is ATSS itself, so that the SADS inspector can put the two
side by side on the same boxes (issue 40). No row of the study trains with it. For each gt g:
  * on *every* level, the ``topk`` locations whose centres are nearest (L2) to g's centre
    (all of them on a level with fewer; the same per-level selection as SAT,
    :func:`scrpn.sampling.size_aware_threshold.nearest_per_level`);
  * D_g = IoUs of their boxes with g; t_g = mean(D_g) + std(D_g), the standard deviation
    unbiased (n - 1), as mmdetection's ``ATSSAssigner`` (``Tensor.std``); with one candidate the
    std is 0;
  * positives: candidates with IoU >= t_g (ATSS compares with >=, SAT with >) whose location
    centre lies strictly inside g (mmdetection asks the centre to be 0.01 px inside; we use the
    strict test of :func:`scrpn.sampling.geometry.points_in_boxes`, as SAT does);
  * a location positive for several gts goes to the one with the highest IoU (ties: lower index).
Everything else is negative (0), except non-positive locations whose centre lies strictly inside
an ignore (crowd) box: -1, as SAT. ``max_overlaps`` is the IoU with the assigned gt for positives
and the best IoU over gts elsewhere.
``info`` (read by the inspector only): 'candidates' (M, L * topk) long, level by level, nearest
first, -1 padded; 'candidate_ious' (M, L * topk), 0 at padding; 'thresholds' (M,) t_g, +inf for
a gt without candidates; 'means' and 'stds' (M,).
Pinned by ``tests/test_atss.py`` (a hand-derived case) and ``tests/test_assigner_interface.py``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..pyramid import FPN_STRIDES
from .assign_result import AssignResult
from .geometry import box_centres, pairwise_overlaps, points_in_boxes
from .priors import PriorSet
from .size_aware_threshold import nearest_per_level

__all__ = ["ATSSAssigner"]


class ATSSAssigner:
    def __init__(self, topk: int = 9, strides: tuple[int, ...] = FPN_STRIDES):
        self.topk = int(topk)
        self.strides = tuple(strides)

    def assign_priors(self, priors: PriorSet, gt_boxes: Tensor,
                      gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        """The common interface (:mod:`scrpn.sampling.priors`): boxes, locations and levels."""
        return self.assign(priors.boxes, priors.centres, priors.num_per_level, gt_boxes,
                           gt_boxes_ignore)

    def assign(self, boxes: Tensor, points: Tensor, num_per_level: list[int], gt_boxes: Tensor,
               gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        num_boxes, num_gts = boxes.size(0), gt_boxes.size(0)
        assert len(num_per_level) == len(self.strides), "one count per level"
        assert sum(num_per_level) == num_boxes == points.size(0), "boxes, points, counts differ"
        device = boxes.device
        width = len(self.strides) * self.topk
        if num_boxes == 0 or num_gts == 0:
            result = AssignResult.all_negative(num_boxes, num_gts, device)
            result.info = {
                "candidates": torch.full((num_gts, width), -1, dtype=torch.long, device=device),
                "candidate_ious": torch.zeros((num_gts, width), device=device),
                "thresholds": torch.full((num_gts,), float("inf"), device=device),
                "means": torch.zeros(num_gts, device=device),
                "stds": torch.zeros(num_gts, device=device)}
            return result

        ious = pairwise_overlaps(boxes, gt_boxes)                      # (num_boxes, M)
        dist = torch.cdist(points, box_centres(gt_boxes))              # (num_boxes, M)
        per_level = nearest_per_level(dist, list(num_per_level), self.topk)  # (L, M, topk)
        cand = per_level.permute(1, 0, 2).reshape(num_gts, -1)        # (M, L * topk)
        valid = cand >= 0
        safe = cand.clamp(min=0)
        gt_arange = torch.arange(num_gts, device=device)[:, None]     # (M, 1)
        cand_ious = ious[safe, gt_arange].masked_fill(~valid, 0.0)     # (M, L * topk)
        count = valid.sum(dim=1)                                       # (M,)
        means = cand_ious.sum(dim=1) / count.clamp(min=1)
        squares = ((cand_ious - means[:, None]) ** 2).masked_fill(~valid, 0.0)
        stds = (squares.sum(dim=1) / (count - 1).clamp(min=1)).sqrt()  # unbiased; 0 for one
        thresholds = torch.where(count > 0, means + stds, torch.full_like(means, float("inf")))

        inside = points_in_boxes(points, gt_boxes)[safe, gt_arange]    # (M, L * topk)
        is_pos = valid & inside & (cand_ious >= thresholds[:, None])

        # a location positive for several gts: the highest IoU wins (max takes the first on ties)
        pos_ious = torch.full_like(ious, float("-inf"))                # (num_boxes, M)
        owners = gt_arange.expand_as(cand)
        pos_ious[cand[is_pos], owners[is_pos]] = cand_ious[is_pos]
        best, owner = pos_ious.max(dim=1)
        pos = best > float("-inf")
        gt_inds = torch.where(pos, owner + 1, torch.zeros_like(owner))
        max_overlaps = torch.where(pos, best, ious.max(dim=1).values)
        if gt_boxes_ignore is not None and gt_boxes_ignore.numel() > 0:
            crowd = points_in_boxes(points, gt_boxes_ignore).any(dim=1)
            gt_inds[crowd & ~pos] = -1
        info = {"candidates": cand, "candidate_ious": cand_ious, "thresholds": thresholds,
                "means": means, "stds": stds}
        return AssignResult(num_gts=num_gts, gt_inds=gt_inds, max_overlaps=max_overlaps, info=info)
