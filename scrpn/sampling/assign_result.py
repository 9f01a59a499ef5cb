"""The result every assigner returns.

Design choice: one small container with mmdetection's encoding of an assignment, so that the
losses, the sampler and the inspector never need to know which assigner produced it.
`gt_inds[p]` is -1 for an ignored prior, 0 for a negative and k >= 1 for a positive assigned to
gt k - 1. Per-gt diagnostics an assigner wants to expose (SAT's thresholds and candidates) go in
`info`; they are never read by the training code.
"""
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class AssignResult:
    num_gts: int
    gt_inds: Tensor  # (num_priors,) long: -1 ignore, 0 negative, k >= 1 -> gt k - 1
    max_overlaps: Tensor  # (num_priors,) float: IoU with the assigned / best gt, 0 if undefined
    labels: Tensor | None = None  # (num_priors,) long, optional (RPN is class agnostic)
    info: dict[str, Tensor] = field(default_factory=dict)

    @classmethod
    def all_negative(cls, num_priors: int, num_gts: int,
                     device: torch.device | str = "cpu") -> "AssignResult":
        """Every prior negative (0), overlaps 0: the answer when there is no gt or no prior."""
        return cls(num_gts=num_gts,
                   gt_inds=torch.zeros(num_priors, dtype=torch.long, device=device),
                   max_overlaps=torch.zeros(num_priors, dtype=torch.float32, device=device))

    @property
    def num_priors(self) -> int:
        return int(self.gt_inds.numel())

    @property
    def pos_mask(self) -> Tensor:  # (num_priors,) bool
        return self.gt_inds > 0

    @property
    def neg_mask(self) -> Tensor:  # (num_priors,) bool
        return self.gt_inds == 0

    @property
    def ignore_mask(self) -> Tensor:  # (num_priors,) bool
        return self.gt_inds < 0

    @property
    def pos_assigned_gt_inds(self) -> Tensor:  # (num_pos,) long, 0-based gt index
        return self.gt_inds[self.pos_mask] - 1
