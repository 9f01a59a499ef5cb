"""Random positive / negative sampler for the classification loss.

Design choice: mmdetection's RandomSampler rule, so RPN-style baselines and SC-RPN draw their
classification samples the same way: at most int(num * pos_fraction) positives, drawn uniformly
without replacement; negatives fill the batch up to num (capped at neg_pos_ub * max(1, #pos) when
neg_pos_ub >= 0). Ignored priors (-1) are never drawn. Ground truths are not added as proposals.
The draws come from torch.randperm with the caller's generator, so a seeded generator gives the
same samples every time; the returned indices are sorted.
SC-RPN classifies "all the positive samples and the negative samples after random sampling"
without giving a count; we use RPN's num = 256, pos_fraction = 0.5 as mmdetection's RPN does.
"""
import torch
from torch import Tensor
from torch.profiler import record_function

from .assign_result import AssignResult


def random_choice(inds: Tensor, num: int, generator: torch.Generator | None = None) -> Tensor:
    """num elements of inds (all of them if fewer), uniformly without replacement, sorted."""
    if inds.numel() <= num:
        return inds
    device = generator.device if generator is not None else torch.device("cpu")
    perm = torch.randperm(inds.numel(), generator=generator, device=device)[:num]
    perm = perm.to(inds.device)
    return inds[perm].sort().values


class RandomSampler:
    def __init__(self, num: int = 256, pos_fraction: float = 0.5, neg_pos_ub: int = -1):
        self.num = num
        self.pos_fraction = pos_fraction
        self.neg_pos_ub = neg_pos_ub

    @record_function("scrpn::sample")              # a label for `scrpn bench`'s breakdown
    def sample(self, assign_result: AssignResult,
               generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """-> (pos_inds, neg_inds), long indices into the priors."""
        pos_all = assign_result.pos_mask.nonzero()[:, 0]  # (num_pos_all,)
        neg_all = assign_result.neg_mask.nonzero()[:, 0]  # (num_neg_all,)
        pos_inds = random_choice(pos_all, int(self.num * self.pos_fraction), generator)
        num_neg = max(0, self.num - pos_inds.numel())
        if self.neg_pos_ub >= 0:
            num_neg = min(num_neg, int(self.neg_pos_ub * max(1, pos_inds.numel())))
        neg_inds = random_choice(neg_all, num_neg, generator)
        return pos_inds, neg_inds
