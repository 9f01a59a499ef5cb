"""From a :class:`~scrpn.config.Config` to a model: every model builder of the package.

``models/`` and ``detectors/`` hold classes only; this module reads the config once and
wires them together, so that no class re-reads config strings to decide what it is, and no
package imports another to build something (the import-cycle test,
``tests/test_architecture.py``, keeps it that way).

* ``build_model(cfg)``: the proposal network of ``cfg.model``, or the R-CNN detector of
  ``cfg.detector`` on top of it when ``detector.type`` is not ``none``. ``scrpn train``,
  ``evaluate``, ``bench`` and the study all build through it.
* The strides of the heads and of the RoI extractor come from the backbone
  (``BackboneWithFPN.strides``, P2-P6), not from a literal: the proposal heads read every level,
  the RoI extractor the first four (P2-P5, mmdetection's ``featmap_strides``).
* ``model.head.type`` picks the head class: ``two_stage`` (RPN, Iterative RPN, Cascade RPN and
  SC-RPN rows, by configuration) or ``ga_rpn``. :func:`build_head` reads ``model.head`` once: the
  layers become a layout of plain values (``TwoStageLayout``, ``GuidedAnchorLayout``) and each
  assigning stage becomes its parts (:func:`build_stage_parts`: assigner, sampler, coder and the
  loss resolved from its strings), handed to the head. No module of ``models/`` reads a config.
* ``viz/`` builds heads and assigners here too (:func:`build_head`, :func:`build_assigners`).
"""
from __future__ import annotations

from functools import partial

from torch import nn

from scrpn import losses as L
from scrpn.config import (AssignerConfig, Config, DetectorConfig, HeadConfig, SamplerConfig,
                          StageConfig, TestConfig)
from scrpn.detectors import (DoubleConvFCBBoxHead, FastRCNN, ProposalStore, RoIExtractor, RoIHead,
                             RoIStage, Shared2FCBBoxHead, TwoStageDetector)
from scrpn.models.backbones import BackboneWithFPN, build_backbone
from scrpn.models.box_coder import DeltaXYWHCoder
from scrpn.models.heads.base import ProposalHead
from scrpn.models.heads.ga_rpn import GuidedAnchorHead, GuidedAnchorLayout
from scrpn.models.heads.iou_mask import IoUMaskLayout
from scrpn.models.heads.parts import StageLoss, StageParts
from scrpn.models.heads.stages import TwoStageLayout, TwoStageProposalHead
from scrpn.models.postprocess import Selection
from scrpn.models.proposal_network import ProposalNetwork
from scrpn.pyramid import FPN_STRIDES, level_base_scale
from scrpn.sampling.atss import ATSSAssigner
from scrpn.sampling.max_iou import MaxIoUAssigner
from scrpn.sampling.positive_region import PositiveRegionAssigner
from scrpn.sampling.priors import Assigner
from scrpn.sampling.region import RegionAssigner
from scrpn.sampling.sampler import RandomSampler
from scrpn.sampling.size_aware_threshold import SizeAwareThresholdAssigner

__all__ = ["DATASET_CLASSES", "HEADS", "NUM_ROI_LEVELS", "build_assigner", "build_assigners",
           "build_backbone_of", "build_detector", "build_head", "build_model",
           "build_proposal_network", "build_roi_head", "build_sampler", "build_selection",
           "build_stage_loss", "build_stage_parts", "num_classes_of"]

# Number of categories of each dataset when ``detector.num_classes`` is 0.
DATASET_CLASSES = {"synthshapes": 8, "coco": 80, "deepforest": 1}
# The RoI head reads P2-P5 (P6 only serves proposals), as mmdetection's SingleRoIExtractor.
NUM_ROI_LEVELS = 4


def num_classes_of(cfg: Config) -> int:
    """K, the number of foreground classes: ``detector.num_classes`` or the dataset's."""
    return cfg.detector.num_classes or DATASET_CLASSES[cfg.data.dataset]


def build_backbone_of(cfg: Config) -> BackboneWithFPN:
    """The backbone + FPN of ``cfg.model.backbone``."""
    bb = cfg.model.backbone
    return build_backbone(bb.name, fpn_channels=bb.fpn_channels, pretrained=bb.pretrained,
                          frozen_stages=bb.frozen_stages)


def build_assigner(cfg: AssignerConfig, base_scale: float,
                   strides: tuple[int, ...] = FPN_STRIDES) -> Assigner:
    """The assigner of ``cfg`` (``max_iou``, ``positive_region``, ``region``,
    ``size_aware_threshold``, ``atss``) for a head whose eq. (1) base is ``base_scale`` on ``strides``."""
    strides = tuple(int(s) for s in strides)
    if cfg.type == "max_iou":
        return MaxIoUAssigner(pos_iou_thr=cfg.pos_iou_thr, neg_iou_thr=cfg.neg_iou_thr,
                              min_pos_iou=cfg.min_pos_iou, match_low_quality=cfg.match_low_quality,
                              ignore_iof_thr=cfg.ignore_iof_thr)
    if cfg.type == "positive_region":
        return PositiveRegionAssigner(center_ratio=cfg.center_ratio, base_scale=base_scale,
                                      strides=strides, region_rule=cfg.region_rule)
    if cfg.type == "region":
        return RegionAssigner(center_ratio=cfg.center_ratio, ignore_ratio=cfg.ignore_ratio,
                              base_scale=base_scale, strides=strides)
    if cfg.type == "size_aware_threshold":
        return SizeAwareThresholdAssigner(topk=cfg.topk, num_levels_used=cfg.num_levels,
                                          base_scale=base_scale, strides=strides)
    if cfg.type == "atss":  # the SADS inspector's comparison (scrpn/viz/sads_inspector.py)
        return ATSSAssigner(topk=cfg.topk, strides=strides)
    raise ValueError(f"unknown assigner type {cfg.type!r}")


def build_sampler(cfg: SamplerConfig) -> RandomSampler:
    """The random sampler of ``cfg`` (``num`` samples, ``pos_fraction`` positives at most)."""
    return RandomSampler(num=cfg.num, pos_fraction=cfg.pos_fraction)


def build_assigners(cfg: Config, strides: tuple[int, ...] = FPN_STRIDES) -> list[Assigner]:
    """The assigners the head of ``cfg`` trains with, stage by stage, as it builds them.

    Two-stage head: ``[stage 1, stage 2]`` (both, whatever ``num_stages``); GA-RPN: ``[the RPN
    part's assigner on the guided anchors]``. Base scale: eq. (1)'s, from ``anchor_scale``.
    """
    head = cfg.model.head
    base = level_base_scale(head.anchor_scale, tuple(strides))
    stages = (head.stage1, head.stage2) if head.type == "two_stage" else (head.stage1,)
    return [build_assigner(s.assigner, base, strides) for s in stages]


def build_stage_loss(cfg: StageConfig) -> StageLoss:
    """A stage's losses, its strings resolved once: ``reg_loss`` (``l1``, ``smooth_l1`` at
    ``smooth_l1_beta``, ``iou`` = 1 - IoU, ``iou_log`` = -ln IoU; the IoU ones compare decoded
    boxes) and ``loss_norm`` (``mmdet``: mmdetection's normalisers)."""
    if cfg.reg_loss in ("iou", "iou_log"):
        reg = partial(L.iou_loss, mode="log" if cfg.reg_loss == "iou_log" else "linear")
    elif cfg.reg_loss == "l1":
        reg = L.l1_loss
    elif cfg.reg_loss == "smooth_l1":
        reg = partial(L.smooth_l1_loss, beta=cfg.smooth_l1_beta)
    else:
        raise ValueError(f"unknown reg_loss {cfg.reg_loss!r}")
    return StageLoss(reg=reg, on_boxes=cfg.reg_loss.startswith("iou"), reg_weight=cfg.reg_weight,
                     cls_weight=cfg.cls_weight, mmdet_norm=cfg.loss_norm == "mmdet")


def build_stage_parts(cfg: StageConfig, base_scale: float,
                      strides: tuple[int, ...] = FPN_STRIDES) -> StageParts:
    """One assigning stage's parts: its assigner, sampler, delta coder (``target_stds``), loss."""
    return StageParts(assigner=build_assigner(cfg.assigner, base_scale, strides),
                      sampler=build_sampler(cfg.sampler),
                      coder=DeltaXYWHCoder(stds=tuple(cfg.target_stds)),
                      loss=build_stage_loss(cfg))


def _two_stage_head(in_channels: int, cfg: HeadConfig, strides: tuple[int, ...]) -> ProposalHead:
    m = cfg.iou_mask
    layout = TwoStageLayout(
        feat_channels=cfg.feat_channels, anchor_scale=cfg.anchor_scale,
        anchor_ratios=tuple(cfg.anchor_ratios), representation=cfg.representation,
        num_points=cfg.num_points, num_stages=cfg.num_stages, stage1_conv=cfg.stage1_conv,
        stage1_dilation=cfg.stage1_dilation, alignment=cfg.alignment, deform_impl=cfg.deform_impl,
        deform_init=cfg.deform_init, point_gradient_mul=cfg.point_gradient_mul,
        point_offset_scale=cfg.point_offset_scale, clip_stage1=cfg.clip_stage1,
        iou_mask=(IoUMaskLayout(feature=m.feature, double_sigmoid=m.double_sigmoid,
                                second_sigmoid=m.second_sigmoid, samples=m.samples, weight=m.weight)
                  if m.enabled else None))
    base = level_base_scale(cfg.anchor_scale, strides)
    stages = [build_stage_parts(s, base, strides) for s in (cfg.stage1, cfg.stage2)]
    return TwoStageProposalHead(in_channels, layout, stages, strides)


def _ga_rpn_head(in_channels: int, cfg: HeadConfig, strides: tuple[int, ...]) -> ProposalHead:
    ga = cfg.ga
    layout = GuidedAnchorLayout(
        feat_channels=cfg.feat_channels, anchor_scale=cfg.anchor_scale,
        anchor_ratios=tuple(cfg.anchor_ratios), scales_per_octave=ga.scales_per_octave,
        deform_groups=ga.deform_groups, deform_impl=cfg.deform_impl, deform_init=cfg.deform_init,
        loc_filter_thr=ga.loc_filter_thr, center_ratio=ga.center_ratio,
        ignore_ratio=ga.ignore_ratio, neg_loc_weight=ga.neg_loc_weight,
        inverted_loc_targets=ga.loc_targets == "mmdet3_inverted", focal_alpha=ga.focal_alpha,
        focal_gamma=ga.focal_gamma, loc_weight=ga.loc_weight)
    base = level_base_scale(cfg.anchor_scale, strides)
    rpn = build_stage_parts(cfg.stage1, base, strides)
    # the shape branch: approx Max-IoU, its sampler, the anchoring coder, the bounded IoU loss
    shape = StageParts(assigner=build_assigner(ga.assigner, base, strides),
                       sampler=build_sampler(ga.sampler),
                       coder=DeltaXYWHCoder(stds=tuple(ga.anchoring_stds), wh_ratio_clip=1e-6),
                       loss=StageLoss(reg=partial(L.bounded_iou_loss, beta=ga.bounded_iou_beta),
                                      on_boxes=True, reg_weight=ga.shape_weight, cls_weight=0.0))
    return GuidedAnchorHead(in_channels, layout, rpn, shape, strides)


# model.head.type -> the function that builds that head from (in_channels, model.head, strides)
HEADS = {"two_stage": _two_stage_head, "ga_rpn": _ga_rpn_head}


def build_head(cfg: HeadConfig, in_channels: int,
               strides: tuple[int, ...] = FPN_STRIDES) -> ProposalHead:
    """The proposal head of ``model.head`` on ``in_channels``-channel features of ``strides``."""
    return HEADS[cfg.type](in_channels, cfg, tuple(int(s) for s in strides))


def build_selection(cfg: TestConfig) -> Selection:
    """``model.test`` as the network's test-time selection."""
    return Selection(nms_pre=cfg.nms_pre, nms_thr=cfg.nms_thr, max_per_img=cfg.max_per_img,
                     min_bbox_size=cfg.min_bbox_size, cross_level_nms=cfg.cross_level_nms,
                     cross_level_nms_thr=cfg.cross_level_nms_thr)


def build_proposal_network(cfg: Config) -> ProposalNetwork:
    """Backbone + FPN + the proposal head of ``cfg.model.head`` (Fig. 1)."""
    backbone = build_backbone_of(cfg)
    head = build_head(cfg.model.head, backbone.out_channels, tuple(backbone.strides))
    return ProposalNetwork(backbone, head, build_selection(cfg.model.test),
                           use_iou_mask_at_test=cfg.model.head.iou_mask.test_with)


def _bbox_head(det: DetectorConfig, in_channels: int, num_classes: int, agnostic: bool) -> nn.Module:
    if det.type == "double_head":
        return DoubleConvFCBBoxHead(in_channels, det.roi_size, num_classes, det.fc_channels,
                                    det.num_fcs, det.conv_channels, det.num_convs, agnostic,
                                    det.reg_roi_scale)
    return Shared2FCBBoxHead(in_channels, det.roi_size, num_classes, det.fc_channels, det.num_fcs,
                             agnostic)


def build_roi_head(det: DetectorConfig, in_channels: int, num_classes: int,
                   strides: tuple[int, ...] = BackboneWithFPN.STRIDES[:NUM_ROI_LEVELS]) -> RoIHead:
    """One stage at ``pos_iou_thr`` (Faster / Fast / Double-Head), or the cascade's stages, on
    RoI features of the levels of ``strides``.

    Cascade R-CNN regresses class-agnostically in every stage (mmdetection's config), so that
    each stage refines one box per RoI for the next.
    """
    if det.type == "cascade_rcnn":
        specs = list(zip(det.cascade_iou_thrs, det.cascade_stds, det.cascade_loss_weights))
        agnostic = True
    else:
        specs = [(det.pos_iou_thr, det.target_stds, 1.0)]
        agnostic = det.reg_class_agnostic
    stages = [RoIStage(_bbox_head(det, in_channels, num_classes, agnostic), iou, stds, weight,
                       det.cls_weight, det.reg_weight, det.reg_loss, det.smooth_l1_beta)
              for iou, stds, weight in specs]
    extractor = RoIExtractor(tuple(strides), det.roi_size, det.sampling_ratio, det.finest_scale)
    sampler = RandomSampler(num=det.sampler.num, pos_fraction=det.sampler.pos_fraction)
    return RoIHead(stages, extractor, sampler, det.add_gt_as_proposals, det.score_thr, det.nms_thr,
                   det.max_per_img)


def build_detector(cfg: Config) -> nn.Module:
    """The detector of ``cfg.detector`` (``type`` must not be ``none``).

    The RoI head is built before the backbone, so its initial weights are the first drawn from
    the seeded RNG, as in every committed run; its strides are therefore the backbone class's
    (``BackboneWithFPN.STRIDES``), which every instance reports as ``strides``.
    """
    det = cfg.detector
    roi_head = build_roi_head(det, cfg.model.backbone.fpn_channels, num_classes_of(cfg),
                              BackboneWithFPN.STRIDES[:NUM_ROI_LEVELS])
    if det.type == "fast_rcnn":
        return FastRCNN(build_backbone_of(cfg), roi_head,
                        ProposalStore(det.train_proposals, det.num_proposals),
                        ProposalStore(det.val_proposals, det.num_proposals), NUM_ROI_LEVELS)
    if det.type in ("faster_rcnn", "double_head", "cascade_rcnn"):
        return TwoStageDetector(build_proposal_network(cfg), roi_head, det.num_proposals,
                                NUM_ROI_LEVELS)
    raise ValueError(f"detector.type {det.type!r} builds no detector")


def build_model(cfg: Config) -> nn.Module:
    """The proposal network, or the R-CNN detector on top of it when ``detector.type`` is set."""
    if cfg.detector.type != "none":
        return build_detector(cfg)
    return build_proposal_network(cfg)
