"""Table I's peers are configurations with mmdetection's hyper-parameters (reference-facts.md),
and Iterative RPN's two classifying stages use stage 2's score at test."""
from pathlib import Path

import torch

from scrpn.config import load_config
from scrpn.build import build_head
from scrpn.study.runs import row_folders

MINI = Path(__file__).parents[1] / "configs" / "mini"


def _cfg(name):   # a row in any of the profile's folders (the diagnostics' too)
    return load_config(next(d / f"{name}.yaml" for d in row_folders(MINI) if (d / f"{name}.yaml").is_file()))


def test_cascade_rpn_matches_mmdetection():
    cfg = _cfg("cascade_rpn")
    h, s1, s2 = cfg.model.head, cfg.model.head.stage1, cfg.model.head.stage2
    assert (h.type, h.anchor_ratios, h.num_stages, h.stage1_conv, h.alignment) == (
        "two_stage", [1.0], 2, "dilation", "offset")
    assert h.anchor_scale == 4.0 and not h.iou_mask.enabled
    assert (s1.assigner.type, s1.assigner.center_ratio, s1.assigner.ignore_ratio) == ("region", 0.2, 0.5)
    assert (s1.cls_weight, s1.reg_loss, s1.reg_weight, s1.target_stds) == (0.0, "iou", 10.0, [0.1, 0.1, 0.5, 0.5])
    a2 = s2.assigner
    assert (a2.type, a2.pos_iou_thr, a2.neg_iou_thr, a2.min_pos_iou) == ("max_iou", 0.7, 0.7, 0.3)
    assert (s2.sampler.num, s2.sampler.pos_fraction) == (256, 0.5)
    assert (s2.cls_weight, s2.reg_loss, s2.reg_weight, s2.target_stds) == (1.0, "iou", 10.0, [0.05, 0.05, 0.1, 0.1])
    t = cfg.model.test
    assert (t.nms_pre, t.nms_thr, t.max_per_img, t.cross_level_nms) == (2000, 0.8, 1000, False)
    assert cfg.train.grad_clip == 35.0
    # issue 18, experiment 1 (arm A): mmdetection's loss normalisers are the method's default; the
    # first study's reading stays as the diag row, with the old fingerprint
    assert (s1.loss_norm, s2.loss_norm) == ("mmdet", "mmdet")
    old = _cfg("diag_cascade_rpn_paper_norm").model.head
    assert (old.stage1.loss_norm, old.stage2.loss_norm) == ("paper", "paper")


def test_iterative_rpn_is_rpn_twice_without_alignment():
    cfg = _cfg("iterative_rpn")
    h = cfg.model.head
    assert (h.type, h.anchor_ratios, h.num_stages, h.stage1_conv, h.alignment) == (
        "two_stage", [0.5, 1.0, 2.0], 2, "conv", "none")
    for stage in (h.stage1, h.stage2):
        a = stage.assigner
        assert (a.type, a.pos_iou_thr, a.neg_iou_thr, a.min_pos_iou) == ("max_iou", 0.7, 0.3, 0.3)
        assert (stage.cls_weight, stage.reg_loss) == (1.0, "l1")
    t = cfg.model.test
    assert (t.nms_thr, t.max_per_img, t.cross_level_nms) == (0.7, 1000, False)


def test_iterative_rpn_trains_both_classifiers_and_scores_with_stage_2():
    cfg = load_config(MINI / "iterative_rpn.yaml", ["model.head.feat_channels=16"])
    torch.manual_seed(0)
    head = build_head(cfg.model.head, 16)
    head.generator = torch.Generator().manual_seed(0)
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(1, 16, 64 // s, 64 // s, generator=g) for s in (4, 8, 16, 32, 64)]
    out = head(feats)
    assert head.num_anchors == 3 and out.refined_boxes.shape == out.init_boxes.shape
    losses = head.loss(out, [{"boxes": torch.tensor([[4.0, 6.0, 40.0, 30.0]]),
                              "iscrowd": torch.tensor([False])}])
    assert set(losses) == {"loss_s1_cls", "loss_s1_reg", "loss_s2_cls", "loss_s2_reg"}
    scores, boxes = head.final_scores_and_boxes(out, use_iou_mask=True)
    assert torch.equal(scores, out.refined_cls.sigmoid()) and boxes is out.refined_boxes


def test_ga_rpn_matches_mmdetection():
    cfg = _cfg("ga_rpn")
    h, ga, s1 = cfg.model.head, cfg.model.head.ga, cfg.model.head.stage1
    assert (h.type, h.anchor_scale, h.anchor_ratios, ga.scales_per_octave) == ("ga_rpn", 4.0, [0.5, 1.0, 2.0], 3)
    assert (ga.center_ratio, ga.ignore_ratio, ga.focal_alpha, ga.focal_gamma) == (0.2, 0.5, 0.25, 2.0)
    assert (ga.bounded_iou_beta, ga.loc_filter_thr, ga.anchoring_stds) == (0.2, 0.01, [0.07, 0.07, 0.14, 0.14])
    assert (ga.assigner.pos_iou_thr, ga.assigner.neg_iou_thr, ga.sampler.num) == (0.7, 0.3, 256)
    assert (s1.assigner.pos_iou_thr, s1.assigner.neg_iou_thr, s1.sampler.num, s1.sampler.pos_fraction) == (
        0.7, 0.3, 256, 0.5)
    assert (s1.reg_loss, s1.smooth_l1_beta, s1.target_stds) == ("smooth_l1", 1.0, [0.07, 0.07, 0.11, 0.11])
    t = cfg.model.test
    assert (t.nms_pre, t.nms_thr, t.max_per_img, t.cross_level_nms) == (2000, 0.7, 1000, False)
