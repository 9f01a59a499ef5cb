"""GA-RPN's own parts: location targets, approximate-anchor shape targets, its two losses, the
location filter at test, and one training step of the head.

Location targets use two levels, strides 4 (8 x 8 cells) and 8 (4 x 4), base scale 16: level 0
holds areas [128, 512), level 1 [512, 2048).
"""
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from scrpn import losses as L
from scrpn import config as C
from scrpn.config import ConfigError, config_from_dict, load_config
from scrpn.build import build_head, build_selection
from scrpn.models.heads.ga_rpn import (approx_overlaps, assign_shapes,
                                       location_targets)
from scrpn.models.proposal_network import ProposalNetwork
from scrpn.sampling.max_iou import MaxIoUAssigner

SIZES, STRIDES = [(8, 8), (4, 4)], (4, 8)
CONFIG = Path(__file__).parents[1] / "configs" / "mini" / "ga_rpn.yaml"


def cells(level, rows, cols):
    width, start = (8, 0) if level == 0 else (4, 64)
    return sorted(start + r * width + c for r in rows for c in cols)


def loc_targets(boxes):
    return location_targets(torch.tensor(boxes).reshape(-1, 4), SIZES, STRIDES, 16.0)


def test_location_targets_centre_ignore_adjacent_and_negatives():
    t, w = loc_targets([[0.0, 0.0, 16.0, 16.0]])   # area 256 -> level 0
    centre = cells(0, [2], [2])                    # cells [0, 4]: centre 0.2 -> cell 2
    assert t.nonzero()[:, 0].tolist() == centre and w[centre].tolist() == [1.0]
    zero = (w == 0).nonzero()[:, 0].tolist()       # ignore 0.5 -> cells [1, 3]; stride 8: [0, 2]
    assert zero == [i for i in cells(0, [1, 2, 3], [1, 2, 3]) if i not in centre] + cells(1, [0, 1, 2], [0, 1, 2])
    assert int((w == 0.1).sum()) == 80 - 1 - 17


def test_later_ignore_region_zeroes_an_earlier_centre_weight_but_adjacent_ignore_does_not():
    a, b = [0.0, 0.0, 16.0, 16.0], [4.0, 4.0, 20.0, 20.0]   # both level 0; b's ignore: cells [2, 4]
    t, w = loc_targets([a, b])
    assert t[cells(0, [2], [2])].item() == 1.0 and w[cells(0, [2], [2])].item() == 0.0
    assert t[cells(0, [3], [3])].item() == 1.0 and w[cells(0, [3], [3])].item() == 1.0
    # the level-1 gt's centre (2, 2) lies in the small gt's adjacent ignore region: it stays 1,
    # because adjacent ignore regions only touch cells no gt has set on that level
    t, w = loc_targets([a, [0.0, 0.0, 32.0, 32.0]])
    assert t[cells(1, [2], [2])].item() == 1.0 and w[cells(1, [2], [2])].item() == 1.0


def test_location_targets_empty_gt_all_negative():
    t, w = location_targets(torch.zeros(0, 4), SIZES, STRIDES, 16.0)
    assert t.shape == w.shape == (80,) and t.sum() == 0 and torch.all(w == 0.1)


def test_shape_targets_use_the_best_approximate_anchor():
    squares = torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    approxs = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 20.0, 5.0],       # location 0
                            [50.0, 50.0, 60.0, 60.0], [50.0, 50.0, 70.0, 55.0]])  # location 1
    gt = torch.tensor([[0.0, 0.0, 20.0, 5.0]])
    assert approx_overlaps(approxs, gt, 2)[:, 0].tolist() == [1.0, 0.0]
    # the square alone has IoU 50 / 150 = 1/3 < 0.7; its second approx matches exactly
    res = assign_shapes(MaxIoUAssigner(0.7, 0.3, 0.3), approxs, squares, 2, gt)
    assert res.gt_inds.tolist() == [1, 0]
    empty = assign_shapes(MaxIoUAssigner(0.7, 0.3, 0.3), approxs, squares, 2, torch.zeros(0, 4))
    assert empty.gt_inds.tolist() == [0, 0]


def test_bounded_iou_loss_hand_worked_pair():
    pred, target = torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.tensor([[1.0, 0.0, 11.0, 10.0]])
    # dx = 1: 1 - (10 - 2) / (10 + 2 + 1e-3) = 0.33339 >= beta -> minus beta / 2;
    # dy, dw, dh: 1 - 10 / 10.001 ~ 1e-4 < beta -> 0.5 l^2 / beta ~ 2.5e-8 each
    small = 1 - 10 / 10.001
    expected = (1 - 8 / 12.001) - 0.1 + 3 * 0.5 * small ** 2 / 0.2
    assert L.bounded_iou_loss(pred, target, beta=0.2).item() == pytest.approx(expected, abs=1e-6)
    assert L.bounded_iou_loss(pred, pred, beta=0.2).item() == pytest.approx(0.0, abs=1e-6)
    assert L.bounded_iou_loss(torch.zeros(0, 4), torch.zeros(0, 4)).item() == 0.0


def test_focal_loss_values():
    logits, targets = torch.zeros(2), torch.tensor([1.0, 0.0])
    # p = 0.5: BCE ln 2, modulator 0.5^2; alpha 0.25 for the positive, 0.75 for the negative
    pos, neg = math.log(2) * 0.25 * 0.25, math.log(2) * 0.75 * 0.25
    assert L.sigmoid_focal_loss(logits, targets).item() == pytest.approx(pos + neg, rel=1e-6)
    weighted = L.sigmoid_focal_loss(logits, targets, torch.tensor([1.0, 0.1]))
    assert weighted.item() == pytest.approx(pos + 0.1 * neg, rel=1e-6)


def _head(**overrides):
    sets = ["model.head.feat_channels=16"] + [f"{k}={v}" for k, v in overrides.items()]
    torch.manual_seed(0)
    return build_head(load_config(CONFIG, sets).model.head, 16, (4, 8, 16, 32, 64))


def _pyramid(size=64, batch=2):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(batch, 16, size // s, size // s, generator=g) for s in (4, 8, 16, 32, 64)]


def test_head_trains_a_step_with_gt_and_without():
    head = _head()
    head.generator = torch.Generator().manual_seed(0)
    out = head(_pyramid())
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 40.0, 30.0], [30.0, 30.0, 36.0, 62.0], [0, 0, 64, 64.0]]),
                "iscrowd": torch.tensor([False, False, True])},
               {"boxes": torch.zeros(0, 4), "iscrowd": torch.zeros(0, dtype=torch.bool)}]
    losses = head.loss(out, targets)
    assert set(losses) == {"loss_loc", "loss_shape", "loss_cls", "loss_reg"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for layer in (head.conv_loc, head.conv_shape, head.conv_cls, head.conv_reg,
                  head.adaption.conv_adaption, head.rpn_conv):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_zero_shape_gives_the_square_anchors():
    head = _head()
    nn.init.zeros_(head.conv_shape.weight)
    nn.init.zeros_(head.conv_shape.bias)
    out = head(_pyramid(batch=1))
    assert torch.allclose(out.anchors[0], out.squares)


def test_location_filter_at_test():
    head = _head().eval()
    model = ProposalNetwork(nn.Identity(), head, build_selection(C.TestConfig(max_per_img=50))).eval()
    targets = [{"img_shape": (64, 64)}]
    nn.init.zeros_(head.conv_loc.weight)
    nn.init.constant_(head.conv_loc.bias, math.log(0.02 / 0.98))  # p_loc = 0.02 >= 0.01: kept
    out = head(_pyramid(batch=1))
    scores, _ = head.final_scores_and_boxes(out)
    assert torch.allclose(scores, out.cls.sigmoid())
    assert len(model.predict(out, targets)[0]["boxes"]) > 0
    nn.init.constant_(head.conv_loc.bias, math.log(0.005 / 0.995))  # p_loc = 0.005: all dropped
    out = head(_pyramid(batch=1))
    scores, _ = head.final_scores_and_boxes(out)
    assert torch.all(scores == -1)
    assert len(model.predict(out, targets)[0]["boxes"]) == 0


def test_config_rejects_two_stage_switches():
    with pytest.raises(ConfigError, match="ga_rpn"):
        config_from_dict({"model": {"head": {"type": "ga_rpn", "num_stages": 2}}})
    with pytest.raises(ConfigError, match="deform_groups"):
        config_from_dict({"model": {"head": {"type": "ga_rpn", "feat_channels": 18}}})
