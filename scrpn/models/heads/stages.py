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

The head implements :class:`~scrpn.models.heads.base.ProposalHead` (its stages ``s1``, ``s2``
are what :meth:`TwoStageProposalHead.assign` numbers 0, 1). It is built by
:func:`scrpn.build.build_head` from a :class:`TwoStageLayout` (the layers) and one
:class:`~scrpn.models.heads.parts.StageParts` per stage (assigner, sampler, coder, loss); it
reads no config. ``tests/test_stages.py`` trains every two-stage row one step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.profiler import record_function

from ...pyramid import FPN_STRIDES, level_base_scale
from ...sampling.assign_result import AssignResult
from ...sampling.priors import PriorSet
from ..anchors import AnchorGenerator
from ..points import grid_points, offsets_to_points, points_to_boxes
from .alignment import AdaptiveConv, build_alignment
from .base import ProposalHead, ProposalOutputs, split_gts
from .blocks import LossAccumulator, flatten_levels, head_conv, positive_ious, regression_indices
from .iou_mask import IoUMaskBranch, IoUMaskLayout, iou_aware_score, iou_targets, mask_sample_indices
from .parts import StageParts


@dataclass(frozen=True)
class TwoStageLayout:
    """The layers of a two-stage head, as plain values (:func:`scrpn.build.build_head` fills it
    from ``model.head``; the field names are the config's)."""
    feat_channels: int
    anchor_scale: float
    anchor_ratios: tuple[float, ...]
    representation: str = "anchor"      # 'anchor' | 'point'
    num_points: int = 9
    num_stages: int = 1
    stage1_conv: str = "conv"           # 'conv' | 'dilation'
    stage1_dilation: int = 3
    alignment: str = "none"             # 'none' | 'offset' | 'point'
    deform_impl: str = "auto"
    deform_init: str = "torch"
    point_gradient_mul: float = 0.1
    point_offset_scale: float = 1.0
    clip_stage1: bool = False
    iou_mask: Optional[IoUMaskLayout] = None   # None: no IoU-mask branch


@dataclass
class HeadOutputs(ProposalOutputs):
    """Predictions flattened over levels, location-major inside each level (all (B, N, ...));
    ``num_per_level``: priors per level."""
    priors: Tensor                    # (N, 4) anchors / square priors
    centers: Tensor                   # (N, 2) location centre of each prior
    init_boxes: Tensor                # (B, N, 4)
    init_raw: Tensor                  # (B, N, 4) deltas or (B, N, 18) point offsets
    init_cls: Optional[Tensor]        # (B, N) logits, or None
    refined_boxes: Optional[Tensor]   # (B, N, 4)
    refined_raw: Optional[Tensor]     # (B, N, 4) deltas or (B, N, 18)
    refined_cls: Optional[Tensor]     # (B, N) logits
    iou_mask: Optional[Tensor]        # (B, N) probabilities the mask is trained on
    stage2_priors: Optional[Tensor] = None   # (B, N, 4) detached stage-1 boxes stage 2 refines
    activity: dict = field(default_factory=dict)   # diagnostics: live ReLU channels per stage


def stage1_dilation(anchor_scale: float, configured: int) -> int:
    """Dilation of the stage-1 ``dilation`` conv: ``configured``, or for 0 the one that puts the
    outer taps where :func:`~scrpn.models.heads.alignment.box_to_offsets` puts them for the
    location's own square prior, +-anchor_scale / 2 cells (scale 4 -> 2, scale 8 -> 4).
    Cascade RPN's 3 was chosen for scale 8 (fidelity review, deviation 4)."""
    if configured > 0:
        return configured
    return max(1, int(round(anchor_scale / 2.0)))


def clip_to_images(boxes: Tensor, image_shapes: Sequence[Sequence[int]]) -> Tensor:
    """(B, N, 4) xyxy boxes clipped to each image's (height, width) (mmdetection's ``max_shape``)."""
    hw = torch.as_tensor([[float(h), float(w)] for h, w in image_shapes], dtype=boxes.dtype,
                         device=boxes.device)                                   # (B, 2)
    limit = torch.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], dim=1)[:, None, :]  # (B, 1, 4)
    return torch.minimum(boxes.clamp(min=0), limit)


def point_prior_grid(anchor_scale: float) -> Tensor:
    """(18,) (dy, dx) offsets of a 3x3 grid over a square of side ``anchor_scale`` cells."""
    half = anchor_scale / 2.0
    taps = [(ky * half, kx * half) for ky in (-1, 0, 1) for kx in (-1, 0, 1)]
    return torch.tensor(taps, dtype=torch.float32).reshape(-1)


def _live_channels(x: Tensor) -> Tensor:
    """(C,) bool: the channels of a post-ReLU map that are positive somewhere in the batch (a
    diagnostic, no gradient; a dead ReLU channel is False at every level)."""
    return x.detach().amax(dim=(0, 2, 3)) > 0


class TwoStageProposalHead(ProposalHead):
    stage_names = ("s1", "s2")

    def __init__(self, in_channels: int, layout: TwoStageLayout, stages: Sequence[StageParts],
                 strides: tuple[int, ...] = FPN_STRIDES) -> None:
        super().__init__(strides)
        if len(stages) != 2:
            raise ValueError(f"a two-stage head takes the parts of 2 stages, got {len(stages)}")
        self.layout = layout
        self.stages = tuple(stages)
        self.is_point = layout.representation == "point"
        self.point_offset_scale = float(layout.point_offset_scale)
        self.num_anchors = 1 if self.is_point else len(layout.anchor_ratios)
        self.reg_dim = 2 * layout.num_points if self.is_point else 4
        self.two_stage = layout.num_stages == 2
        # resolved once here, never re-read in forward
        self.point_guided = layout.alignment == "point"     # stage 2 samples at the init points
        self.clip_stage1 = layout.clip_stage1
        self.base_scale = level_base_scale(layout.anchor_scale, self.strides)
        ratios = (1.0,) if self.is_point else tuple(layout.anchor_ratios)
        self.prior_generator = AnchorGenerator(strides=self.strides, ratios=ratios,
                                               scales=(layout.anchor_scale,))
        self.register_buffer("prior_grid", point_prior_grid(layout.anchor_scale), persistent=False)
        self.coders = [p.coder for p in self.stages]
        self._build_layers(in_channels)
        self.assigners = [p.assigner for p in self.stages]
        self.samplers = [p.sampler for p in self.stages]

    # ------------------------------------------------------------------ layers
    def _build_layers(self, cin: int) -> None:
        lay, a, f = self.layout, self.num_anchors, self.layout.feat_channels
        if lay.stage1_conv == "dilation":
            self.stage1_conv = AdaptiveConv(cin, f, mode="dilation",
                                            dilation=stage1_dilation(lay.anchor_scale, lay.stage1_dilation),
                                            impl=lay.deform_impl, init=lay.deform_init)
        else:
            self.stage1_conv = head_conv(cin, f, 3)
        self.stage1_reg = head_conv(f, a * self.reg_dim, 1)
        self.stage1_cls = head_conv(f, a, 1) if self.stages[0].loss.classifies else None
        if not self.two_stage:
            self.iou_mask = None   # the branch reads stage 2's features
            return
        # The classification and regression feature maps (Fig. 1) come from two 3x3 convolutions
        # that sample the same positions; they are held as one conv with 2f outputs, so the
        # deformable sampling (the costly part on CPU) runs once. Same function, half the work.
        self.align_conv = build_alignment(lay.alignment, f, 2 * f, num_points=lay.num_points,
                                          gradient_mul=lay.point_gradient_mul, impl=lay.deform_impl,
                                          init=lay.deform_init)
        self.stage2_cls = head_conv(f, a, 1)
        self.stage2_reg = head_conv(f, a * self.reg_dim, 1)
        mask = lay.iou_mask
        self.iou_mask = (IoUMaskBranch(f, a, mask.feature, mask.double_sigmoid, mask.second_sigmoid)
                         if mask is not None else None)

    # ------------------------------------------------------------------ forward
    def forward(self, feats: list[Tensor],
                image_shapes: Optional[Sequence[Sequence[int]]] = None) -> HeadOutputs:
        """``image_shapes``: each image's un-padded (height, width); only ``clip_stage1`` reads it
        (without it, the padded batch extent is the limit)."""
        sizes = [tuple(x.shape[-2:]) for x in feats]
        device = feats[0].device
        if image_shapes is None:
            image_shapes = [(sizes[0][0] * self.strides[0], sizes[0][1] * self.strides[0])] * feats[0].shape[0]
        with record_function("scrpn::priors"):
            priors = self.prior_generator.grid_anchors(sizes, device)         # [(HWA, 4)]
            centers = [c.repeat_interleave(self.num_anchors, 0)
                       for c in grid_points(sizes, self.strides, device)]    # [(HWA, 2)]
        outs = [self._forward_level(x, p, c, s, image_shapes)
                for x, p, c, s in zip(feats, priors, centers, self.strides)]
        cat = lambda k: None if outs[0][k] is None else torch.cat([o[k] for o in outs], dim=1)
        # a channel is live when it fires at some level (the levels share the weights)
        activity = {k: torch.stack([o["activity"][k] for o in outs]).any(dim=0).float().mean()
                    for k in outs[0]["activity"]}
        return HeadOutputs(num_per_level=[p.shape[0] for p in priors], priors=torch.cat(priors),
                           centers=torch.cat(centers), init_boxes=cat("init_boxes"),
                           init_raw=cat("init_raw"), init_cls=cat("init_cls"),
                           refined_boxes=cat("refined_boxes"), refined_raw=cat("refined_raw"),
                           refined_cls=cat("refined_cls"), iou_mask=cat("iou_mask"),
                           stage2_priors=cat("stage2_priors"), activity=activity)

    def _forward_level(self, x: Tensor, priors: Tensor, centers: Tensor, stride: int,
                       image_shapes: Sequence[Sequence[int]]) -> dict:
        b, _, h, w = x.shape
        f1 = F.relu(self.stage1_conv(x))
        raw1 = self.stage1_reg(f1)                                            # (B, A*R, H, W)
        if self.is_point:
            raw1 = raw1 + self.prior_grid.view(1, -1, 1, 1)
        init_raw = flatten_levels(raw1, self.reg_dim)                         # (B, HWA, R)
        init_boxes = self._decode(0, init_raw, priors, centers, stride)
        out = dict(init_raw=init_raw, init_boxes=init_boxes, refined_boxes=None, refined_raw=None,
                   refined_cls=None, iou_mask=None, stage2_priors=None,
                   init_cls=(None if self.stage1_cls is None
                             else flatten_levels(self.stage1_cls(f1), 1)[..., 0]),
                   activity={"s1": _live_channels(f1)} if self.training else {})
        if not self.two_stage:
            return out
        stage2_priors = None
        if not self.is_point:  # the detached stage-1 boxes stage 2 refines (clipped: mmdetection)
            stage2_priors = init_boxes.detach()
            if self.clip_stage1:
                stage2_priors = clip_to_images(stage2_priors, image_shapes)
            out["stage2_priors"] = stage2_priors
        if self.point_guided:
            guide = raw1
        else:  # the box each location's taps span (points: the min/max box of the init points)
            guide = init_boxes.detach() if stage2_priors is None else stage2_priors
        aligned = F.relu(self.align_conv(f1, guide, stride))
        if self.training:
            out["activity"]["s2"] = _live_channels(aligned)
        cls_feat, reg_feat = aligned.chunk(2, dim=1)
        refined_raw = flatten_levels(self.stage2_reg(reg_feat), self.reg_dim)
        base = init_raw.detach() if self.is_point else stage2_priors
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
        detached init offsets for stage 2 (refined = init + point_offset_scale x secondary).
        """
        b, n, r = raw.shape
        if self.is_point:
            offsets = raw if stage == 0 else raw * self.point_offset_scale + base
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
        mask = self.mask_scores(out)
        if use_iou_mask and mask is not None:
            scores = iou_aware_score(scores, mask)
        return scores, out.refined_boxes

    @property
    def has_iou_mask(self) -> bool:
        return self.two_stage and self.iou_mask is not None

    def mask_scores(self, out: HeadOutputs) -> Optional[Tensor]:
        """(B, N) IoU-mask values as the IoU-aware score uses them, or None without the branch."""
        if out.iou_mask is None or not self.has_iou_mask:
            return None
        return self.iou_mask.score_map(out.iou_mask)

    # ------------------------------------------------------------------ training
    def loss(self, out: HeadOutputs, targets: list[dict]) -> dict[str, Tensor]:
        """Assign, sample and compute the weighted losses of both stages (eq. 3).

        Also leaves :attr:`diagnostics` (``diag_*`` scalars, no gradient) that say whether stage 1
        learns: the mean IoU of the stage-1 positives' decoded boxes with their gts next to the same
        for their undecoded priors, and each stage's fraction of live ReLU channels (channels that
        fire somewhere in the batch, at any level; 0 is the dead-ReLU collapse). The trainer
        logs them; they are never part of the loss.
        """
        acc = LossAccumulator()
        s1_iou, prior_iou = [], []
        for i, t in enumerate(targets):
            gts, ignore = split_gts(t)
            a1 = self.assign(0, out, i, gts, ignore)
            self._stage_terms(acc, "s1", 0, a1, gts, out.init_raw[i], out.init_boxes[i],
                              None if out.init_cls is None else out.init_cls[i], out.priors)
            s1_iou.append(positive_ious(a1, out.init_boxes[i].detach(), gts))
            prior_iou.append(positive_ious(a1, out.priors, gts))
            if not self.two_stage:
                continue
            a2 = self.assign(1, out, i, gts, ignore)
            base = out.init_raw[i].detach() if self.is_point else out.stage2_priors[i]
            cls_inds = self._stage_terms(acc, "s2", 1, a2, gts, out.refined_raw[i], out.refined_boxes[i],
                                         out.refined_cls[i], base)
            if out.iou_mask is not None:  # Table VI's samples, Fig. 3's targets
                inds = mask_sample_indices(self.layout.iou_mask.samples, a2, cls_inds)
                acc.add_mask(out.iou_mask[i][inds],
                             iou_targets(out.refined_boxes[i][inds].detach(), a2.gt_inds[inds], gts))
        self.diagnostics = self._diagnostics(out, torch.cat(s1_iou), torch.cat(prior_iou))
        with record_function("scrpn::loss_terms"):
            return acc.losses([p.loss for p in self.stages],
                              0.0 if self.layout.iou_mask is None else self.layout.iou_mask.weight)

    @staticmethod
    def _diagnostics(out: HeadOutputs, s1_iou: Tensor, prior_iou: Tensor) -> dict[str, Tensor]:
        diag = {f"diag_{k}_live_channels": v for k, v in out.activity.items()}
        if s1_iou.numel():
            diag["diag_s1_pos_iou"] = s1_iou.mean()
            diag["diag_s1_prior_iou"] = prior_iou.mean()
        return diag

    def assign(self, stage: int, out: HeadOutputs, i: int, gts: Tensor, ignore: Tensor) -> AssignResult:
        """Stage ``stage``'s (0 or 1) assignment of image ``i``: what :meth:`loss` trains on.

        Stage 1 assigns the priors (or the locations, for Positive Region), stage 2 the detached
        stage-1 boxes. ``viz/teaching.py`` calls it to show the positives of each stage.
        """
        if stage not in (0, 1):
            raise ValueError(f"the two-stage head assigns stages 0 and 1, not {stage}")
        if stage == 0:
            boxes = out.priors
        else:
            boxes = out.init_boxes[i].detach() if out.stage2_priors is None else out.stage2_priors[i]
        priors = PriorSet(boxes=boxes, centres=out.centers, num_per_level=out.num_per_level)
        with record_function("scrpn::assign"):
            return self.assigners[stage].assign_priors(priors, gts, ignore)

    def _stage_terms(self, acc: "LossAccumulator", key: str, stage: int, assign: AssignResult,
                     gts: Tensor, raw: Tensor, boxes: Tensor, cls: Optional[Tensor], base: Tensor
                     ) -> Optional[Tensor]:
        """Collect one image's regression pairs and classification samples of one stage.

        ``base`` is what the stage's deltas are relative to: the priors (stage 1) or the detached
        init boxes (stage 2); unused by IoU-type losses, which compare decoded boxes.
        Returns the indices of the classification samples (None if the stage does not classify).
        """
        loss = self.stages[stage].loss
        classifies = cls is not None and loss.classifies
        acc.add_priors(key, assign.gt_inds.numel())
        sampled = None
        if classifies and loss.mmdet_norm:  # regress the sampled positives only
            sampled = self.samplers[stage].sample(assign, generator=self.generator)
        pos = regression_indices(loss.mmdet_norm, torch.nonzero(assign.gt_inds > 0).squeeze(1),
                                 None if sampled is None else sampled[0])
        gt_of_pos = gts[assign.gt_inds[pos] - 1] if pos.numel() else gts.new_zeros(0, 4)
        if loss.on_boxes:
            acc.add_reg(key, boxes[pos], gt_of_pos)
        else:
            acc.add_reg(key, raw[pos], self.coders[stage].encode(base[pos], gt_of_pos))
        if not classifies:
            return None
        pos_s, neg_s = sampled or self.samplers[stage].sample(assign, generator=self.generator)
        inds = torch.cat([pos_s, neg_s])
        labels = torch.cat([cls.new_ones(pos_s.numel()), cls.new_zeros(neg_s.numel())])
        acc.add_cls(key, cls[inds], labels)
        return inds
