"""Size-Aware Threshold assigner (SAT), Algorithm 2: the second-stage samples of SADS.

Design choice: like ATSS, an IoU threshold computed per gt from its own candidates, but the
candidates come only from the size-aware levels (i_g and the adjacent j_g of eq. (2); N levels in
general, see levels.candidate_levels) and the threshold is the mean alone, so stage 2 stays tied to
the levels stage 1 trained. For each gt g:
  * on each candidate level, the topk locations whose centres are nearest (L2) to g's centre
    (all of them if the level has fewer; ties at the k-th distance are broken by torch.topk);
  * D_g = IoUs of their init proposals with g; m_g = mean of D_g over all its levels together;
  * positives: candidates with IoU > m_g (strict) whose location centre lies strictly inside g.
    "The center of d in g" is read as the location's centre, the sample's position on the feature
    map, as ATSS does (the proposal's own centre moves with the regression). A gt whose candidates
    have no centre inside it (a tiny gt) has no positive, as the paper's rule says;
  * a location positive for several gts goes to the one with the highest IoU (ties: lower index).
All other locations are negative (0), except non-positive locations whose centre lies strictly
inside an ignore (crowd) box: -1. max_overlaps is the IoU with the assigned gt for positives and
the best IoU over gts elsewhere. A zero-area proposal has IoU 0 (no NaN).
`info` exposes, for the SADS inspector: 'levels' (M, N) long, 'candidates' (M, N * topk) long in
level-preference order, nearest first, -1 padded; 'candidate_ious' (M, N * topk), 0 at padding;
'thresholds' (M,) m_g, +inf for a gt without candidates.
"""
import torch
from torch import Tensor

from ..pyramid import FPN_STRIDES
from .assign_result import AssignResult
from .priors import PriorSet
from .levels import candidate_levels, level_starts
from .geometry import box_area, box_centres, pairwise_overlaps, points_in_boxes


def nearest_per_level(dist: Tensor, num_per_level: list[int], topk: int) -> Tensor:
    """Per level, the topk locations nearest to each gt. (N, M) -> (L, M, topk), -1 padded."""
    num_gts = dist.size(1)
    out = torch.full((len(num_per_level), num_gts, topk), -1, dtype=torch.long,
                     device=dist.device)
    for level, (start, n) in enumerate(zip(level_starts(num_per_level), num_per_level)):
        k = min(topk, int(n))
        if k > 0 and num_gts > 0:
            idx = dist[start:start + n].topk(k, dim=0, largest=False).indices  # (k, M)
            out[level, :, :k] = idx.T + start
    return out


class SizeAwareThresholdAssigner:
    def __init__(self, topk: int = 9, num_levels_used: int = 2, base_scale: float = 32.0,
                 strides: tuple[int, ...] = FPN_STRIDES):
        self.topk = topk
        self.num_levels_used = num_levels_used
        self.base_scale = base_scale
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
        levels = candidate_levels(box_area(gt_boxes), self.num_levels_used, self.base_scale,
                                  len(self.strides)).to(device)  # (M, N)
        if num_boxes == 0 or num_gts == 0:
            result = AssignResult.all_negative(num_boxes, num_gts, device)
            width = self.num_levels_used * self.topk
            result.info = {
                "levels": levels,
                "candidates": torch.full((num_gts, width), -1, dtype=torch.long, device=device),
                "candidate_ious": torch.zeros((num_gts, width), device=device),
                "thresholds": torch.full((num_gts,), float("inf"), device=device)}
            return result

        ious = pairwise_overlaps(boxes, gt_boxes)  # (num_boxes, M)
        dist = torch.cdist(points, box_centres(gt_boxes))  # (num_boxes, M)
        per_level = nearest_per_level(dist, num_per_level, self.topk)  # (L, M, topk)
        gt_arange = torch.arange(num_gts, device=device)[:, None]  # (M, 1)
        cand = per_level[levels.clamp(min=0), gt_arange]  # (M, N, topk)
        cand = torch.where(levels[:, :, None] >= 0, cand, torch.full_like(cand, -1))
        cand = cand.reshape(num_gts, -1)  # (M, N * topk)
        valid = cand >= 0
        safe = cand.clamp(min=0)
        cand_ious = ious[safe, gt_arange].masked_fill(~valid, 0.0)  # (M, N * topk)
        count = valid.sum(dim=1)  # (M,)
        thresholds = cand_ious.sum(dim=1) / count.clamp(min=1)
        thresholds = torch.where(count > 0, thresholds, torch.full_like(thresholds, float("inf")))

        inside = points_in_boxes(points, gt_boxes)[safe, gt_arange]  # (M, N * topk)
        is_pos = valid & inside & (cand_ious > thresholds[:, None])

        # a location positive for several gts: the highest IoU wins (max takes the first on ties)
        pos_ious = torch.full_like(ious, float("-inf"))  # (num_boxes, M)
        owners = gt_arange.expand_as(cand)
        pos_ious[cand[is_pos], owners[is_pos]] = cand_ious[is_pos]
        best, owner = pos_ious.max(dim=1)  # (num_boxes,)
        pos = best > float("-inf")
        gt_inds = torch.where(pos, owner + 1, torch.zeros_like(owner))
        max_overlaps = torch.where(pos, best, ious.max(dim=1).values)
        if gt_boxes_ignore is not None and gt_boxes_ignore.numel() > 0:
            crowd = points_in_boxes(points, gt_boxes_ignore).any(dim=1)
            gt_inds[crowd & ~pos] = -1
        info = {"levels": levels, "candidates": cand, "candidate_ious": cand_ious,
                "thresholds": thresholds}
        return AssignResult(num_gts=num_gts, gt_inds=gt_inds, max_overlaps=max_overlaps,
                            info=info)
