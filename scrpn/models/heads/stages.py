"""The shared two-stage proposal machinery (Fig. 1): stage 1 -> alignment -> stage 2.

Every proposal method of the study is a configuration of this one head:

=====================  ==========================================================================
RPN (3 anchors / 1)    one stage: a 3x3 conv, then classification + delta regression (L1)
"+ two-stage"          stage 1 regresses, stage 2 re-classifies and regresses on the same features
"+ alignment"          stage 1 uses a dilated 3x3 conv, stage 2 a deformable conv driven by the
                       stage-1 boxes (Cascade RPN's adaptive convolution, ``alignment: offset``)
"+ IoU loss"           both regressions use the IoU loss on decoded boxes
"+ point-based"        9 points per location instead of an anchor; boxes are min/max of the
                       points; stage 2 samples at the points (``alignment: point``)
"+ SADS"               stage-1 Positive Region assigner, stage-2 Size-Aware Threshold assigner
"+ IoU mask"           the Light-weight IoU-Mask branch and the IoU-aware score
=====================  ==========================================================================

Layer layout per FPN level (weights shared across levels, as RPN):
``x -> stage1_conv -> f1 -> stage1_reg (init offsets) [-> stage1_cls]``;
``f1 -> align_conv`` (plain 3x3 or deformable, per ``alignment``; its two halves are the
classification and regression feature maps) ``-> stage2_cls,
stage2_reg (secondary offsets), iou_mask``.

Points (``representation: point``): offsets are predicted in units of the level's stride (feature
cells) as (dy, dx) pairs, and are added to a fixed 3x3 prior grid spanning a square of side
``anchor_scale`` cells, i.e. the square anchor of the location. Without that prior all 9 points
start on the location centre, the min/max box is empty, and the IoU loss has zero gradient. Refined
points are the (detached) init points plus the secondary offsets (RepPoints' convention).

Loss normalisation (eqs. 4-7): :class:`scrpn.models.heads.blocks.LossAccumulator`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import HeadConfig, StageConfig
from ...pyramid import FPN_STRIDES, level_base_scale
from ...sampling.assign_result import AssignResult
from ..anchors import AnchorGenerator
from ..box_coder import DeltaXYWHCoder
from ..points import grid_points, offsets_to_points, points_to_boxes
from .alignment import AdaptiveConv, PointAlignment
from .blocks import LossAccumulator, flatten_levels, head_conv
from .iou_mask import IoUMaskBranch, iou_aware_score, iou_targets, mask_sample_indices
from .targets import build_assigner, build_sampler


@dataclass
class HeadOutputs:
    """Predictions flattened over levels, location-major inside each level (all (B, N, ...))."""
    num_per_level: list[int]          # priors per level
    priors: Tensor                    # (N, 4) anchors / square priors
    centers: Tensor                   # (N, 2) location centre of each prior
    init_boxes: Tensor                # (B, N, 4)
    init_raw: Tensor                  # (B, N, 4) deltas or (B, N, 18) point offsets
    init_cls: Optional[Tensor]        # (B, N) logits, or None
    refined_boxes: Optional[Tensor]   # (B, N, 4)
    refined_raw: Optional[Tensor]     # (B, N, 4) deltas or (B, N, 18)
    refined_cls: Optional[Tensor]     # (B, N) logits
    iou_mask: Optional[Tensor]        # (B, N) probabilities


def point_prior_grid(anchor_scale: float) -> Tensor:
    """(18,) (dy, dx) offsets of a 3x3 grid over a square of side ``anchor_scale`` cells."""
    half = anchor_scale / 2.0
    taps = [(ky * half, kx * half) for ky in (-1, 0, 1) for kx in (-1, 0, 1)]
    return torch.tensor(taps, dtype=torch.float32).reshape(-1)


class TwoStageProposalHead(nn.Module):
    def __init__(self, in_channels: int, cfg: HeadConfig,
                 strides: tuple[int, ...] = FPN_STRIDES) -> None:
        super().__init__()
        self.cfg = cfg
        self.strides = tuple(strides)
        self.is_point = cfg.representation == "point"
        self.num_anchors = 1 if self.is_point else len(cfg.anchor_ratios)
        self.reg_dim = 2 * cfg.num_points if self.is_point else 4
        self.two_stage = cfg.num_stages == 2
        self.base_scale = level_base_scale(cfg.anchor_scale, self.strides)
        ratios = (1.0,) if self.is_point else tuple(cfg.anchor_ratios)
        self.prior_generator = AnchorGenerator(strides=self.strides, ratios=ratios,
                                               scales=(cfg.anchor_scale,))
        self.register_buffer("prior_grid", point_prior_grid(cfg.anchor_scale), persistent=False)
        self.coders = [DeltaXYWHCoder(stds=tuple(s.target_stds)) for s in (cfg.stage1, cfg.stage2)]
        self.generator: Optional[torch.Generator] = None
        self._build_layers(in_channels)
        self.assigners = [build_assigner(cfg.stage1.assigner, self.base_scale, self.strides),
                          build_assigner(cfg.stage2.assigner, self.base_scale, self.strides)]
        self.samplers = [build_sampler(cfg.stage1.sampler), build_sampler(cfg.stage2.sampler)]

    # ------------------------------------------------------------------ layers
    def _build_layers(self, cin: int) -> None:
        cfg, a, f = self.cfg, self.num_anchors, self.cfg.feat_channels
        if cfg.stage1_conv == "dilation":
            self.stage1_conv = AdaptiveConv(cin, f, mode="dilation", dilation=3, impl=cfg.deform_impl)
        else:
            self.stage1_conv = head_conv(cin, f, 3)
        self.stage1_reg = head_conv(f, a * self.reg_dim, 1)
        self.stage1_cls = head_conv(f, a, 1) if cfg.stage1.cls_weight > 0 else None
        if not self.two_stage:
            return
        # The classification and regression feature maps (Fig. 1) come from two 3x3 convolutions
        # that sample the same positions; they are held as one conv with 2f outputs, so the
        # deformable sampling (the costly part on CPU) runs once. Same function, half the work.
        self.align_conv = self._stage2_conv(f, 2 * f)
        self.stage2_cls = head_conv(f, a, 1)
        self.stage2_reg = head_conv(f, a * self.reg_dim, 1)
        self.iou_mask = (IoUMaskBranch(f, a, cfg.iou_mask.feature, cfg.iou_mask.double_sigmoid)
                         if cfg.iou_mask.enabled else None)

    def _stage2_conv(self, f: int, out: int) -> nn.Module:
        kind = self.cfg.alignment
        if kind == "point":
            return PointAlignment(f, out, num_points=self.cfg.num_points,
                                  gradient_mul=self.cfg.point_gradient_mul, impl=self.cfg.deform_impl)
        if kind == "offset":
            return AdaptiveConv(f, out, mode="offset", impl=self.cfg.deform_impl)
        return head_conv(f, out, 3)

    def _align(self, conv: nn.Module, feat: Tensor, guide: Optional[Tensor], stride: int) -> Tensor:
        if self.cfg.alignment == "point":
            return conv(feat, guide)
        if self.cfg.alignment == "offset":
            return conv(feat, guide, stride)
        return conv(feat)

    # ------------------------------------------------------------------ forward
    def forward(self, feats: list[Tensor]) -> HeadOutputs:
        sizes = [tuple(x.shape[-2:]) for x in feats]
        device = feats[0].device
        priors = self.prior_generator.grid_anchors(sizes, device)             # [(HWA, 4)]
        centers = [c.repeat_interleave(self.num_anchors, 0)
                   for c in grid_points(sizes, self.strides, device)]        # [(HWA, 2)]
        outs = [self._forward_level(x, p, c, s) for x, p, c, s in zip(feats, priors, centers, self.strides)]
        cat = lambda k: None if outs[0][k] is None else torch.cat([o[k] for o in outs], dim=1)
        return HeadOutputs(num_per_level=[p.shape[0] for p in priors], priors=torch.cat(priors),
                           centers=torch.cat(centers), init_boxes=cat("init_boxes"),
                           init_raw=cat("init_raw"), init_cls=cat("init_cls"),
                           refined_boxes=cat("refined_boxes"), refined_raw=cat("refined_raw"),
                           refined_cls=cat("refined_cls"), iou_mask=cat("iou_mask"))

    def _forward_level(self, x: Tensor, priors: Tensor, centers: Tensor, stride: int) -> dict:
        b, _, h, w = x.shape
        f1 = F.relu(self.stage1_conv(x))
        raw1 = self.stage1_reg(f1)                                            # (B, A*R, H, W)
        if self.is_point:
            raw1 = raw1 + self.prior_grid.view(1, -1, 1, 1)
        init_raw = flatten_levels(raw1, self.reg_dim)                         # (B, HWA, R)
        init_boxes = self._decode(0, init_raw, priors, centers, stride)
        out = dict(init_raw=init_raw, init_boxes=init_boxes, refined_boxes=None, refined_raw=None,
                   refined_cls=None, iou_mask=None,
                   init_cls=(None if self.stage1_cls is None
                             else flatten_levels(self.stage1_cls(f1), 1)[..., 0]))
        if not self.two_stage:
            return out
        guide = raw1 if self.cfg.alignment == "point" else init_boxes.detach()
        cls_feat, reg_feat = F.relu(self._align(self.align_conv, f1, guide, stride)).chunk(2, dim=1)
        refined_raw = flatten_levels(self.stage2_reg(reg_feat), self.reg_dim)
        base = init_raw.detach() if self.is_point else init_boxes.detach()
        out["refined_raw"] = refined_raw
        out["refined_boxes"] = self._decode(1, refined_raw, base, centers, stride)
        out["refined_cls"] = flatten_levels(self.stage2_cls(cls_feat), 1)[..., 0]
        if self.iou_mask is not None:
            out["iou_mask"] = flatten_levels(self.iou_mask(cls_feat, reg_feat), 1)[..., 0]
        return out

    def _decode(self, stage: int, raw: Tensor, base: Tensor, centers: Tensor, stride: int) -> Tensor:
        """Stage-s predictions (B, N, R) -> boxes (B, N, 4).

        Anchors: ``base`` is the prior (stage 1, (N, 4)) or the init box (stage 2, (B, N, 4)).
        Points: ``base`` is None-like for stage 1 (raw already holds prior + offsets) and the
        detached init offsets for stage 2 (refined = init + secondary).
        """
        b, n, r = raw.shape
        if self.is_point:
            offsets = raw if stage == 0 else raw + base
            pts = offsets_to_points(offsets.reshape(b * n, r), centers.repeat(b, 1), float(stride))
            return points_to_boxes(pts).reshape(b, n, 4)
        priors = base.expand(b, n, 4) if base.dim() == 2 else base
        return self.coders[stage].decode(priors.reshape(-1, 4), raw.reshape(-1, 4)).reshape(b, n, 4)

    # ------------------------------------------------------------------ test
    def final_scores_and_boxes(self, out: HeadOutputs, use_iou_mask: bool) -> tuple[Tensor, Tensor]:
        """(B, N) scores and (B, N, 4) boxes of the last stage (IoU-aware score when enabled)."""
        if not self.two_stage:
            return out.init_cls.sigmoid(), out.init_boxes
        scores = out.refined_cls.sigmoid()
        if use_iou_mask and out.iou_mask is not None:
            scores = iou_aware_score(scores, out.iou_mask)
        return scores, out.refined_boxes

    # ------------------------------------------------------------------ training
    def loss(self, out: HeadOutputs, targets: list[dict]) -> dict[str, Tensor]:
        """Assign, sample and compute the weighted losses of both stages (eq. 3)."""
        acc = LossAccumulator()
        for i, t in enumerate(targets):
            crowd = t["iscrowd"].bool()
            gts, ignore = t["boxes"][~crowd], t["boxes"][crowd]
            a1 = self.assign(0, out, i, gts, ignore)
            self._stage_terms(acc, "s1", 0, a1, gts, out.init_raw[i], out.init_boxes[i],
                              None if out.init_cls is None else out.init_cls[i], out.priors)
            if not self.two_stage:
                continue
            a2 = self.assign(1, out, i, gts, ignore)
            base = out.init_raw[i].detach() if self.is_point else out.init_boxes[i].detach()
            cls_inds = self._stage_terms(acc, "s2", 1, a2, gts, out.refined_raw[i], out.refined_boxes[i],
                                         out.refined_cls[i], base)
            if out.iou_mask is not None:  # Table VI's samples, Fig. 3's targets
                inds = mask_sample_indices(self.cfg.iou_mask.samples, a2, cls_inds)
                acc.add_mask(out.iou_mask[i][inds],
                             iou_targets(out.refined_boxes[i][inds].detach(), a2.gt_inds[inds], gts))
        return acc.losses(self.cfg)

    def assign(self, stage: int, out: HeadOutputs, i: int, gts: Tensor, ignore: Tensor) -> AssignResult:
        """Stage ``stage``'s (0 or 1) assignment of image ``i``: what :meth:`loss` trains on.

        Stage 1 assigns the priors (or the locations, for Positive Region), stage 2 the detached
        stage-1 boxes. ``viz/teaching.py`` calls it to show the positives of each stage.
        """
        kind = (self.cfg.stage1, self.cfg.stage2)[stage].assigner.type
        assigner = self.assigners[stage]
        boxes = out.priors if stage == 0 else out.init_boxes[i].detach()
        if kind == "max_iou":
            return assigner.assign(boxes, gts, ignore)
        if kind == "positive_region":
            return assigner.assign(out.centers, out.num_per_level, gts, ignore)
        if kind == "region":
            return assigner.assign(out.priors, out.num_per_level, gts, ignore)
        return assigner.assign(boxes, out.centers, out.num_per_level, gts, ignore)

    def _stage_terms(self, acc: "LossAccumulator", key: str, stage: int, assign: AssignResult,
                     gts: Tensor, raw: Tensor, boxes: Tensor, cls: Optional[Tensor], base: Tensor
                     ) -> Optional[Tensor]:
        """Collect one image's regression pairs and classification samples of one stage.

        ``base`` is what the stage's deltas are relative to: the priors (stage 1) or the detached
        init boxes (stage 2); unused by IoU-type losses, which compare decoded boxes.
        Returns the indices of the classification samples (None if the stage does not classify).
        """
        scfg: StageConfig = (self.cfg.stage1, self.cfg.stage2)[stage]
        pos = torch.nonzero(assign.gt_inds > 0).squeeze(1)
        gt_of_pos = gts[assign.gt_inds[pos] - 1] if pos.numel() else gts.new_zeros(0, 4)
        if scfg.reg_loss.startswith("iou"):
            acc.add_reg(key, boxes[pos], gt_of_pos)
        else:
            acc.add_reg(key, raw[pos], self.coders[stage].encode(base[pos], gt_of_pos))
        if cls is None or scfg.cls_weight <= 0:
            return None
        pos_s, neg_s = self.samplers[stage].sample(assign, generator=self.generator)
        inds = torch.cat([pos_s, neg_s])
        labels = torch.cat([cls.new_ones(pos_s.numel()), cls.new_zeros(neg_s.numel())])
        acc.add_cls(key, cls[inds], labels)
        return inds
