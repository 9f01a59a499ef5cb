"""The shared two-stage head: every study config builds, trains one step and predicts.

The head is exercised on a random 5-level pyramid (no backbone) so that each config costs
milliseconds; the full network is covered by tests/test_proposal_network.py.
"""
from pathlib import Path

import pytest
import torch

from scrpn.config import load_config
from scrpn.build import build_head
from scrpn.models.heads.iou_mask import iou_targets
from scrpn.models.heads.stages import point_prior_grid

CONFIGS = sorted(p for p in (Path(__file__).parents[1] / "configs" / "mini").glob("**/*.yaml")
                 if not p.name.startswith("_") and p.parent.name != "datasets")   # every row, in every folder
STRIDES = (4, 8, 16, 32, 64)


def _pyramid(size=64, channels=16, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, channels, size // s, size // s, generator=g) for s in STRIDES]


def _targets(batch=2):
    t = {"boxes": torch.tensor([[4.0, 6.0, 40.0, 30.0], [30.0, 30.0, 36.0, 62.0], [0.0, 0.0, 64.0, 64.0]]),
         "iscrowd": torch.tensor([False, False, True]), "img_shape": (64, 64)}
    empty = {"boxes": torch.zeros(0, 4), "iscrowd": torch.zeros(0, dtype=torch.bool), "img_shape": (64, 64)}
    return [t, empty][:batch]


def _head(path):
    cfg = load_config(path, ["model.head.feat_channels=16"])
    torch.manual_seed(0)
    return build_head(cfg.model.head, 16, STRIDES), cfg


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_config_trains_a_step(path):
    if load_config(path).model.head.type != "two_stage":
        pytest.skip("not the two-stage head: see tests/test_ga_rpn.py")
    head, cfg = _head(path)
    head.generator = torch.Generator().manual_seed(0)
    out = head(_pyramid())
    n = sum((64 // s) ** 2 for s in STRIDES) * head.num_anchors
    assert out.init_boxes.shape == (2, n, 4)
    assert sum(out.num_per_level) == n
    losses = head.loss(out, _targets())
    assert losses and all(torch.isfinite(v) for v in losses.values())
    expected = {"loss_s1_reg"} | ({"loss_s1_cls"} if cfg.model.head.stage1.cls_weight > 0 else set())
    if cfg.model.head.num_stages == 2:
        expected |= {"loss_s2_reg", "loss_s2_cls"}
    if cfg.model.head.iou_mask.enabled:
        expected |= {"loss_mask"}
    assert set(losses) == expected
    sum(losses.values()).backward()
    assert head.stage1_reg.weight.grad is not None and head.stage1_reg.weight.grad.abs().sum() > 0


def test_point_prior_is_the_square_anchor():
    grid = point_prior_grid(4.0).view(9, 2)
    assert torch.equal(grid[0], torch.tensor([-2.0, -2.0])) and torch.equal(grid[8], torch.tensor([2.0, 2.0]))
    head, _ = _head(CONFIGS[[p.stem for p in CONFIGS].index("sc_rpn")])
    torch.nn.init.zeros_(head.stage1_reg.weight)
    torch.nn.init.zeros_(head.stage1_reg.bias)
    out = head(_pyramid(batch=1))
    # With zero predicted offsets every init box is the location's square prior (side 4 x stride).
    assert torch.allclose(out.init_boxes[0], out.priors, atol=1e-5)


def test_two_stage_scores_and_boxes_come_from_stage2():
    head, _ = _head(CONFIGS[[p.stem for p in CONFIGS].index("sc_rpn")])
    out = head(_pyramid(batch=1))
    scores, boxes = head.final_scores_and_boxes(out, use_iou_mask=True)
    expected = 0.5 * (out.refined_cls.sigmoid() + out.iou_mask)
    assert torch.allclose(scores, expected) and boxes is out.refined_boxes
    scores, _ = head.final_scores_and_boxes(out, use_iou_mask=False)
    assert torch.allclose(scores, out.refined_cls.sigmoid())


def test_iou_targets_use_assigned_gt_for_positives_and_best_for_others():
    gts = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 5.0]])
    boxes = torch.tensor([[0.0, 0.0, 10.0, 5.0], [0.0, 0.0, 10.0, 5.0]])
    t = iou_targets(boxes, torch.tensor([1, 0]), gts)
    assert torch.allclose(t, torch.tensor([0.5, 1.0]))
    assert iou_targets(boxes, torch.tensor([0, 0]), torch.zeros(0, 4)).tolist() == [0.0, 0.0]


def test_loss_is_deterministic_given_the_generator():
    head, _ = _head(CONFIGS[[p.stem for p in CONFIGS].index("sc_rpn")])
    feats = _pyramid()
    vals = []
    for _ in range(2):
        head.generator = torch.Generator().manual_seed(3)
        vals.append({k: v.item() for k, v in head.loss(head(feats), _targets()).items()})
    assert vals[0] == vals[1]
