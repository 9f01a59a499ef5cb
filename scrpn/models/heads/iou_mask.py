"""Light-weight IoU-Mask branch (Section III-A) and the IoU-aware score.

The branch is one 1x1 convolution followed by two sigmoids, read from the regression feature map by
default (Table VII also tries the classification map and a fused map, which we take as their
element-wise sum: the paper says "combining" without saying how).

Two sigmoids in a row map any logit into (sigmoid(0), sigmoid(1)) = (0.5, 0.731): this is what
"use the sigmoid function layer twice to get a smaller distribution variances map" does when read
literally, and it keeps the IoU-aware score close to the classification score, as the paper wants.
Fig. 4's printed IoU-mask values (0.82, 0.98, 0.68) cannot come out of two sigmoids; we read them as
illustrative, keep the literal design as the default and offer two other readings as switches
(issue 17, the fidelity review's finding that the literal mask cannot learn: BCE on
sigmoid(sigmoid(x)) has its gradient vanish as the negatives push the inner sigmoid to 0):

==============================  ======================  =========================================
reading                         trained output          IoU-aware score uses
==============================  ======================  =========================================
literal (default)               sigmoid(sigmoid(x))     the trained output
``second_sigmoid: test_only``   sigmoid(x)              sigmoid(trained output) = sigmoid(sigmoid(x))
``double_sigmoid: false``       sigmoid(x)              the trained output
==============================  ======================  =========================================

:meth:`IoUMaskBranch.score_map` turns the trained output into the map the score uses; all three
readings are pinned in ``tests/test_fidelity_switches.py``.

Training target (Fig. 3): the IoU between each training sample's refined proposal (detached) and
its ground truth, with BCE (weight 1.0): :func:`iou_targets`. Which samples are used is a head
option (Table VI): :func:`mask_sample_indices`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ... import losses as L
from ...sampling.assign_result import AssignResult

MASK_SAMPLES = ("classification", "regression", "regression_and_negatives")
SECOND_SIGMOID = ("train_and_test", "test_only")


@dataclass(frozen=True)
class IoUMaskLayout:
    """An enabled IoU-mask branch, as plain values (``model.head.iou_mask``'s field names): the
    feature map it reads, where its sigmoids act, its training samples and its loss weight."""
    feature: str = "reg"
    double_sigmoid: bool = True
    second_sigmoid: str = "train_and_test"
    samples: str = "classification"
    weight: float = 1.0


class IoUMaskBranch(nn.Module):
    def __init__(self, in_channels: int, num_outputs: int = 1, feature: str = "reg",
                 double_sigmoid: bool = True, second_sigmoid: str = "train_and_test") -> None:
        super().__init__()
        if feature not in ("reg", "cls", "fused"):
            raise ValueError(f"unknown IoU-mask feature map {feature!r}")
        if second_sigmoid not in SECOND_SIGMOID:
            raise ValueError(f"unknown second_sigmoid {second_sigmoid!r}; expected one of {SECOND_SIGMOID}")
        self.feature = feature
        self.double_sigmoid = double_sigmoid
        # the second sigmoid is part of what BCE trains only in the literal reading
        self.train_second = double_sigmoid and second_sigmoid == "train_and_test"
        self.test_second = double_sigmoid and second_sigmoid == "test_only"
        self.conv = nn.Conv2d(in_channels, num_outputs, kernel_size=1)
        nn.init.normal_(self.conv.weight, std=0.01)
        nn.init.zeros_(self.conv.bias)

    def forward(self, cls_feat: Tensor, reg_feat: Tensor) -> Tensor:
        """(B, C, H, W) maps -> the probabilities BCE trains (B, A, H, W)."""
        if self.feature == "reg":
            x = reg_feat
        elif self.feature == "cls":
            x = cls_feat
        else:
            x = cls_feat + reg_feat
        out = torch.sigmoid(self.conv(x))
        return torch.sigmoid(out) if self.train_second else out

    def score_map(self, trained: Tensor) -> Tensor:
        """The trained output -> the map the IoU-aware score averages with the class score."""
        return torch.sigmoid(trained) if self.test_second else trained


def iou_aware_score(cls_prob: Tensor, iou_mask: Tensor) -> Tensor:
    """The paper's IoU-aware score: the mean of the classification score and the IoU mask."""
    return 0.5 * (cls_prob + iou_mask)


def mask_sample_indices(samples: str, assign: AssignResult, cls_inds: Tensor) -> Tensor:
    """Locations the IoU mask is trained on (Table VI): the stage-2 classification samples
    (``classification``, the paper's choice), the stage-2 positives (``regression``), or every
    location that is not ignored (``regression_and_negatives``)."""
    if samples == "classification":
        return cls_inds
    if samples == "regression":
        return torch.nonzero(assign.gt_inds > 0).squeeze(1)
    if samples == "regression_and_negatives":
        return torch.nonzero(assign.gt_inds >= 0).squeeze(1)
    raise ValueError(f"unknown IoU-mask samples {samples!r}; expected one of {MASK_SAMPLES}")


def iou_targets(boxes: Tensor, gt_inds: Tensor, gts: Tensor) -> Tensor:
    """IoU of each box with its assigned gt (positives) or its best-overlapping gt (others)."""
    if boxes.numel() == 0 or gts.numel() == 0:
        return boxes.new_zeros(boxes.shape[0])
    assigned = gt_inds > 0
    ious = L.aligned_iou(boxes.unsqueeze(1).expand(-1, gts.shape[0], 4).reshape(-1, 4),
                         gts.unsqueeze(0).expand(boxes.shape[0], -1, 4).reshape(-1, 4))
    ious = ious.view(boxes.shape[0], gts.shape[0])                         # (n, gts)
    best = ious.max(dim=1).values
    own = ious.gather(1, (gt_inds.clamp(min=1) - 1).unsqueeze(1)).squeeze(1)
    return torch.where(assigned, own, best)


def positive_mask_and_iou(mask: Tensor, boxes: Tensor, assign: AssignResult, gts: Tensor
                          ) -> tuple[Tensor, Tensor]:
    """One image's stage-2 positives: their IoU-mask values (as the score uses them) and the true
    IoU of their refined boxes with their assigned gts, both (P,). What the evaluator's
    ``iou_mask_spearman`` correlates (issue 17's diagnostic: does the mask rank boxes by IoU?)."""
    pos = torch.nonzero(assign.gt_inds > 0).squeeze(1)
    if pos.numel() == 0:
        return mask.new_zeros(0), mask.new_zeros(0)
    return mask[pos], L.aligned_iou(boxes[pos], gts[assign.gt_inds[pos] - 1])
