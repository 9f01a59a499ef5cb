"""Parity with mmdetection 3.3, number for number, on fixtures its own functions wrote.

``tools/mmdet_reference/make_fixtures.py`` ran mmdetection (in a separate, git-ignored venv) on
fixed inputs and wrote ``tests/fixtures/mmdet/*.json``; these tests run the project's parts on the
same inputs. mmdetection is not imported here. Integers must be equal, floats within 1e-5
(relative, or absolute near 0). Where the project deliberately differs, the test pins the
difference and says why; ``docs/parity.md`` lists every component with its status.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scrpn import losses as L
from scrpn.config import load_config
from scrpn.models.anchors import AnchorGenerator
from scrpn.models.box_coder import DeltaXYWHCoder
from scrpn.build import build_head
from scrpn.models.heads.alignment import box_to_offsets
from scrpn.models.heads.ga_rpn import assign_shapes, location_targets
from scrpn.models.heads.stages import HeadOutputs, TwoStageProposalHead, clip_to_images
from scrpn.models.points import grid_points
from scrpn.sampling.max_iou import MaxIoUAssigner
from scrpn.sampling.region import RegionAssigner

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "mmdet"
STRIDES = (4, 8, 16, 32, 64)
IMAGE = (256, 256)
SIZES = [(IMAGE[0] // s, IMAGE[1] // s) for s in STRIDES]


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def pattern(spec: dict) -> torch.Tensor:
    """The generator's closed-form predictions: scale * sin(a * k + b), float64 -> float32."""
    k = torch.arange(spec["n"] * spec["width"], dtype=torch.float64)
    return (spec["scale"] * torch.sin(spec["a"] * k + spec["b"])).to(torch.float32).reshape(
        spec["n"], spec["width"])


def dense(spec: dict) -> torch.Tensor:
    """A sparse label vector of the fixture back to (n,)."""
    out = torch.zeros(spec["n"], dtype=torch.float64)
    out[torch.tensor(spec["index"], dtype=torch.long)] = torch.tensor(spec["value"], dtype=torch.float64)
    return out


def close(ours, theirs, rel: float = 1e-5, abs_: float = 1e-5) -> None:
    ours = torch.as_tensor(ours, dtype=torch.float64).reshape(-1)
    theirs = torch.as_tensor(theirs, dtype=torch.float64).reshape(-1)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, rtol=rel, atol=abs_), (ours - theirs).abs().max().item()


def octave_scales(base: float, per_octave: int) -> tuple[float, ...]:
    return tuple(base * 2 ** (i / per_octave) for i in range(per_octave))


def test_fixtures_stay_small():
    total = sum(p.stat().st_size for p in FIXTURES.glob("*.json"))
    assert 0 < total < 2 * 1024 * 1024


# ------------------------------------------------------------------ components
def test_anchor_generator():
    fx = fixture("anchor_generator")
    for case in fx["cases"]:
        gen = AnchorGenerator(STRIDES, tuple(case["ratios"]), (case["scale"],))
        levels = gen.grid_anchors(SIZES, "cpu")
        assert [len(lv) for lv in levels] == case["num_per_level"]
        close(torch.cat(levels)[case["rows"]], case["anchors"])


def test_delta_coder_encode_decode_with_stds_and_clipping():
    """Deltas are pixel differences divided by stds as small as 0.05, which scales float32
    rounding (different operation order) by up to 20: absolute tolerance 1e-4 near 0, 1e-5
    relative elsewhere; decoded boxes are pixels up to ~1,700 (the wh ratio clip at |d| 4.1)."""
    fx = fixture("delta_coder")
    priors = torch.tensor(fx["priors"]).reshape(-1, 4)
    gts = torch.tensor(fx["gts"]).reshape(-1, 4)
    pred = pattern(fx["pred"])
    for case in fx["cases"]:
        coder = DeltaXYWHCoder(stds=tuple(case["stds"]))
        close(coder.encode(priors, gts), case["encoded"], abs_=1e-4)
        close(coder.decode(priors, pred), case["decoded"], abs_=1e-4)
        close(coder.decode(priors, pred, max_shape=tuple(fx["image"])), case["decoded_clipped"], abs_=1e-4)


@pytest.mark.parametrize("index", range(8))
def test_max_iou_assigner(index):
    fx = fixture("max_iou_assigner")
    case = fx["cases"][index]
    priors = torch.cat(AnchorGenerator(STRIDES, tuple(fx["ratios"]), (fx["anchor_scale"],))
                       .grid_anchors(SIZES, "cpu"))
    gts = torch.tensor(fx["gts"] if case["image"] == "gts" else []).reshape(-1, 4)
    crowd = torch.tensor(fx["crowd"]) if case["ignore_iof_thr"] > 0 else None
    assigner = MaxIoUAssigner(case["pos_iou_thr"], case["neg_iou_thr"], case["min_pos_iou"],
                              match_low_quality=case["match_low_quality"],
                              ignore_iof_thr=case["ignore_iof_thr"])
    res = assigner.assign(priors, gts, crowd)
    assert torch.equal(res.gt_inds.to(torch.float64), dense(case["gt_inds"])), case["name"]
    close(res.max_overlaps[res.gt_inds > 0], case["pos_max_overlaps"])


@pytest.mark.parametrize("index", range(4))
def test_region_assigner(index):
    fx = fixture("region_assigner")
    case = fx["cases"][index]
    levels = AnchorGenerator(STRIDES, (1.0,), (case["anchor_scale"],)).grid_anchors(SIZES, "cpu")
    gts = torch.tensor(fx["gts"] if case["image"] == "gts" else []).reshape(-1, 4)
    assigner = RegionAssigner(center_ratio=fx["center_ratio"], ignore_ratio=fx["ignore_ratio"],
                              base_scale=case["anchor_scale"] * STRIDES[0], strides=STRIDES)
    res = assigner.assign(torch.cat(levels), [len(lv) for lv in levels], gts)
    assert torch.equal(res.gt_inds.to(torch.float64), dense(case["gt_inds"]))


@pytest.mark.parametrize("index", range(2))
def test_approx_max_iou_assigner(index):
    """GA-RPN's shape assignment: Max-IoU on the best IoU of each location's 9 approx anchors."""
    fx = fixture("approx_max_iou_assigner")
    case = fx["cases"][index]
    squares = torch.cat(AnchorGenerator(STRIDES, (1.0,), (fx["octave_base_scale"],)).grid_anchors(SIZES, "cpu"))
    approx_gen = AnchorGenerator(STRIDES, tuple(fx["ratios"]),
                                 octave_scales(fx["octave_base_scale"], fx["scales_per_octave"]))
    approxs = torch.cat(approx_gen.grid_anchors(SIZES, "cpu"))
    gts = torch.tensor(fx["gts"] if case["image"] == "gts" else []).reshape(-1, 4)
    res = assign_shapes(MaxIoUAssigner(0.7, 0.3, 0.3), approxs, squares, approx_gen.num_base_anchors, gts)
    assert torch.equal(res.gt_inds.to(torch.float64), dense(case["gt_inds"]))


def test_ga_location_targets():
    fx = fixture("ga_location_targets")
    n = sum(h * w for h, w in SIZES)
    for boxes, image in zip(fx["gts"], fx["images"]):
        t, w = location_targets(torch.tensor(boxes).reshape(-1, 4), SIZES, STRIDES,
                                base_scale=fx["octave_base_scale"] * STRIDES[0],
                                center_ratio=fx["center_ratio"], ignore_ratio=fx["ignore_ratio"])
        assert torch.equal(t.to(torch.float64), dense(image["targets"]))
        theirs = dense(image["weights_not_0.1"])
        theirs = torch.where(theirs == 0, torch.full_like(theirs, 0.1), theirs - 1.0)
        close(w, theirs)
    # the loss's average factor: (locations in the batch) / 200, 2 images
    assert fx["avg_factor"] == pytest.approx(2 * n / 200)


def test_cascade_rpn_anchor_offsets():
    fx = fixture("cascade_anchor_offset")
    for case in fx["cases"]:
        levels = AnchorGenerator(STRIDES, (1.0,), (case["anchor_scale"],)).grid_anchors(SIZES, "cpu")
        for lvl, (boxes, stride, size) in enumerate(zip(levels, STRIDES, SIZES)):
            if case["boxes"] == "moved":
                spec = dict(fx["moved"], n=len(boxes), width=4, scale=fx["moved"]["scale_per_stride"] * stride)
                boxes = boxes + pattern(spec)
            off = box_to_offsets(boxes[None], float(stride), size)          # (1, 18, H, W)
            rows = case["rows"][lvl]
            ours = off[0].permute(1, 2, 0).reshape(-1, 18)[rows]
            close(ours, case["offsets"][lvl], abs_=1e-4)


def test_losses():
    fx = fixture("losses")
    gts = torch.tensor(fx["gts"])
    pred = gts + pattern(fx["pred_noise"])
    v = fx["values"]
    close(L.iou_loss(pred, gts, "linear"), v["iou_linear"])
    close(L.iou_loss(pred, gts, "log"), v["iou_log"])
    close(L.bounded_iou_loss(pred, gts, beta=0.2), v["bounded_iou"])
    close(L.smooth_l1_loss(pred / 50, gts / 50, beta=1.0 / 9.0), v["smooth_l1_beta_1_9"])
    close(L.smooth_l1_loss(pred / 50, gts / 50, beta=1.0), v["smooth_l1_beta_1"])
    close(L.l1_loss(pred / 50, gts / 50), v["l1"])
    logits = pattern(fx["logits"]).reshape(-1)
    labels = (torch.arange(40) % 3 == 0).float()
    weight = torch.where(torch.arange(40) % 5 == 0, torch.full((40,), 0.1), torch.ones(40))
    close(L.sigmoid_focal_loss(logits, labels, weight, alpha=0.25, gamma=2.0), v["focal"])


# ------------------------------------------------------------------ head losses
def _outputs(head: TwoStageProposalHead, raw1: torch.Tensor, cls1=None, raw2=None, cls2=None,
             stage2_priors=None) -> HeadOutputs:
    """HeadOutputs of one image from fixed predictions (what ``forward`` would produce)."""
    priors = torch.cat(head.prior_generator.grid_anchors(SIZES, "cpu"))
    centres = torch.cat([c.repeat_interleave(head.num_anchors, 0) for c in grid_points(SIZES, STRIDES)])
    init_boxes = head.coders[0].decode(priors, raw1)
    out = HeadOutputs(num_per_level=[h * w * head.num_anchors for h, w in SIZES], priors=priors,
                      centers=centres, init_boxes=init_boxes[None], init_raw=raw1[None],
                      init_cls=None if cls1 is None else cls1.reshape(1, -1), refined_boxes=None,
                      refined_raw=None, refined_cls=None, iou_mask=None)
    if raw2 is not None:
        out.stage2_priors = stage2_priors[None]
        out.refined_raw = raw2[None]
        out.refined_boxes = head.coders[1].decode(stage2_priors, raw2)[None]
        out.refined_cls = cls2.reshape(1, -1)
    return out


def _head(config: str, sets: list[str]) -> TwoStageProposalHead:
    cfg = load_config(ROOT / "configs" / "mini" / config, ["model.head.feat_channels=8", *sets])
    head = build_head(cfg.model.head, 8, STRIDES)
    head.generator = torch.Generator().manual_seed(0)
    return head


@pytest.mark.parametrize("loss_norm", ["paper", "mmdet"])
def test_rpn_loss(loss_norm):
    """mmdetection's RPNHead (Max-IoU 0.7 / 0.3, BCE, L1 / sampled count) with a sampler that draws
    every sample. Both normalisers agree with it here: with every positive sampled, 'paper' also
    regresses them all and divides L1 by the sampled count."""
    fx = fixture("rpn_loss")
    n = fx["cls"]["n"]
    head = _head("rpn.yaml", ["model.head.anchor_scale=8", f"model.head.stage1.sampler.num={n}",
                              "model.head.stage1.sampler.pos_fraction=1.0",
                              f"model.head.stage1.loss_norm={loss_norm}"])
    assert head.layout.anchor_scale == fx["anchor_scale"] and list(head.layout.anchor_ratios) == fx["ratios"]
    out = _outputs(head, pattern(fx["reg"]), cls1=pattern(fx["cls"]))
    losses = head.loss(out, [{"boxes": torch.tensor(fx["gts"]), "iscrowd": torch.zeros(len(fx["gts"]))}])
    close(losses["loss_s1_cls"], fx["loss_cls"])
    close(losses["loss_s1_reg"], fx["loss_reg"])


def _cascade(loss_norm: str, fx: dict) -> tuple[dict, TwoStageProposalHead, HeadOutputs]:
    n = fx["reg1"]["n"]
    head = _head("cascade_rpn.yaml", [f"model.head.stage2.sampler.num={n}",
                                      "model.head.stage2.sampler.pos_fraction=1.0",
                                      f"model.head.stage1.loss_norm={loss_norm}",
                                      f"model.head.stage2.loss_norm={loss_norm}"])
    raw1 = pattern(fx["reg1"])
    priors = torch.cat(head.prior_generator.grid_anchors(SIZES, "cpu"))
    stage2_priors = clip_to_images(head.coders[0].decode(priors, raw1)[None], [IMAGE])[0]
    out = _outputs(head, raw1, raw2=pattern(fx["reg2"]), cls2=pattern(fx["cls2"]),
                   stage2_priors=stage2_priors)
    gts = torch.tensor(fx["gts"])
    return head.loss(out, [{"boxes": gts, "iscrowd": torch.zeros(len(gts))}]), head, out


def test_cascade_rpn_loss_with_mmdet_normalisers():
    """Both stages of Cascade RPN equal mmdetection's with ``loss_norm: mmdet`` and the stage-1
    boxes clipped before stage 2 (``clip_stage1``, mmdetection's ``refine_bboxes``)."""
    fx = fixture("cascade_rpn_loss")
    losses, head, out = _cascade("mmdet", fx)
    close(out.stage2_priors[0][fx["stage2_priors_rows"]], fx["stage2_priors"], abs_=1e-4)
    close(losses["loss_s1_reg"], fx["loss_s1_reg"])
    close(losses["loss_s2_reg"], fx["loss_s2_reg"])
    close(losses["loss_s2_cls"], fx["loss_s2_cls"])


def test_cascade_rpn_loss_paper_normalisers_differ_by_the_counts():
    """Pinned deliberate difference (the study's first reading, fidelity review deviation 1):
    'paper' divides both IoU losses by the positives; mmdetection divides stage 1 by
    #priors / 200 and stage 2 by the sampled count. The ratio is exactly those counts."""
    fx = fixture("cascade_rpn_loss")
    paper, head, out = _cascade("paper", fx)
    gts = torch.tensor(fx["gts"])
    a1 = head.assign(0, out, 0, gts, gts.new_zeros(0, 4))
    a2 = head.assign(1, out, 0, gts, gts.new_zeros(0, 4))
    pos1, pos2 = int((a1.gt_inds > 0).sum()), int((a2.gt_inds > 0).sum())
    sampled2 = int((a2.gt_inds >= 0).sum())
    priors_over_200 = out.priors.shape[0] / 200.0
    close(paper["loss_s1_reg"] * pos1 / priors_over_200, fx["loss_s1_reg"])
    close(paper["loss_s2_reg"] * pos2 / sampled2, fx["loss_s2_reg"])
    close(paper["loss_s2_cls"], fx["loss_s2_cls"])         # classification: the same rule
    assert pos2 < sampled2        # stage 2: 'paper' weighs the IoU loss sampled / positives more


def test_rcnn_box_targets():
    """Faster R-CNN's RoI targets: Max-IoU 0.5 without low-quality matches on [gts; proposals],
    every sample drawn; labels (0 = background here, mmdetection's K) and deltas (stds 0.1, 0.1,
    0.2, 0.2) compared sample by sample in index order."""
    from scrpn.detectors.roi_head import rcnn_assigner, sample_rois
    from scrpn.sampling.sampler import RandomSampler
    fx = fixture("rcnn_targets")
    gts = torch.tensor(fx["gts"])
    proposals = gts[torch.arange(200) % len(gts)] + pattern(fx["proposals"])
    s = sample_rois(proposals, gts, torch.tensor(fx["gt_labels"]), rcnn_assigner(0.5),
                    RandomSampler(num=10_000, pos_fraction=1.0), add_gt=True,
                    generator=torch.Generator().manual_seed(0))
    assert s.num_pos == fx["num_pos"]
    # our samples, by their index in [gts; proposals]: recover it from the boxes
    pool = torch.cat([gts, proposals])
    index = torch.cdist(s.boxes, pool).argmin(dim=1)
    index = torch.where(s.is_gt, (s.boxes[:, None] - gts[None]).abs().sum(-1).argmin(1), index)
    order = index.argsort()
    assert index[order].tolist() == fx["sample_index"]
    assert s.labels[order].tolist() == fx["labels_1_based"]
    coder = DeltaXYWHCoder(stds=(0.1, 0.1, 0.2, 0.2))
    deltas = coder.encode(s.boxes, s.gt_boxes)[order][s.labels[order] > 0]
    close(deltas, fx["pos_deltas_by_index"], abs_=1e-4)


def _ga_losses(fx: dict, sets: list[str]) -> dict:
    """Our GA-RPN head's losses on the fixture's predictions, both samplers drawing everything."""
    from scrpn.models.heads.ga_rpn import GAOutputs
    n = fx["loc"]["n"]
    cfg = load_config(ROOT / "configs" / "mini" / "ga_rpn.yaml",
                      ["model.head.feat_channels=8", "model.head.anchor_scale=8",
                       f"model.head.stage1.sampler.num={n}", "model.head.stage1.sampler.pos_fraction=1.0",
                       f"model.head.ga.sampler.num={9 * n}", "model.head.ga.sampler.pos_fraction=1.0",
                       *sets]).model.head
    head = build_head(cfg, 8, STRIDES)
    head.generator = torch.Generator().manual_seed(0)
    squares = torch.cat(head.square_generator.grid_anchors(SIZES, "cpu"))
    shape = pattern(fx["shape"])[None]
    anchors = head.decode_anchors(squares, shape)
    reg = pattern(fx["reg"])[None]
    out = GAOutputs(num_per_level=[h * w for h, w in SIZES], featmap_sizes=SIZES, squares=squares,
                    loc=pattern(fx["loc"]).reshape(1, -1), shape=shape, anchors=anchors,
                    cls=pattern(fx["cls"]).reshape(1, -1), reg=reg,
                    boxes=head.bbox_coder.decode(anchors, reg))
    gts = torch.tensor(fx["gts"])
    return head.loss(out, [{"boxes": gts, "iscrowd": torch.zeros(len(gts))}])


@pytest.mark.parametrize("loss_norm", ["paper", "mmdet"])
def test_ga_rpn_loss(loss_norm):
    """GA-RPN's shape and RPN-part losses on fixed predictions, both samplers drawing everything.
    With every positive sampled, the RPN part's 'paper' rule (all positives regressed) and
    mmdetection's (sampled positives) coincide; the normalisers are the same (sampled count)."""
    fx = fixture("ga_rpn_loss")
    losses = _ga_losses(fx, [f"model.head.stage1.loss_norm={loss_norm}"])
    close(losses["loss_shape"], fx["loss_anchor_shape"])
    close(losses["loss_cls"], fx["loss_rpn_cls"])
    close(losses["loss_reg"], fx["loss_rpn_bbox"])


def test_ga_rpn_location_loss_differs_from_mmdetection_3_by_inverted_targets():
    """Pinned deliberate difference. mmdetection 3.3's ``GuidedAnchorHead.loss_loc_single`` hands
    the 0 / 1 location targets to ``FocalLoss`` as class labels, and in mmdetection >= 2 the label
    equal to the number of classes (1 here) is *background*: centre cells (target 1, weight 1) are
    trained as negatives and the rest (weight 0.1) as positives, on the CPU path (one-hot, first
    column) and on mmcv's CUDA kernel (positive iff label == class 0) alike. GA-RPN's paper and
    mmdetection 1.x (labels 1..K, 0 = background) train the centres as positives, which is what we
    do. The fixture's value equals our focal loss with the targets inverted, to float precision."""
    fx = fixture("ga_rpn_loss")
    logits = pattern(fx["loc"]).reshape(-1)
    targets, weights = location_targets(torch.tensor(fx["gts"]), SIZES, STRIDES,
                                        base_scale=fx["octave_base_scale"] * STRIDES[0])
    factor = logits.numel() / 200.0
    ours = L.sigmoid_focal_loss(logits, targets, weights, alpha=0.25, gamma=2.0) / factor
    inverted = L.sigmoid_focal_loss(logits, 1.0 - targets, weights, alpha=0.25, gamma=2.0) / factor
    close(inverted, fx["loss_anchor_loc"])
    assert abs(ours.item() - fx["loss_anchor_loc"]) > 1.0


def test_ga_rpn_location_loss_equals_mmdetection_3_under_its_polarity_switch():
    """``model.head.ga.loc_targets: mmdet3_inverted`` reproduces mmdetection 3.3's value through
    the head's own loss (the other GA-RPN losses are unaffected)."""
    fx = fixture("ga_rpn_loss")
    losses = _ga_losses(fx, ["model.head.ga.loc_targets=mmdet3_inverted"])
    close(losses["loss_loc"], fx["loss_anchor_loc"])
    close(losses["loss_cls"], fx["loss_rpn_cls"])
