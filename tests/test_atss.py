"""ATSS (scrpn/sampling/atss.py) on a hand-made case: the SADS inspector's comparison rule.

Two levels (counts 3 and 2), one gt g = [0, 0, 10, 10] (centre (5, 5), area 100), k = 3. The
boxes are given directly (the assigner reads boxes, location centres and level counts):

  level 0  p0 centre (5, 5)    box [0, 0, 10, 10]  IoU 1          distance 0   inside g
           p1 centre (5, 15)   box [0, 0, 10, 5]   IoU 50/100=.5  distance 10  outside (y = 15)
           p2 centre (16, 5)   box [0, 0, 5, 10]   IoU 50/100=.5  distance 11  outside (x = 16)
  level 1  q0 centre (8, 8)    box [0, 0, 10, 20]  IoU 100/200=.5 distance 4.2 inside g
           q1 centre (30, 30)  box [20, 20, 30, 30] IoU 0         distance 35  outside

Level 0 has 3 locations (all candidates), level 1 has 2 < k (both, one slot padded).
D_g = [1, .5, .5, .5, 0]: mean 2.5 / 5 = 0.5; unbiased variance
(.25 + 0 + 0 + 0 + .25) / 4 = 0.125, std = sqrt(0.125) = 0.353553; t_g = 0.853553.
Positive: IoU >= t_g and centre inside g -> p0 only. q0 (IoU .5, inside) is negative.
SAT's mean threshold (0.5, strict >) would not take q0 either: .5 > .5 is false.
"""
from __future__ import annotations

import math

import torch

from scrpn.build import build_assigner
from scrpn.config import AssignerConfig
from scrpn.sampling import ATSSAssigner, PriorSet

BOXES = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 5, 10],
                      [0, 0, 10, 20], [20, 20, 30, 30]])
CENTRES = torch.tensor([[5.0, 5], [5, 15], [16, 5], [8, 8], [30, 30]])
COUNTS = [3, 2]
GT = torch.tensor([[0.0, 0, 10, 10]])


def test_atss_threshold_and_positives_by_hand():
    result = ATSSAssigner(topk=3, strides=(4, 8)).assign(BOXES, CENTRES, COUNTS, GT)
    assert result.gt_inds.tolist() == [1, 0, 0, 0, 0]
    assert math.isclose(float(result.info["means"][0]), 0.5, abs_tol=1e-6)
    assert math.isclose(float(result.info["stds"][0]), math.sqrt(0.125), abs_tol=1e-6)
    assert math.isclose(float(result.info["thresholds"][0]), 0.5 + math.sqrt(0.125), abs_tol=1e-6)
    # level 0 nearest first (p0, p1, p2), then level 1 (q0, q1, padding)
    assert result.info["candidates"][0].tolist() == [0, 1, 2, 3, 4, -1]
    assert torch.allclose(result.info["candidate_ious"][0], torch.tensor([1.0, .5, .5, .5, 0, 0]))


def test_a_location_positive_for_two_gts_goes_to_the_higher_iou():
    # g2 = [0, 0, 10, 11]: p0's IoU with it is 100/110 = 0.909; with g1 it is 1 -> p0 stays g1's.
    gts = torch.cat([GT, torch.tensor([[0.0, 0, 10, 11]])])
    result = ATSSAssigner(topk=3, strides=(4, 8)).assign(BOXES, CENTRES, COUNTS, gts)
    assert int(result.gt_inds[0]) == 1


def test_no_gt_and_crowd_boxes():
    empty = ATSSAssigner(topk=3, strides=(4, 8)).assign(BOXES, CENTRES, COUNTS, torch.zeros(0, 4))
    assert empty.gt_inds.tolist() == [0] * 5
    # a crowd box around q1's centre (30, 30): q1 is not positive, so it is ignored (-1)
    crowd = ATSSAssigner(topk=3, strides=(4, 8)).assign(BOXES, CENTRES, COUNTS, GT,
                                                        torch.tensor([[25.0, 25, 35, 35]]))
    assert crowd.gt_inds.tolist() == [1, 0, 0, 0, -1]


def test_the_builder_and_the_interface_give_the_same_rule():
    assigner = build_assigner(AssignerConfig(type="atss", topk=3), 16.0, (4, 8))
    assert isinstance(assigner, ATSSAssigner) and assigner.topk == 3
    via = assigner.assign_priors(PriorSet(BOXES, CENTRES, COUNTS), GT)
    assert via.gt_inds.tolist() == [1, 0, 0, 0, 0]
