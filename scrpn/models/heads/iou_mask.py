"""Light-weight IoU-Mask branch (Section III-A) and the IoU-aware score.

The branch is one 1x1 convolution followed by two sigmoids, read from the regression feature map by
default (Table VII also tries the classification map and a fused map, which we take as their
element-wise sum: the paper says "combining" without saying how).

Two sigmoids in a row map any logit into (sigmoid(0), sigmoid(1)) = (0.5, 0.731): this is what
"use the sigmoid function layer twice to get a smaller distribution variances map" does when read
literally, and it keeps the IoU-aware score close to the classification score, as the paper wants.
Fig. 4's printed IoU-mask values (0.82, 0.98, 0.68) cannot come out of two sigmoids; we read them as
illustrative, keep the literal design as the default and offer ``double_sigmoid=False`` (one
sigmoid, range (0, 1)) as a switch. Both readings are pinned by tests.

Training target (Fig. 3): the IoU between each training sample's refined proposal (detached) and
its ground truth, with BCE (weight 1.0). Which samples are used is a head option (Table VI).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class IoUMaskBranch(nn.Module):
    def __init__(self, in_channels: int, num_outputs: int = 1, feature: str = "reg",
                 double_sigmoid: bool = True) -> None:
        super().__init__()
        if feature not in ("reg", "cls", "fused"):
            raise ValueError(f"unknown IoU-mask feature map {feature!r}")
        self.feature = feature
        self.double_sigmoid = double_sigmoid
        self.conv = nn.Conv2d(in_channels, num_outputs, kernel_size=1)
        nn.init.normal_(self.conv.weight, std=0.01)
        nn.init.zeros_(self.conv.bias)

    def forward(self, cls_feat: Tensor, reg_feat: Tensor) -> Tensor:
        """(B, C, H, W) maps -> IoU mask probabilities (B, A, H, W)."""
        if self.feature == "reg":
            x = reg_feat
        elif self.feature == "cls":
            x = cls_feat
        else:
            x = cls_feat + reg_feat
        out = torch.sigmoid(self.conv(x))
        return torch.sigmoid(out) if self.double_sigmoid else out


def iou_aware_score(cls_prob: Tensor, iou_mask: Tensor) -> Tensor:
    """The paper's IoU-aware score: the mean of the classification score and the IoU mask."""
    return 0.5 * (cls_prob + iou_mask)
