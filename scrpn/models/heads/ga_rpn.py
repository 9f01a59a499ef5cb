"""GA-RPN (Wang et al., "Region proposal by guided anchoring", CVPR 2019): the parts that are its own.

Per FPN level (weights shared across levels, mmdetection's ``GARPNHead``)::

    x -> 3x3 conv + ReLU -> t
    t -> conv_loc   (1x1, 1 channel)   anchor-location logit: "is an object centred here?"
    t -> conv_shape (1x1, 2 channels)  (dw, dh) of the one anchor of the location
    t -> feature adaption: 3x3 deformable conv whose offsets are a 1x1 conv of the (detached)
         shape prediction, + ReLU -> a                                   (mmdetection's FeatureAdaption)
    a -> conv_cls (1x1), conv_reg (1x1)   RPN classification and deltas relative to the guided anchor

The guided anchor of a location is its square anchor (side ``anchor_scale`` strides) with the
predicted (dw, dh), decoded with ``ga.anchoring_stds`` and detached. Training:

* location targets (:func:`location_targets`): on the gt's level (eq. (1) with the head's base
  scale) the centre region (ratio 0.2) is positive (1, weight 1), the rest of the ignore region
  (ratio 0.5) has weight 0, and so do the ignore regions on the two adjacent levels where no gt has
  set anything; everything else is negative with weight ``neg_loc_weight`` (0.1). Focal loss
  (alpha 0.25, gamma 2) summed and divided by (number of locations in the batch) / 200.
* shape targets (:func:`approx_overlaps`): each location's IoU with a gt is the best IoU of its
  approximate anchors (``anchor_ratios`` x ``scales_per_octave`` scales of the octave); the Max-IoU
  rules (0.7 / 0.3, low-quality matches) assign on those, a random sampler draws 256 at 0.5; the
  bounded IoU loss (beta 0.2) compares the sampled positives' guided anchors with their gts and is
  divided by the number of sampled shape samples (mmdetection's ``ga_sampler`` average factor).
* the RPN part is the project's RPN stage (``model.head.stage1``: Max-IoU 0.7 / 0.3 on the guided
  anchors, random sampler 256 / 0.5, BCE, smooth L1 beta 1.0 on deltas relative to the guided
  anchors), with the same normalisers as every other head (``blocks.LossAccumulator``).

Test: ``final_scores_and_boxes`` gives locations whose location probability is below
``ga.loc_filter_thr`` (0.01) the score -1, which the post-processing drops (mmdetection skips them
with a masked convolution); the rest is the shared per-level top-k / NMS.

The head implements :class:`~scrpn.models.heads.base.ProposalHead`; its one assigning stage
``rpn`` (:meth:`GuidedAnchorHead.assign`, stage 0) is the RPN part's. It is built by
:func:`scrpn.build.build_head` from a :class:`GuidedAnchorLayout` and two
:class:`~scrpn.models.heads.parts.StageParts`: the RPN part's (``model.head.stage1``) and the
shape branch's (``ga.assigner``, ``ga.sampler``, the anchoring coder, the bounded IoU loss);
``tests/test_ga_rpn.py`` pins it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import losses as L
from ...ops.deform_conv import DeformConv2d
from ...pyramid import FPN_STRIDES, level_base_scale
from ...sampling.assign_result import AssignResult
from ...sampling.levels import target_level
from ...sampling.geometry import box_area, pairwise_overlaps
from ...sampling.max_iou import MaxIoUAssigner
from ...sampling.priors import PriorSet
from ...sampling.region import region_in_cells
from ..anchors import AnchorGenerator
from .base import ProposalHead, ProposalOutputs, split_gts
from .blocks import LossAccumulator, flatten_levels, head_conv, regression_indices
from .parts import StageParts

LOC_AVG_DIVISOR = 200.0   # mmdetection: location-loss average factor = #locations / 200


@dataclass(frozen=True)
class GuidedAnchorLayout:
    """GA-RPN's layers and its location branch, as plain values (:func:`scrpn.build.build_head`
    fills it from ``model.head`` and ``model.head.ga``; the field names are the config's).
    ``inverted_loc_targets``: ``ga.loc_targets: mmdet3_inverted``."""
    feat_channels: int
    anchor_scale: float
    anchor_ratios: tuple[float, ...]
    scales_per_octave: int = 3
    deform_groups: int = 4
    deform_impl: str = "auto"
    deform_init: str = "torch"
    loc_filter_thr: float = 0.01
    center_ratio: float = 0.2
    ignore_ratio: float = 0.5
    neg_loc_weight: float = 0.1
    inverted_loc_targets: bool = False
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    loc_weight: float = 1.0


@dataclass
class GAOutputs(ProposalOutputs):
    """Predictions flattened over levels, location-major inside each level (all (B, N, ...))."""
    featmap_sizes: list[tuple[int, int]]
    squares: Tensor          # (N, 4) square anchors
    loc: Tensor              # (B, N) location logits
    shape: Tensor            # (B, N, 2) predicted (dw, dh)
    anchors: Tensor          # (B, N, 4) guided anchors (detached)
    cls: Tensor              # (B, N) objectness logits
    reg: Tensor              # (B, N, 4) deltas relative to the guided anchors
    boxes: Tensor            # (B, N, 4) proposals


# ---------------------------------------------------------------------------------------- targets
def _region_slices(box: Tensor, ratio: float, stride: float, size: tuple[int, int]
                   ) -> tuple[slice, slice]:
    """Row / column slices of the cells of a box's central ``ratio`` region, clamped to the map."""
    h, w = size
    x1, y1, x2, y2 = region_in_cells(box[None], ratio, stride)[0].tolist()
    x1, x2 = (int(min(max(v, 0), w)) for v in (x1, x2))
    y1, y2 = (int(min(max(v, 0), h)) for v in (y1, y2))
    return slice(y1, y2 + 1), slice(x1, x2 + 1)


def location_targets(gt_boxes: Tensor, featmap_sizes: list[tuple[int, int]],
                     strides: tuple[int, ...], base_scale: float, center_ratio: float = 0.2,
                     ignore_ratio: float = 0.5, neg_weight: float = 0.1) -> tuple[Tensor, Tensor]:
    """One image's anchor-location targets and weights, (N,) each, level-major, row-major.

    mmdetection's ``ga_loc_targets``, gt by gt in index order: on level i_g the ignore region gets
    weight 0, then the centre region target 1 and weight 1 (so a later gt's ignore region zeroes
    the weight of an earlier gt's centre); the ignore regions on levels i_g +- 1 are recorded and,
    after all gts, give weight 0 to the cells no gt has touched on that level; the untouched rest
    is negative with ``neg_weight``. Regions are rounded to whole cells (``region_in_cells``) and
    clamped to the map. Crowd boxes play no part (as in mmdetection).
    """
    device = gt_boxes.device
    num_levels = len(strides)
    targets = [torch.zeros(h, w, device=device) for h, w in featmap_sizes]
    weights = [torch.full((h, w), -1.0, device=device) for h, w in featmap_sizes]
    near = [torch.zeros(h, w, dtype=torch.bool, device=device) for h, w in featmap_sizes]
    levels = target_level(box_area(gt_boxes), base_scale, num_levels).tolist() if len(gt_boxes) else []
    for g, lvl in enumerate(levels):
        box, size, stride = gt_boxes[g], featmap_sizes[lvl], float(strides[lvl])
        weights[lvl][_region_slices(box, ignore_ratio, stride, size)] = 0.0
        centre = _region_slices(box, center_ratio, stride, size)
        targets[lvl][centre] = 1.0
        weights[lvl][centre] = 1.0
        for adj in (lvl - 1, lvl + 1):
            if 0 <= adj < num_levels:
                near[adj][_region_slices(box, ignore_ratio, float(strides[adj]), featmap_sizes[adj])] = True
    for w, n in zip(weights, near):
        w[(w < 0) & n] = 0.0
        w[w < 0] = neg_weight
    return torch.cat([t.reshape(-1) for t in targets]), torch.cat([w.reshape(-1) for w in weights])


def approx_overlaps(approxs: Tensor, gt_boxes: Tensor, num_approx: int) -> Tensor:
    """IoU of each location with each gt = the best IoU of its ``num_approx`` approximate anchors.

    approxs: (N * num_approx, 4), the anchors of a location consecutive (location-major);
    gt_boxes (M, 4) -> (N, M). mmdetection's ApproxMaxIoUAssigner.
    """
    overlaps = pairwise_overlaps(approxs, gt_boxes)                       # (N * A, M)
    return overlaps.view(-1, num_approx, gt_boxes.shape[0]).max(dim=1).values


def assign_shapes(assigner: MaxIoUAssigner, approxs: Tensor, squares: Tensor, num_approx: int,
                  gt_boxes: Tensor, gt_ignore: Tensor | None = None) -> AssignResult:
    """Shape-branch assignment: the Max-IoU rules on :func:`approx_overlaps` (one row per square)."""
    if squares.shape[0] == 0 or gt_boxes.shape[0] == 0:
        return AssignResult.all_negative(squares.shape[0], gt_boxes.shape[0], squares.device)
    return assigner.assign_wrt_overlaps(approx_overlaps(approxs, gt_boxes, num_approx), squares,
                                        gt_ignore)


# ---------------------------------------------------------------------------------------- layers
class FeatureAdaption(nn.Module):
    """3x3 deformable conv whose offsets are a 1x1 conv (no bias) of the detached anchor shape.

    ``deform_groups`` offset groups (mmdetection: 4), each with its own 9 (dy, dx) pairs. The
    offsets come from the predicted (dw, dh) only, so the sampled grid follows the anchor's shape.
    Init as mmdetection: offset conv N(0, 0.1), deformable conv N(0, 0.01); the deformable conv
    has a zero-initialised bias (``init='torch'``, the study's first runs) or none, as mmdetection
    (``init='mmdet'``, ``model.head.deform_init``; fidelity review: "deform conv has a bias").
    """

    def __init__(self, in_channels: int, out_channels: int, deform_groups: int = 4,
                 impl: str = "auto", init: str = "torch") -> None:
        super().__init__()
        self.conv_offset = nn.Conv2d(2, deform_groups * 2 * 9, 1, bias=False)
        self.conv_adaption = DeformConv2d(in_channels, out_channels, 3, padding=1,
                                          offset_groups=deform_groups, impl=impl,
                                          bias=init != "mmdet")
        nn.init.normal_(self.conv_offset.weight, std=0.1)
        nn.init.normal_(self.conv_adaption.weight, std=0.01)
        if self.conv_adaption.bias is not None:
            nn.init.zeros_(self.conv_adaption.bias)

    def forward(self, x: Tensor, shape: Tensor) -> Tensor:
        """x (B, C, H, W), shape (B, 2, H, W) -> (B, C_out, H, W)."""
        return F.relu(self.conv_adaption(x, self.conv_offset(shape.detach())))


class GuidedAnchorHead(ProposalHead):
    """GA-RPN's head: location, shape and feature adaption, then RPN on the guided anchors."""

    stage_names = ("rpn",)

    def __init__(self, in_channels: int, layout: GuidedAnchorLayout, rpn: StageParts,
                 shape: StageParts, strides: tuple[int, ...] = FPN_STRIDES) -> None:
        super().__init__(strides)
        if not isinstance(shape.assigner, MaxIoUAssigner):
            raise ValueError("GA-RPN's shape branch needs a Max-IoU assigner (ga.assigner.type: max_iou)")
        self.layout = layout
        self.rpn, self.shape = rpn, shape
        self.stages = (rpn,)
        self.base_scale = level_base_scale(layout.anchor_scale, self.strides)
        scales = tuple(layout.anchor_scale * 2.0 ** (i / layout.scales_per_octave)
                       for i in range(layout.scales_per_octave))
        self.approx_generator = AnchorGenerator(self.strides, tuple(layout.anchor_ratios), scales)
        self.num_approx = self.approx_generator.num_base_anchors
        self.square_generator = AnchorGenerator(self.strides, (1.0,), (layout.anchor_scale,))
        self.anchor_coder = shape.coder
        self.bbox_coder = rpn.coder
        self.shape_assigner = shape.assigner
        self.shape_sampler = shape.sampler
        self.assigner = rpn.assigner
        self.sampler = rpn.sampler
        f = layout.feat_channels
        self.rpn_conv = head_conv(in_channels, f, 3)
        self.conv_loc = head_conv(f, 1, 1)
        nn.init.constant_(self.conv_loc.bias, -4.59511985)     # prior probability 0.01
        self.conv_shape = head_conv(f, 2, 1)
        self.adaption = FeatureAdaption(f, f, layout.deform_groups, layout.deform_impl,
                                        layout.deform_init)
        self.conv_cls = head_conv(f, 1, 1)
        self.conv_reg = head_conv(f, 4, 1)

    def decode_anchors(self, squares: Tensor, shape: Tensor) -> Tensor:
        """Squares (..., 4) and (dw, dh) (..., 2) -> anchors (..., 4): centre kept, size scaled."""
        deltas = torch.cat([torch.zeros_like(shape), shape], dim=-1)
        return self.anchor_coder.decode(squares.expand_as(deltas), deltas)

    def forward(self, feats: list[Tensor], image_shapes: Optional[Sequence] = None) -> GAOutputs:
        """``image_shapes`` is accepted for the heads' common interface and unused."""
        sizes = [tuple(x.shape[-2:]) for x in feats]
        squares = torch.cat(self.square_generator.grid_anchors(sizes, feats[0].device))  # (N, 4)
        loc, shape, cls, reg = [], [], [], []
        for x in feats:
            t = F.relu(self.rpn_conv(x))
            s = self.conv_shape(t)                                              # (B, 2, H, W)
            a = self.adaption(t, s)
            loc.append(flatten_levels(self.conv_loc(t), 1)[..., 0])
            shape.append(flatten_levels(s, 2))
            cls.append(flatten_levels(self.conv_cls(a), 1)[..., 0])
            reg.append(flatten_levels(self.conv_reg(a), 4))
        shape_t = torch.cat(shape, dim=1)                                       # (B, N, 2)
        anchors = self.decode_anchors(squares, shape_t.detach())                # (B, N, 4)
        reg_t = torch.cat(reg, dim=1)
        boxes = self.bbox_coder.decode(anchors, reg_t)
        return GAOutputs(num_per_level=[h * w for h, w in sizes], featmap_sizes=sizes,
                         squares=squares, loc=torch.cat(loc, dim=1), shape=shape_t, anchors=anchors,
                         cls=torch.cat(cls, dim=1), reg=reg_t, boxes=boxes)

    # ------------------------------------------------------------------ test
    def final_scores_and_boxes(self, out: GAOutputs, use_iou_mask: bool = False
                               ) -> tuple[Tensor, Tensor]:
        """(B, N) scores, -1 where the location filter drops the location, and (B, N, 4) boxes."""
        keep = out.loc.sigmoid() >= self.layout.loc_filter_thr
        scores = torch.where(keep, out.cls.sigmoid(), torch.full_like(out.cls, -1.0))
        return scores, out.boxes

    # ------------------------------------------------------------------ training
    def loss(self, out: GAOutputs, targets: list[dict]) -> dict[str, Tensor]:
        ga = self.layout
        approxs = torch.cat(self.approx_generator.grid_anchors(out.featmap_sizes, out.loc.device))
        acc = LossAccumulator()
        loc_t, loc_w, shape_pred, shape_gt = [], [], [], []
        shape_samples = 0
        for i, t in enumerate(targets):
            gts, ignore = split_gts(t)
            lt, lw = location_targets(gts, out.featmap_sizes, self.strides, self.base_scale,
                                      ga.center_ratio, ga.ignore_ratio, ga.neg_loc_weight)
            loc_t.append(lt)
            loc_w.append(lw)
            a = assign_shapes(self.shape_assigner, approxs, out.squares, self.num_approx, gts, ignore)
            pos, neg = self.shape_sampler.sample(a, generator=self.generator)
            shape_samples += max(pos.numel(), 1) + max(neg.numel(), 1)
            shape_pred.append(self.decode_anchors(out.squares[pos], out.shape[i][pos]))
            shape_gt.append(gts[a.gt_inds[pos] - 1] if pos.numel() else gts.new_zeros(0, 4))
            self._rpn_terms(acc, out, i, gts, ignore)
        losses = acc.losses([self.rpn.loss])
        weight_loc = torch.cat(loc_w)
        num_locs = weight_loc.numel()
        targets_loc = torch.cat(loc_t)
        if ga.inverted_loc_targets:     # mmdetection 3.3's polarity (docs/parity.md)
            targets_loc = 1.0 - targets_loc
        loss_loc = L.sigmoid_focal_loss(out.loc.reshape(-1), targets_loc, weight_loc,
                                        ga.focal_alpha, ga.focal_gamma)
        loss_shape = self.shape.loss.reg(torch.cat(shape_pred), torch.cat(shape_gt))
        return {"loss_loc": ga.loc_weight * loss_loc / (num_locs / LOC_AVG_DIVISOR),
                "loss_shape": self.shape.loss.reg_weight * loss_shape / shape_samples,
                "loss_cls": losses["loss_s1_cls"], "loss_reg": losses["loss_s1_reg"]}

    def _rpn_terms(self, acc: LossAccumulator, out: GAOutputs, i: int, gts: Tensor,
                   ignore: Tensor) -> None:
        """RPN on the (detached) guided anchors: regression on the positives, BCE on the samples."""
        anchors = out.anchors[i]
        assign = self.assign(0, out, i, gts, ignore)
        acc.add_priors("s1", assign.gt_inds.numel())
        pos_s, neg_s = self.sampler.sample(assign, generator=self.generator)
        pos = regression_indices(self.rpn.loss.mmdet_norm,
                                 torch.nonzero(assign.gt_inds > 0).squeeze(1), pos_s)
        gt_of_pos = gts[assign.gt_inds[pos] - 1] if pos.numel() else gts.new_zeros(0, 4)
        acc.add_reg("s1", out.reg[i][pos], self.bbox_coder.encode(anchors[pos], gt_of_pos))
        labels = torch.cat([out.cls.new_ones(pos_s.numel()), out.cls.new_zeros(neg_s.numel())])
        acc.add_cls("s1", out.cls[i][torch.cat([pos_s, neg_s])], labels)

    def assign(self, stage: int, out: GAOutputs, i: int, gts: Tensor, ignore: Tensor) -> AssignResult:
        """The RPN part's assignment (stage 0, the only one) of image ``i``: its assigner on the
        (detached) guided anchors, each at its square's location centre."""
        if stage != 0:
            raise ValueError(f"GA-RPN assigns one stage (0: {self.stage_names[0]}), not {stage}")
        squares = out.squares
        priors = PriorSet(boxes=out.anchors[i], centres=(squares[:, :2] + squares[:, 2:]) / 2,
                          num_per_level=out.num_per_level)
        return self.assigner.assign_priors(priors, gts, ignore)
