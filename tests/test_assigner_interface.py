"""One assigner interface (``scrpn.sampling.priors``): ``assign_priors(PriorSet, gts, ignore)``.

Every assigner the heads build implements it and gives exactly what its own ``assign`` gives
with the arguments of its rule; the head calls only ``assign_priors``.
"""
from __future__ import annotations

import inspect

import torch

from scrpn.sampling import (ATSSAssigner, MaxIoUAssigner, PositiveRegionAssigner, PriorSet,
                            SizeAwareThresholdAssigner)
from scrpn.sampling.region import RegionAssigner

STRIDES = (4, 8, 16, 32, 64)


def _priors(size: int = 64, scale: float = 4.0) -> PriorSet:
    boxes, centres, counts = [], [], []
    for s in STRIDES:
        n = size // s
        ys, xs = torch.meshgrid(torch.arange(n) * float(s), torch.arange(n) * float(s), indexing="ij")
        c = torch.stack([xs.reshape(-1), ys.reshape(-1)], 1)
        half = scale * s / 2
        centres.append(c)
        boxes.append(torch.cat([c - half, c + half], 1))
        counts.append(n * n)
    return PriorSet(torch.cat(boxes), torch.cat(centres), counts)


GTS = torch.tensor([[4.0, 4.0, 44.0, 44.0], [30.0, 2.0, 38.0, 60.0], [50.0, 50.0, 58.0, 54.0]])
IGNORE = torch.tensor([[0.0, 48.0, 16.0, 64.0]])


def test_every_assigner_implements_assign_priors_as_its_own_rule():
    p = _priors()
    cases = [
        (MaxIoUAssigner(0.7, 0.3, 0.3), lambda a: a.assign(p.boxes, GTS, IGNORE)),
        (PositiveRegionAssigner(0.2, 16.0, STRIDES),
         lambda a: a.assign(p.centres, p.num_per_level, GTS, IGNORE)),
        (RegionAssigner(center_ratio=0.2, ignore_ratio=0.5, base_scale=16.0, strides=STRIDES),
         lambda a: a.assign(p.boxes, p.num_per_level, GTS, IGNORE)),
        (SizeAwareThresholdAssigner(topk=9, num_levels_used=2, base_scale=16.0, strides=STRIDES),
         lambda a: a.assign(p.boxes, p.centres, p.num_per_level, GTS, IGNORE)),
        (ATSSAssigner(topk=9, strides=STRIDES),
         lambda a: a.assign(p.boxes, p.centres, p.num_per_level, GTS, IGNORE)),
    ]
    for assigner, own in cases:
        via_interface = assigner.assign_priors(p, GTS, IGNORE)
        direct = own(assigner)
        assert torch.equal(via_interface.gt_inds, direct.gt_inds), type(assigner).__name__
        assert (via_interface.gt_inds > 0).any(), type(assigner).__name__


def test_the_head_does_not_dispatch_on_assigner_type():
    from scrpn.models.heads.stages import TwoStageProposalHead
    source = inspect.getsource(TwoStageProposalHead.assign)
    assert "assign_priors" in source
    for kind in ("max_iou", "positive_region", "region", "size_aware_threshold", "atss"):
        assert f'"{kind}"' not in source
