"""Run mmdetection 3.3's own functions on fixed inputs; write tests/fixtures/mmdet/*.json.

Dev-only (issue 17). Run with the reference venv that ``build_env.sh`` creates::

    tools/mmdet_reference/.venv/bin/python tools/mmdet_reference/make_fixtures.py

The project's tests (``tests/test_parity_mmdet.py``) read the fixtures only; mmdetection is never
imported by ``scrpn`` or its tests. Every fixture holds its inputs next to mmdetection's outputs,
so a test rebuilds nothing but the project's side. The output is deterministic: rerunning the
generator rewrites every file byte for byte (JSON, sorted keys, floats as float32 rounded to 7
significant digits; label vectors stored sparsely as the indices and values that are not 0).

Fixed inputs (``INPUTS``): a 256 x 256 image, strides 4-64, anchor scales 4 and 8, and gts that
cover a tiny box, 1:8 and 8:1 slender boxes, an overlapping pair, boxes touching the border,
boxes on the eq. (1) level boundaries, one crowd box, and an image without gts. Predictions for
the loss fixtures are a closed-form function of the index (:func:`pattern`), written out in the
test too, so that no large tensor is stored.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmdet.models.dense_heads.cascade_rpn_head import StageCascadeRPNHead
from mmdet.models.dense_heads.guided_anchor_head import GuidedAnchorHead
from mmdet.models.dense_heads.rpn_head import RPNHead
from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss
from mmdet.models.losses.iou_loss import bounded_iou_loss, iou_loss
from mmdet.models.losses.smooth_l1_loss import l1_loss, smooth_l1_loss
from mmdet.models.task_modules.assigners import (ApproxMaxIoUAssigner, MaxIoUAssigner,
                                                 RegionAssigner)
from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmdet.utils import register_all_modules

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "mmdet"
IMAGE = (256, 256)                                      # (height, width)
STRIDES = [4, 8, 16, 32, 64]
SIZES = [(IMAGE[0] // s, IMAGE[1] // s) for s in STRIDES]
# x1, y1, x2, y2 in pixels. Level boundaries: with base scale 16 (anchor scale 4), eq. (1) puts
# sqrt(area) 22.6 (= 16 * sqrt 2) on the 0 / 1 boundary; with base 32 at 45.3.
GTS = [
    [100.0, 100.0, 103.0, 104.0],    # tiny, 3 x 4
    [20.0, 40.0, 28.0, 104.0],       # slender 1:8 (8 x 64)
    [120.0, 20.0, 184.0, 28.0],      # slender 8:1 (64 x 8)
    [60.0, 140.0, 140.0, 220.0],     # overlapping pair
    [90.0, 160.0, 170.0, 230.0],
    [0.0, 0.0, 40.0, 30.0],          # touches the top-left border
    [200.0, 190.0, 256.0, 256.0],    # touches the bottom-right border
    [150.0, 60.0, 172.6, 82.6],      # sqrt(area) 22.6: base-16 level boundary
    [30.0, 150.0, 75.3, 195.3],      # sqrt(area) 45.3: base-32 level boundary
    [180.0, 100.0, 244.0, 164.0],    # 64 x 64
]
CROWD = [[0.0, 200.0, 50.0, 250.0]]


def f32(x: float) -> float:
    """A float32 value written with 7 significant digits (stable across runs and platforms)."""
    return float(f"{float(torch.tensor(x, dtype=torch.float32)):.7g}")


def floats(t: torch.Tensor) -> list:
    return [f32(v) for v in t.reshape(-1).tolist()]


def sparse(t: torch.Tensor) -> dict:
    """A label vector as its length and the (index, value) pairs that are not 0."""
    flat = t.reshape(-1)
    idx = torch.nonzero(flat != 0).squeeze(1)
    values = flat[idx].tolist()
    return {"n": flat.numel(), "index": idx.tolist(),
            "value": [int(v) if float(v).is_integer() else f32(v) for v in values]}


def pattern(n: int, width: int, a: float, b: float, scale: float) -> torch.Tensor:
    """(n, width) predictions: scale * sin(a * k + b) for k = 0 .. n * width - 1 (float64 -> float32)."""
    k = torch.arange(n * width, dtype=torch.float64)
    return (scale * torch.sin(a * k + b)).to(torch.float32).reshape(n, width)


def write(name: str, data: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    (OUT / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    print(f"{name}.json: {len(text) / 1024:.1f} KiB")


def gts() -> torch.Tensor:
    return torch.tensor(GTS, dtype=torch.float32)


def instances(boxes) -> InstanceData:
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return InstanceData(bboxes=boxes, labels=torch.zeros(len(boxes), dtype=torch.long))


def anchors(scale: float, ratios, scales_per_octave: int = 1) -> list[torch.Tensor]:
    gen = AnchorGenerator(strides=STRIDES, ratios=ratios, octave_base_scale=scale,
                          scales_per_octave=scales_per_octave)
    return gen.grid_priors(SIZES, device="cpu")


# ------------------------------------------------------------------ components
def anchor_generator() -> None:
    cases = []
    for scale in (4.0, 8.0):
        for ratios in ([0.5, 1.0, 2.0], [1.0]):
            levels = anchors(scale, ratios)
            cat = torch.cat(levels)
            rows = list(range(0, cat.shape[0], 37)) + [cat.shape[0] - 1]
            cases.append({"scale": scale, "ratios": ratios,
                          "num_per_level": [lv.shape[0] for lv in levels],
                          "rows": rows, "anchors": floats(cat[rows])})
    write("anchor_generator", {"strides": STRIDES, "sizes": SIZES, "cases": cases})


def delta_coder() -> None:
    priors = torch.cat(anchors(8.0, [0.5, 1.0, 2.0]))[::211][:60]
    targets = gts()[torch.arange(60) % len(GTS)]
    cases = []
    for stds in ([1.0, 1.0, 1.0, 1.0], [0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1]):
        coder = DeltaXYWHBBoxCoder(target_means=[0.0] * 4, target_stds=stds)
        deltas = coder.encode(priors, targets)
        pred = pattern(60, 4, 0.71, 0.3, 6.0)          # |d| up to 6: exercises wh_ratio_clip
        cases.append({"stds": stds, "encoded": floats(deltas),
                      "decoded": floats(coder.decode(priors, pred)),
                      "decoded_clipped": floats(coder.decode(priors, pred, max_shape=IMAGE))})
    write("delta_coder", {"priors": floats(priors), "gts": floats(targets), "image": IMAGE,
                          "pred": {"n": 60, "width": 4, "a": 0.71, "b": 0.3, "scale": 6.0},
                          "cases": cases})


def max_iou_assigner() -> None:
    priors = torch.cat(anchors(8.0, [0.5, 1.0, 2.0]))
    settings = [
        {"name": "rpn", "pos_iou_thr": 0.7, "neg_iou_thr": 0.3, "min_pos_iou": 0.3,
         "match_low_quality": True, "ignore_iof_thr": -1.0},
        {"name": "cascade_stage2", "pos_iou_thr": 0.7, "neg_iou_thr": 0.7, "min_pos_iou": 0.3,
         "match_low_quality": True, "ignore_iof_thr": -1.0},
        {"name": "rcnn", "pos_iou_thr": 0.5, "neg_iou_thr": 0.5, "min_pos_iou": 0.5,
         "match_low_quality": False, "ignore_iof_thr": -1.0},
        {"name": "crowd_ignored", "pos_iou_thr": 0.7, "neg_iou_thr": 0.3, "min_pos_iou": 0.3,
         "match_low_quality": True, "ignore_iof_thr": 0.5},
    ]
    cases = []
    for s in settings:
        assigner = MaxIoUAssigner(pos_iou_thr=s["pos_iou_thr"], neg_iou_thr=s["neg_iou_thr"],
                                  min_pos_iou=s["min_pos_iou"], match_low_quality=s["match_low_quality"],
                                  ignore_iof_thr=s["ignore_iof_thr"])
        for name, boxes in (("gts", GTS), ("empty", [])):
            res = assigner.assign(InstanceData(priors=priors), instances(boxes),
                                  instances(CROWD) if s["ignore_iof_thr"] > 0 else None)
            pos = res.gt_inds > 0
            cases.append({**s, "image": name, "gt_inds": sparse(res.gt_inds),
                          "pos_max_overlaps": floats(res.max_overlaps[pos])})
    write("max_iou_assigner", {"anchor_scale": 8.0, "ratios": [0.5, 1.0, 2.0], "gts": GTS,
                               "crowd": CROWD, "cases": cases})


def region_assigner() -> None:
    cases = []
    for scale in (4.0, 8.0):
        levels = anchors(scale, [1.0])
        flat = torch.cat(levels)
        assigner = RegionAssigner(center_ratio=0.2, ignore_ratio=0.5)
        for name, boxes in (("gts", GTS), ("empty", [])):
            res = assigner.assign(
                InstanceData(priors=flat, valid_flags=torch.ones(len(flat), dtype=torch.bool)),
                instances(boxes), {"img_shape": IMAGE}, SIZES, [len(lv) for lv in levels],
                scale, STRIDES, allowed_border=-1)
            cases.append({"anchor_scale": scale, "image": name, "gt_inds": sparse(res.gt_inds)})
    write("region_assigner", {"gts": GTS, "center_ratio": 0.2, "ignore_ratio": 0.5, "cases": cases})


def approx_max_iou_assigner() -> None:
    squares = torch.cat(anchors(8.0, [1.0]))
    approxs = torch.cat(anchors(8.0, [0.5, 1.0, 2.0], scales_per_octave=3))
    assigner = ApproxMaxIoUAssigner(pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                                    ignore_iof_thr=-1)
    cases = []
    for name, boxes in (("gts", GTS), ("empty", [])):
        res = assigner.assign(InstanceData(priors=squares, approxs=approxs.view(len(squares), -1, 4)),
                              instances(boxes))
        cases.append({"image": name, "gt_inds": sparse(res.gt_inds)})
    write("approx_max_iou_assigner", {"octave_base_scale": 8.0, "scales_per_octave": 3,
                                      "ratios": [0.5, 1.0, 2.0], "gts": GTS, "cases": cases})


def ga_location_targets() -> None:
    fake = SimpleNamespace(approx_anchor_generator=SimpleNamespace(
        octave_base_scale=8.0, strides=[(s, s) for s in STRIDES]),
        train_cfg={"center_ratio": 0.2, "ignore_ratio": 0.5})
    targets, weights, factor = GuidedAnchorHead.ga_loc_targets(
        fake, [instances(GTS), instances([])], SIZES)
    per_image = []
    for i in range(2):
        t = torch.cat([lv[i].reshape(-1) for lv in targets])
        w = torch.cat([lv[i].reshape(-1) for lv in weights])
        per_image.append({"targets": sparse(t), "weights_not_0.1": sparse(torch.where(
            (w - 0.1).abs() < 1e-6, torch.zeros_like(w), w + 1.0))})   # stored as w + 1 where w != 0.1
    write("ga_location_targets", {"octave_base_scale": 8.0, "center_ratio": 0.2, "ignore_ratio": 0.5,
                                  "gts": [GTS, []], "images": per_image, "avg_factor": f32(factor)})


def cascade_anchor_offset() -> None:
    cases = []
    for scale in (4.0, 8.0):
        levels = anchors(scale, [1.0])
        moved = [lv + pattern(len(lv), 4, 0.37, 1.1, 3.0 * s) for lv, s in zip(levels, STRIDES)]
        for name, boxes in (("priors", levels), ("moved", moved)):
            offsets = [o[0] for o in StageCascadeRPNHead.anchor_offset(None, [boxes], STRIDES, SIZES)]
            rows = [torch.arange(0, len(o), 13) for o in offsets]
            cases.append({"anchor_scale": scale, "boxes": name,
                          "rows": [r.tolist() for r in rows],
                          "offsets": [floats(o[r]) for o, r in zip(offsets, rows)]})
    write("cascade_anchor_offset", {"strides": STRIDES, "sizes": SIZES,
                                    "moved": {"a": 0.37, "b": 1.1, "scale_per_stride": 3.0},
                                    "cases": cases})


def losses() -> None:
    pred = gts()[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]] + pattern(10, 4, 0.9, 0.2, 6.0)
    target = gts()
    out = {
        "iou_linear": f32(iou_loss(pred, target, linear=True, reduction="sum")),
        "iou_log": f32(iou_loss(pred, target, mode="log", reduction="sum")),
        "bounded_iou": f32(bounded_iou_loss(pred, target, beta=0.2, eps=1e-3, reduction="sum")),
        "smooth_l1_beta_1_9": f32(smooth_l1_loss(pred / 50, target / 50, beta=1.0 / 9.0, reduction="sum")),
        "smooth_l1_beta_1": f32(smooth_l1_loss(pred / 50, target / 50, beta=1.0, reduction="sum")),
        "l1": f32(l1_loss(pred / 50, target / 50, reduction="sum")),
    }
    logits = pattern(40, 1, 1.3, 0.0, 4.0).reshape(-1)
    labels = (torch.arange(40) % 3 == 0).float()
    weight = torch.where(torch.arange(40) % 5 == 0, torch.full((40,), 0.1), torch.ones(40))
    out["focal"] = f32(py_sigmoid_focal_loss(logits[:, None], labels[:, None], weight[:, None],
                                             gamma=2.0, alpha=0.25, reduction="sum"))
    write("losses", {"gts": GTS, "pred_noise": {"n": 10, "width": 4, "a": 0.9, "b": 0.2, "scale": 6.0},
                     "logits": {"n": 40, "width": 1, "a": 1.3, "b": 0.0, "scale": 4.0}, "values": out})


# ------------------------------------------------------------------ head losses
def _everything_sampler(num_priors: int) -> dict:
    """A random sampler that draws every positive and every negative: deterministic."""
    return dict(type="RandomSampler", num=num_priors, pos_fraction=1.0, neg_pos_ub=-1,
                add_gt_as_proposals=False)


def _level_maps(flat: torch.Tensor, sizes, per_loc: int, width: int) -> list[torch.Tensor]:
    """(N, width) location-major predictions -> per-level (1, per_loc * width, H, W) maps."""
    maps, start = [], 0
    for h, w in sizes:
        n = h * w * per_loc
        maps.append(flat[start:start + n].reshape(1, h, w, per_loc * width).permute(0, 3, 1, 2).contiguous())
        start += n
    return maps


def rpn_loss() -> None:
    levels = anchors(8.0, [0.5, 1.0, 2.0])
    n = sum(len(lv) for lv in levels)
    train_cfg = ConfigDict(assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3,
                                         min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
                           sampler=_everything_sampler(n), allowed_border=-1, pos_weight=-1, debug=False)
    head = RPNHead(in_channels=8, feat_channels=8, num_classes=1, train_cfg=train_cfg,
                   anchor_generator=dict(type="AnchorGenerator", scales=[8], ratios=[0.5, 1.0, 2.0],
                                         strides=STRIDES),
                   bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                                   target_stds=[1.0] * 4),
                   loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
                   loss_bbox=dict(type="L1Loss", loss_weight=1.0))
    cls = pattern(n, 1, 0.013, 0.5, 3.0)
    reg = pattern(n, 4, 0.029, 0.1, 0.5)
    loss = head.loss_by_feat(_level_maps(cls, SIZES, 3, 1), _level_maps(reg, SIZES, 3, 4),
                             [instances(GTS)], [{"img_shape": IMAGE, "pad_shape": IMAGE}])
    write("rpn_loss", {"gts": GTS, "anchor_scale": 8.0, "ratios": [0.5, 1.0, 2.0],
                       "cls": {"n": n, "width": 1, "a": 0.013, "b": 0.5, "scale": 3.0},
                       "reg": {"n": n, "width": 4, "a": 0.029, "b": 0.1, "scale": 0.5},
                       "loss_cls": f32(sum(loss["loss_rpn_cls"])),
                       "loss_reg": f32(sum(loss["loss_rpn_bbox"]))})


def cascade_rpn_loss() -> None:
    """Both stages of Cascade RPN (mmdetection's configs/cascade_rpn) on fixed predictions.

    Stage 1 regresses deltas (stds 0.1, 0.1, 0.5, 0.5) from square anchors of scale 4 with the
    region assigner, IoU loss (linear) weight 10 on decoded boxes, no classification, no
    sampling; stage 2 starts from the stage-1 boxes decoded *and clipped* to the image, Max-IoU
    0.7 / 0.7 / 0.3 with low-quality matches, the everything-sampler, BCE and IoU loss weight 10.
    """
    scale = 4.0
    levels = anchors(scale, [1.0])
    n = sum(len(lv) for lv in levels)
    common = dict(in_channels=8, feat_channels=8, num_classes=1,
                  anchor_generator=dict(type="AnchorGenerator", scales=[scale], ratios=[1.0],
                                        strides=STRIDES),
                  loss_bbox=dict(type="IoULoss", linear=True, loss_weight=10.0), reg_decoded_bbox=True)
    stage1 = StageCascadeRPNHead(
        adapt_cfg=dict(type="dilation", dilation=3), bridged_feature=True, with_cls=False,
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.5, 0.5]),
        train_cfg=ConfigDict(assigner=dict(type="RegionAssigner", center_ratio=0.2, ignore_ratio=0.5),
                             allowed_border=-1, pos_weight=-1, debug=False), **common)
    stage2 = StageCascadeRPNHead(
        adapt_cfg=dict(type="offset"), with_cls=True,
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[0.05, 0.05, 0.1, 0.1]),
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
        train_cfg=ConfigDict(assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.7,
                                           min_pos_iou=0.3, ignore_iof_thr=-1),
                             sampler=_everything_sampler(n), allowed_border=-1, pos_weight=-1,
                             debug=False), **common)
    metas = [{"img_shape": IMAGE, "pad_shape": IMAGE}]
    valid = [[torch.ones(len(lv), dtype=torch.bool) for lv in levels]]
    reg1 = pattern(n, 4, 0.017, 0.4, 1.0)
    reg2 = pattern(n, 4, 0.023, 0.9, 1.0)
    cls2 = pattern(n, 1, 0.011, 0.2, 3.0)
    loss1 = stage1.loss_by_feat([levels], valid, [None] * 5, _level_maps(reg1, SIZES, 1, 4),
                                [instances(GTS)], metas)
    refined = stage1.refine_bboxes([levels], _level_maps(reg1, SIZES, 1, 4), metas)
    loss2 = stage2.loss_by_feat(refined, valid, _level_maps(cls2, SIZES, 1, 1),
                                _level_maps(reg2, SIZES, 1, 4), [instances(GTS)], metas)
    write("cascade_rpn_loss", {
        "gts": GTS, "anchor_scale": scale, "image": IMAGE,
        "reg1": {"n": n, "width": 4, "a": 0.017, "b": 0.4, "scale": 1.0},
        "reg2": {"n": n, "width": 4, "a": 0.023, "b": 0.9, "scale": 1.0},
        "cls2": {"n": n, "width": 1, "a": 0.011, "b": 0.2, "scale": 3.0},
        "stage2_priors_rows": list(range(0, n, 41)),
        "stage2_priors": floats(torch.cat(refined[0])[::41]),
        "loss_s1_reg": f32(sum(loss1["loss_rpn_reg"])),
        "loss_s2_reg": f32(sum(loss2["loss_rpn_reg"])),
        "loss_s2_cls": f32(sum(loss2["loss_rpn_cls"]))})


def ga_rpn_loss() -> None:
    """GA-RPN (mmdetection's ga-rpn_r50-caffe_fpn_1x_coco head) on fixed predictions: location
    focal loss, shape bounded-IoU loss, and the RPN part (BCE, smooth L1 beta 1) on the guided
    anchors; both samplers draw everything (the RPN part then regresses every positive)."""
    from mmdet.models.dense_heads.ga_rpn_head import GARPNHead
    squares = anchors(8.0, [1.0])
    n = sum(len(lv) for lv in squares)
    approxs_n = 9 * n
    head = GARPNHead(
        in_channels=8, feat_channels=8,
        approx_anchor_generator=dict(type="AnchorGenerator", octave_base_scale=8, scales_per_octave=3,
                                     ratios=[0.5, 1.0, 2.0], strides=STRIDES),
        square_anchor_generator=dict(type="AnchorGenerator", ratios=[1.0], scales=[8], strides=STRIDES),
        anchor_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                          target_stds=[0.07, 0.07, 0.14, 0.14]),
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                        target_stds=[0.07, 0.07, 0.11, 0.11]),
        loc_filter_thr=0.01,
        loss_loc=dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_shape=dict(type="BoundedIoULoss", beta=0.2, loss_weight=1.0),
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
        train_cfg=ConfigDict(
            ga_assigner=dict(type="ApproxMaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3,
                             min_pos_iou=0.3, ignore_iof_thr=-1),
            ga_sampler=_everything_sampler(approxs_n),
            assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                          ignore_iof_thr=-1),
            sampler=_everything_sampler(n), allowed_border=-1, center_ratio=0.2, ignore_ratio=0.5,
            pos_weight=-1, debug=False))
    specs = {"loc": {"n": n, "width": 1, "a": 0.019, "b": 0.3, "scale": 3.0},
             "shape": {"n": n, "width": 2, "a": 0.031, "b": 0.6, "scale": 0.6},
             "cls": {"n": n, "width": 1, "a": 0.013, "b": 0.5, "scale": 3.0},
             "reg": {"n": n, "width": 4, "a": 0.029, "b": 0.1, "scale": 0.5}}
    maps = {k: _level_maps(pattern(**v), SIZES, 1, v["width"]) for k, v in specs.items()}
    loss = head.loss_by_feat(maps["cls"], maps["reg"], maps["shape"], maps["loc"], [instances(GTS)],
                             [{"img_shape": IMAGE, "pad_shape": IMAGE}])
    write("ga_rpn_loss", {"gts": GTS, "octave_base_scale": 8.0, **specs,
                          **{key: f32(sum(loss[key])) for key in
                             ("loss_rpn_cls", "loss_rpn_bbox", "loss_anchor_shape", "loss_anchor_loc")}})


def rcnn_targets() -> None:
    """R-CNN box targets (Faster R-CNN's ``rcnn`` train_cfg): Max-IoU 0.5 / 0.5 / 0.5 without
    low-quality matches on the proposals plus the gts, every sample drawn, labels and deltas
    (stds 0.1, 0.1, 0.2, 0.2) from ``BBoxHead.get_targets``. Samples are listed by their index in
    [gts; proposals] (mmdetection's sampler shuffles them)."""
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
    from mmdet.models.task_modules.samplers import RandomSampler
    gt = gts()
    labels = torch.arange(len(GTS)) % 8                                   # 0-based classes
    base = gt[torch.arange(200) % len(GTS)]
    proposals = base + pattern(200, 4, 0.61, 0.7, 14.0)
    assigner = MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                              match_low_quality=False, ignore_iof_thr=-1)
    gt_inst = InstanceData(bboxes=gt, labels=labels)
    res = assigner.assign(InstanceData(priors=proposals), gt_inst)
    sampler = RandomSampler(num=10_000, pos_fraction=1.0, neg_pos_ub=-1, add_gt_as_proposals=True)
    sr = sampler.sample(res, InstanceData(priors=proposals), gt_inst)
    head = Shared2FCBBoxHead(in_channels=8, fc_out_channels=8, roi_feat_size=7, num_classes=8,
                             bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                                             target_stds=[0.1, 0.1, 0.2, 0.2]),
                             reg_class_agnostic=False)
    t_labels, _, t_deltas, t_weights = head.get_targets([sr], ConfigDict(pos_weight=-1), concat=True)
    order = torch.cat([sr.pos_inds, sr.neg_inds]).argsort()
    write("rcnn_targets", {"gts": GTS, "gt_labels": (labels + 1).tolist(),   # stored 1-based
                           "proposals": {"n": 200, "width": 4, "a": 0.61, "b": 0.7, "scale": 14.0},
                           "num_pos": int(sr.pos_inds.numel()),
                           "sample_index": torch.cat([sr.pos_inds, sr.neg_inds])[order].tolist(),
                           "labels_1_based": torch.where(t_labels == 8, torch.zeros_like(t_labels),
                                                         t_labels + 1)[order].tolist(),
                           "pos_deltas_by_index": floats(t_deltas[order][t_weights[order][:, 0] > 0])})


def main() -> None:
    register_all_modules()
    torch.manual_seed(0)
    for make in (anchor_generator, delta_coder, max_iou_assigner, region_assigner,
                 approx_max_iou_assigner, ga_location_targets, cascade_anchor_offset, losses,
                 rpn_loss, cascade_rpn_loss, ga_rpn_loss, rcnn_targets):
        make()
    total = sum(p.stat().st_size for p in OUT.glob("*.json"))
    print(f"total {total / 1024:.0f} KiB in {OUT}")
    if total > 2 * 1024 * 1024:
        raise SystemExit("fixtures exceed 2 MB")


if __name__ == "__main__":
    main()
