"""Random sampler: counts, determinism, ignored priors, negatives filling the batch."""
import torch

from scrpn.sampling.assign_result import AssignResult
from scrpn.sampling.sampler import RandomSampler


def make_result(num_pos: int, num_neg: int, num_ignore: int) -> AssignResult:
    gt_inds = torch.cat([torch.full((num_pos,), 1), torch.zeros(num_neg, dtype=torch.long),
                         torch.full((num_ignore,), -1)])
    perm = torch.randperm(gt_inds.numel(), generator=torch.Generator().manual_seed(0))
    gt_inds = gt_inds[perm]
    return AssignResult(num_gts=1, gt_inds=gt_inds, max_overlaps=torch.zeros(gt_inds.numel()))


def test_counts_with_many_positives():
    res = make_result(300, 1000, 50)
    sampler = RandomSampler(num=256, pos_fraction=0.5)
    pos, neg = sampler.sample(res, torch.Generator().manual_seed(1))
    assert pos.numel() == 128 and neg.numel() == 128
    assert (res.gt_inds[pos] > 0).all() and (res.gt_inds[neg] == 0).all()
    assert pos.unique().numel() == 128 and neg.unique().numel() == 128
    assert pos.tolist() == sorted(pos.tolist()) and pos.dtype == torch.long


def test_fewer_positives_negatives_fill_up_to_num():
    res = make_result(10, 1000, 50)
    pos, neg = RandomSampler().sample(res, torch.Generator().manual_seed(1))
    assert pos.numel() == 10 and neg.numel() == 246


def test_ignored_priors_are_never_sampled():
    res = make_result(5, 20, 500)  # fewer candidates than num: everything usable is taken
    pos, neg = RandomSampler().sample(res)
    assert pos.numel() == 5 and neg.numel() == 20
    assert (res.gt_inds[torch.cat([pos, neg])] >= 0).all()


def test_deterministic_with_a_seeded_generator():
    res = make_result(300, 1000, 50)
    sampler = RandomSampler()
    first = sampler.sample(res, torch.Generator().manual_seed(7))
    again = sampler.sample(res, torch.Generator().manual_seed(7))
    other = sampler.sample(res, torch.Generator().manual_seed(8))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[1], other[1])


def test_neg_pos_upper_bound():
    res = make_result(10, 1000, 0)
    pos, neg = RandomSampler(neg_pos_ub=3).sample(res, torch.Generator().manual_seed(0))
    assert pos.numel() == 10 and neg.numel() == 30
    pos, neg = RandomSampler(neg_pos_ub=3).sample(make_result(0, 1000, 0))
    assert pos.numel() == 0 and neg.numel() == 3  # at least one positive is assumed


def test_empty_assignment():
    res = AssignResult.all_negative(0, 0)
    pos, neg = RandomSampler().sample(res)
    assert pos.shape == (0,) and neg.shape == (0,)
