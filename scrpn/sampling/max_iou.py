"""Max-IoU assigner: RPN's rule, and the baseline both SADS stages replace (Table IV).

Design choice: the same decision rules as mmdetection's MaxIoUAssigner, so that the RPN, Cascade
RPN and "Max IoU in both stages" rows are trained with the rule their papers used:
  1. every prior starts ignored (-1);
  2. a prior whose best IoU is in [0, neg_iou_thr) (or in [lo, hi) for a tuple) is negative (0);
  3. a prior whose best IoU is >= pos_iou_thr is positive for that best gt;
  4. low-quality matches (match_low_quality): each gt's best prior(s) become positive for it when
     that IoU >= min_pos_iou (all tied best priors if gt_max_assign_all, else the first), gts
     processed in order so a later gt overrides an earlier one on a shared prior;
  5. priors whose IoF (intersection over the prior's own area) with an ignore / crowd box exceeds
     ignore_iof_thr (enabled when > 0) have their IoUs set to -1: they stay ignored.
One deliberate difference: a low-quality match also needs IoU > 0, so a gt that overlaps no prior
(or a zero-area gt) with min_pos_iou = 0 does not turn every prior into its positive.
The overlaps come from geometry.py; a zero-area box has IoU 0, never NaN.
"""
import torch
from torch import Tensor

from .assign_result import AssignResult
from .priors import PriorSet
from .geometry import pairwise_overlaps


class MaxIoUAssigner:
    def __init__(self, pos_iou_thr: float, neg_iou_thr: float | tuple[float, float],
                 min_pos_iou: float = 0.0, match_low_quality: bool = True,
                 gt_max_assign_all: bool = True, ignore_iof_thr: float = -1.0):
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.min_pos_iou = min_pos_iou
        self.match_low_quality = match_low_quality
        self.gt_max_assign_all = gt_max_assign_all
        self.ignore_iof_thr = ignore_iof_thr

    def assign(self, priors: Tensor, gt_boxes: Tensor,
               gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        num_priors, num_gts = priors.size(0), gt_boxes.size(0)
        if num_priors == 0 or num_gts == 0:
            return AssignResult.all_negative(num_priors, num_gts, priors.device)

        overlaps = pairwise_overlaps(priors, gt_boxes)  # (num_priors, num_gts)
        return self.assign_wrt_overlaps(overlaps, priors, gt_boxes_ignore)

    def assign_priors(self, priors: PriorSet, gt_boxes: Tensor,
                      gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        """The common interface (:mod:`scrpn.sampling.priors`): Max-IoU reads the boxes only."""
        return self.assign(priors.boxes, gt_boxes, gt_boxes_ignore)

    def assign_wrt_overlaps(self, overlaps: Tensor, priors: Tensor,
                            gt_boxes_ignore: Tensor | None = None) -> AssignResult:
        """Rules 1-5 on precomputed IoUs (num_priors, num_gts) with num_priors, num_gts >= 1.

        Split out so that GA-RPN's approximate-anchor assigner (IoU of a location = its best
        approximate anchor's, scrpn/models/heads/ga_rpn.py) uses the same rules; ``priors`` are
        only read for the ignore (IoF) test. ``overlaps`` is modified in place (ignored rows).
        """
        num_priors, num_gts = overlaps.shape
        raw_max = overlaps.max(dim=1).values  # (num_priors,) reported for ignored priors
        if (self.ignore_iof_thr > 0 and gt_boxes_ignore is not None
                and gt_boxes_ignore.numel() > 0):
            iof = pairwise_overlaps(priors, gt_boxes_ignore, mode="iof")  # (num_priors, K)
            overlaps[iof.max(dim=1).values > self.ignore_iof_thr] = -1.0

        max_overlaps, argmax = overlaps.max(dim=1)  # (num_priors,)
        gt_inds = torch.full((num_priors,), -1, dtype=torch.long, device=overlaps.device)
        if isinstance(self.neg_iou_thr, (tuple, list)):
            lo, hi = self.neg_iou_thr
            gt_inds[(max_overlaps >= lo) & (max_overlaps < hi)] = 0
        else:
            gt_inds[(max_overlaps >= 0) & (max_overlaps < self.neg_iou_thr)] = 0
        pos = max_overlaps >= self.pos_iou_thr
        gt_inds[pos] = argmax[pos] + 1

        if self.match_low_quality:
            gt_max, gt_argmax = overlaps.max(dim=0)  # (num_gts,)
            for g in range(num_gts):
                if gt_max[g] < self.min_pos_iou or gt_max[g] <= 0:
                    continue
                if self.gt_max_assign_all:
                    gt_inds[overlaps[:, g] == gt_max[g]] = g + 1
                else:
                    gt_inds[gt_argmax[g]] = g + 1

        pos = gt_inds > 0
        assigned_iou = overlaps.gather(1, (gt_inds - 1).clamp(min=0)[:, None])[:, 0]
        max_overlaps = torch.where(pos, assigned_iou, raw_max)
        return AssignResult(num_gts=num_gts, gt_inds=gt_inds, max_overlaps=max_overlaps)
