"""Issue 17's fidelity switches: each one acts, is validated, and leaves every cached run valid.

The switches make each deviation of the fidelity review (``../shared/notes/fidelity-review.md``)
selectable: the mmdetection loss normalisers (``stage*.loss_norm``; hand-computed in
``test_blocks.py``), the adaptive / deformable conv init (``deform_init``), the stage-1 dilation
(``stage1_dilation``), clipping of the stage-1 boxes (``clip_stage1``), the three IoU-mask readings
(``iou_mask.double_sigmoid`` x ``iou_mask.second_sigmoid``), PosR's rounded region
(``assigner.region_rule``); the stage-1 loss form and weight were already keys (``reg_loss:
iou_log``, ``reg_weight``). Their defaults are the study's first readings, so that every committed
run keeps its fingerprint (:data:`scrpn.study.runs.LATER_KEYS_AT_FIRST_VALUE`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from scrpn.config import ConfigError, load_config
from scrpn.build import build_head
from scrpn.models.heads.alignment import AdaptiveConv, PointAlignment, box_to_offsets
from scrpn.models.heads.iou_mask import IoUMaskBranch
from scrpn.models.heads.stages import clip_to_images, stage1_dilation
from scrpn.ops import DeformConv2d
from scrpn.sampling.positive_region import PositiveRegionAssigner
from scrpn.study import Study, config_fingerprint
from scrpn.study.runs import LATER_KEYS_AT_FIRST_VALUE, SCHEDULE_RUNGS

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- fingerprints of cached runs
def _committed_runs():
    for path in sorted((ROOT / "results" / "runs").glob("*/seed*/metrics.json")):
        yield path, json.loads(path.read_text(encoding="utf-8"))


def test_every_committed_run_keeps_its_fingerprint():
    """Each committed run is valid for the row its folder names (what the study reads). A run whose
    recorded name differs from its folder was kept as a ``diag_`` row when a default changed
    (issue 18: the first study's Cascade RPN runs); the record itself is left as it was written."""
    checked = 0
    for path, record in _committed_runs():
        dataset = record.get("dataset")
        row = path.parent.parent.name
        profile = record.get("profile", "mini")
        rung = next((r for r in SCHEDULE_RUNGS if row.startswith(f"s{r}_")), None)
        if rung is not None:         # experiment 10's schedule rungs: s4x_ROW is ROW at profile 4x
            row, profile = row.removeprefix(f"s{rung}_"), rung
        if dataset not in (None, "synthshapes"):
            row = row.removeprefix(f"{dataset}_")
        if record["name"] != path.parent.parent.name:
            assert row.startswith("diag_"), (path, record["name"])
        study = Study(profile=profile,
                      dataset=None if dataset == "synthshapes" else dataset,
                      config_root=ROOT / "configs")
        assert config_fingerprint(study.config(row, record["seed"])) == record["config_fingerprint"], path
        checked += 1
    assert checked >= 90  # the whole committed study, not a lucky subset


@pytest.mark.parametrize("key,value", [
    ("model.head.stage1_dilation", 2), ("model.head.deform_init", "mmdet"),
    ("model.head.clip_stage1", True), ("model.head.iou_mask.second_sigmoid", "test_only"),
    ("model.head.stage1.loss_norm", "mmdet"), ("model.head.stage2.loss_norm", "mmdet"),
    ("model.head.stage1.assigner.region_rule", "rounded"),
    ("model.head.ga.loc_targets", "mmdet3_inverted"),
    ("model.head.point_offset_scale", 0.5),
])
def test_a_switch_off_its_first_value_changes_the_fingerprint(key, value):
    assert key in LATER_KEYS_AT_FIRST_VALUE
    study = Study(profile="mini", config_root=ROOT / "configs")
    row = {"model.head.stage1_dilation": "cascade_rpn", "model.head.clip_stage1": "cascade_rpn",
           "model.head.deform_init": "cascade_rpn", "model.head.ga.loc_targets": "ga_rpn"}.get(key, "sc_rpn")
    base = config_fingerprint(study.config(row))
    changed = Study(profile="mini", config_root=ROOT / "configs",
                    overrides=[f"{key}={json.dumps(value)}"])
    assert config_fingerprint(changed.config(row)) != base


def test_every_later_key_exists_in_the_schema_with_that_default():
    cfg = load_config(ROOT / "configs" / "mini" / "sc_rpn.yaml").to_dict()
    for key, first in LATER_KEYS_AT_FIRST_VALUE.items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node == first, key


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("sets,message", [
    (["model.head.iou_mask.double_sigmoid=false", "model.head.iou_mask.second_sigmoid=test_only"],
     "second_sigmoid"),
    (["model.head.stage1_dilation=2"], "stage1_dilation"),
    (["model.head.stage1.assigner.region_rule=rounded"], "region_rule"),
    (["model.head.deform_init=xavier"], "deform_init"),
    (["model.head.stage2.loss_norm=detectron"], "loss_norm"),
    (["model.head.point_offset_scale=0.5"], "point_offset_scale"),   # rpn has no secondary offsets
])
def test_dead_or_unknown_settings_are_refused(sets, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT / "configs" / "mini" / "rpn.yaml", sets)


def test_clip_stage1_needs_a_two_stage_anchor_head():
    with pytest.raises(ConfigError, match="clip_stage1"):
        load_config(ROOT / "configs" / "mini" / "sc_rpn.yaml", ["model.head.clip_stage1=true"])
    cfg = load_config(ROOT / "configs" / "mini" / "cascade_rpn.yaml", ["model.head.clip_stage1=true"])
    assert cfg.model.head.clip_stage1


# ---------------------------------------------------------------- stage-1 dilation
def test_stage1_dilation_zero_matches_the_priors_own_taps():
    assert stage1_dilation(4.0, 3) == 3
    assert stage1_dilation(4.0, 0) == 2 and stage1_dilation(8.0, 0) == 4
    # box_to_offsets on the location's own square prior (side 4 cells, stride 8) gives zero
    # offsets exactly when the conv's dilation is 2: the dilated taps are where it samples.
    stride, side = 8.0, 4.0
    prior = torch.tensor([[[(2 - side / 2) * stride, (2 - side / 2) * stride,
                            (2 + side / 2) * stride, (2 + side / 2) * stride]]])  # location (2, 2)
    rows = prior.expand(1, 25, 4).clone()
    ys, xs = torch.meshgrid(torch.arange(5.0), torch.arange(5.0), indexing="ij")
    shift = torch.stack([xs.reshape(-1), ys.reshape(-1), xs.reshape(-1), ys.reshape(-1)], 1) - 2
    rows = rows + shift[None] * stride                                              # each location's prior
    zero = box_to_offsets(rows, stride, (5, 5), dilation=stage1_dilation(4.0, 0))
    assert zero.abs().max().item() == pytest.approx(0.0, abs=1e-6)
    three = box_to_offsets(rows, stride, (5, 5), dilation=3)
    assert three.abs().max().item() == pytest.approx(1.0)  # dilation 3 misses them by a cell


def test_the_head_builds_the_configured_dilation():
    cfg = load_config(ROOT / "configs" / "mini" / "cascade_rpn.yaml",
                      ["model.head.stage1_dilation=0"]).model.head
    head = build_head(cfg, 16)
    assert head.stage1_conv.conv.dilation == (2, 2) and head.stage1_conv.conv.padding == (2, 2)


# ---------------------------------------------------------------- init of adaptive / deform convs
def test_deform_init_mmdet_is_normal_001_without_bias():
    torch.manual_seed(0)
    for module in (AdaptiveConv(64, 64, "offset", init="mmdet"),
                   AdaptiveConv(64, 64, "dilation", init="mmdet"),
                   PointAlignment(64, 64, init="mmdet")):
        assert module.conv.bias is None
        assert 0.009 < module.conv.weight.std().item() < 0.011
        assert abs(module.conv.weight.mean().item()) < 0.001
    default = AdaptiveConv(64, 64, "offset")
    assert isinstance(default.conv, DeformConv2d) and default.conv.bias is not None
    # PyTorch's default: Kaiming-uniform, std = 1 / sqrt(3 fan_in) = 1 / sqrt(3 * 576) ~ 0.024
    assert default.conv.weight.std().item() == pytest.approx(1 / math.sqrt(3 * 576), rel=0.05)


def test_ga_rpn_feature_adaption_follows_deform_init():
    from scrpn.models.heads.ga_rpn import FeatureAdaption
    assert FeatureAdaption(16, 16, 4).conv_adaption.bias is not None
    assert FeatureAdaption(16, 16, 4, init="mmdet").conv_adaption.bias is None


# ---------------------------------------------------------------- clipping of stage-1 boxes
def test_clip_to_images_by_hand():
    boxes = torch.tensor([[[-5.0, 2, 70, 40], [10, -3, 20, 90]],
                          [[-5.0, 2, 70, 40], [10, -3, 20, 90]]])
    out = clip_to_images(boxes, [(50, 64), (32, 16)])   # (height, width) per image
    assert out[0].tolist() == [[0, 2, 64, 40], [10, 0, 20, 50]]
    assert out[1].tolist() == [[0, 2, 16, 32], [10, 0, 16, 32]]


def test_clip_stage1_feeds_stage2_clipped_boxes_and_keeps_the_loss_boxes():
    cfg = load_config(ROOT / "configs" / "mini" / "cascade_rpn.yaml",
                      ["model.head.clip_stage1=true", "model.head.feat_channels=16"]).model.head
    torch.manual_seed(0)
    head = build_head(cfg, 16)
    with torch.no_grad():
        head.stage1_reg.bias.copy_(torch.tensor([0.0, 0.0, 3.0, 3.0]))  # blow every box up
    feats = [torch.randn(1, 16, 64 // s, 64 // s) for s in head.strides]
    out = head(feats, [(40, 48)])
    assert out.init_boxes.min() < 0 and out.init_boxes[..., 2].max() > 48      # loss boxes: raw
    assert out.stage2_priors[..., 0::2].min() >= 0 and out.stage2_priors[..., 2].max() <= 48
    assert out.stage2_priors[..., 3].max() <= 40
    assert not out.stage2_priors.requires_grad


# ---------------------------------------------------------------- the three IoU-mask readings
def _branch(double: bool, second: str) -> IoUMaskBranch:
    branch = IoUMaskBranch(1, 1, "reg", double_sigmoid=double, second_sigmoid=second)
    with torch.no_grad():
        branch.conv.weight.fill_(1.0)
        branch.conv.bias.zero_()
    return branch


@pytest.mark.parametrize("double,second,trained,scored", [
    (True, "train_and_test", "ss", "ss"),     # literal: BCE on s(s(x)), score s(s(x))
    (True, "test_only", "s", "ss"),           # BCE on s(x), score s(s(x))
    (False, "train_and_test", "s", "s"),      # one sigmoid throughout
])
def test_iou_mask_readings(double, second, trained, scored):
    x = torch.tensor([-3.0, 0.0, 2.0]).view(1, 1, 1, 3)
    s = torch.sigmoid
    expect = {"s": s(x), "ss": s(s(x))}
    branch = _branch(double, second)
    out = branch(x, x)
    assert torch.allclose(out, expect[trained])
    assert torch.allclose(branch.score_map(out), expect[scored])


def test_the_literal_mask_loses_its_gradient_where_the_others_keep_it():
    """The fidelity review's collapse: for a negative pushed to x = -6, d BCE / dx of the literal
    reading is (p - t) s'(s(x)) s'(x) with p ~ 0.5; the trained-single readings keep (p - t)."""
    from scrpn import losses as L
    grads = {}
    for name, double, second in (("literal", True, "train_and_test"),
                                 ("test_only", True, "test_only")):
        x = torch.tensor([[[[-6.0]]]], requires_grad=True)
        p = _branch(double, second)(x, x)
        L.bce_on_probabilities(p.reshape(-1), torch.tensor([0.3])).backward()
        grads[name] = x.grad.item()
    s = torch.sigmoid(torch.tensor(-6.0)).item()
    ss = torch.sigmoid(torch.tensor(s)).item()
    assert grads["literal"] == pytest.approx((ss - 0.3) * s * (1 - s), rel=1e-3)   # ~ 5e-4
    assert grads["test_only"] == pytest.approx(s - 0.3, rel=1e-3)                   # ~ -0.3
    assert abs(grads["literal"]) < abs(grads["test_only"]) / 100


def test_the_head_scores_with_the_second_sigmoid_only_at_test_time():
    cfg = load_config(ROOT / "configs" / "mini" / "sc_rpn.yaml",
                      ["model.head.iou_mask.second_sigmoid=test_only",
                       "model.head.feat_channels=16"]).model.head
    torch.manual_seed(0)
    head = build_head(cfg, 16)
    out = head([torch.randn(1, 16, 64 // s, 64 // s) for s in head.strides])
    scores, _ = head.final_scores_and_boxes(out, use_iou_mask=True)
    expect = 0.5 * (out.refined_cls.sigmoid() + torch.sigmoid(out.iou_mask))
    assert torch.allclose(scores, expect)


# ---------------------------------------------------------------- PosR's rounded region
def _points(size: int = 64, strides=(4, 8, 16, 32, 64)):
    pts, counts = [], []
    for s in strides:
        n = size // s
        ys, xs = torch.meshgrid(torch.arange(n) * float(s), torch.arange(n) * float(s), indexing="ij")
        pts.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], 1))
        counts.append(n * n)
    return torch.cat(pts), counts


def test_posr_rounded_region_by_hand():
    """gt (4, 4, 44, 44), base scale 16: side 40 -> level 1 (stride 8, 8x8 cells, offset 256).

    Continuous (sigma 0.2): |x - 24| <= 4 holds the location at 24 only -> cell (3, 3).
    Rounded: in cells (0.5, 0.5, 5.5, 5.5), r = 0.4: lo = 0.6 * 0.5 + 0.4 * 5.5 = 2.5 -> 2 (half to
    even), hi = 0.4 * 0.5 + 0.6 * 5.5 = 3.5 -> 4: cells 2..4 in each axis, 9 locations."""
    points, counts = _points()
    gt = torch.tensor([[4.0, 4.0, 44.0, 44.0]])
    cont = PositiveRegionAssigner(0.2, 16.0).assign(points, counts, gt)
    rnd = PositiveRegionAssigner(0.2, 16.0, region_rule="rounded").assign(points, counts, gt)
    assert torch.nonzero(cont.gt_inds > 0).squeeze(1).tolist() == [256 + 3 * 8 + 3]
    assert torch.nonzero(rnd.gt_inds > 0).squeeze(1).tolist() == [
        256 + y * 8 + x for y in (2, 3, 4) for x in (2, 3, 4)]


def test_posr_rounded_region_never_empties_a_thin_gt():
    """gt (9, 9, 15, 11), 6 x 2 px, level 0 (stride 4): cells x (2.25, 3.75) -> lo 2.85 -> 3,
    hi 3.15 -> 3; y (2.25, 2.75) -> lo 2.45 -> 2, hi 2.55 -> 3. Rounding keeps lo <= hi, so
    the region holds cells (y, x) = (2, 3) and (3, 3); the continuous one holds no location."""
    points, counts = _points()
    gt = torch.tensor([[9.0, 9.0, 15.0, 11.0]])
    rnd = PositiveRegionAssigner(0.2, 16.0, region_rule="rounded").assign(points, counts, gt)
    assert torch.nonzero(rnd.gt_inds > 0).squeeze(1).tolist() == [2 * 16 + 3, 3 * 16 + 3]


def test_posr_rounded_region_falls_back_at_the_image_border():
    """gt (62.5, 9, 64, 11): its rounded region is x cell 16, past the last location (15); the
    fallback takes the nearest location of level 0, (x 60, y 8) (y 8 and 12 tie: lowest index)."""
    points, counts = _points()
    gt = torch.tensor([[62.5, 9.0, 64.0, 11.0]])
    rnd = PositiveRegionAssigner(0.2, 16.0, region_rule="rounded").assign(points, counts, gt)
    assert torch.nonzero(rnd.gt_inds > 0).squeeze(1).tolist() == [2 * 16 + 15]


def test_unknown_region_rule_is_refused():
    with pytest.raises(ValueError, match="region_rule"):
        PositiveRegionAssigner(region_rule="square")


def test_a_checkpoint_from_before_a_later_key_still_resumes():
    """A run saved before a fidelity switch existed resumes and evaluates: the missing key counts as
    its first value (and only at that value)."""
    from scrpn.engine.checkpoint import config_difference
    current = load_config(ROOT / "configs" / "mini" / "ga_rpn.yaml").to_dict()
    saved = json.loads(json.dumps(current))
    del saved["model"]["head"]["ga"]["loc_targets"]
    assert config_difference(saved, current, ("model", "train")) == []
    current["model"]["head"]["ga"]["loc_targets"] = "mmdet3_inverted"
    assert config_difference(saved, current, ("model",)) == ["model.head.ga.loc_targets"]


# ---------------------------------------------------------------- point heads' secondary offsets
def test_point_offset_scale_halves_the_secondary_offsets():
    """Scale 0.5 with raw offsets 2r decodes to the boxes of scale 1 with r (experiment 6, P2)."""
    torch.manual_seed(0)
    half = build_head(load_config(ROOT / "configs" / "mini" / "t3_point.yaml",
                                  ["model.head.point_offset_scale=0.5"]).model.head, 16)
    full = build_head(load_config(ROOT / "configs" / "mini" / "t3_point.yaml").model.head, 16)
    assert half.point_offset_scale == 0.5 and full.point_offset_scale == 1.0
    n = 6
    raw, init = torch.randn(1, n, 18), torch.randn(1, n, 18)
    centers = torch.rand(n, 2) * 64
    a = half._decode(1, 2 * raw, init, centers, 8)
    b = full._decode(1, raw, init, centers, 8)
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(full._decode(1, 2 * raw, init, centers, 8), b)
