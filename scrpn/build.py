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
  SC-RPN rows, by configuration) or ``ga_rpn``.
"""
from __future__ import annotations

from torch import nn

from scrpn.config import AssignerConfig, Config, DetectorConfig, SamplerConfig
from scrpn.detectors import (DoubleConvFCBBoxHead, FastRCNN, ProposalStore, RoIExtractor, RoIHead,
                             RoIStage, Shared2FCBBoxHead, TwoStageDetector)
from scrpn.models.backbones import BackboneWithFPN, build_backbone
from scrpn.models.heads.ga_rpn import GuidedAnchorHead
from scrpn.models.heads.stages import TwoStageProposalHead
from scrpn.models.heads.targets import build_assigner as _build_assigner
from scrpn.models.proposal_network import ProposalNetwork
from scrpn.pyramid import FPN_STRIDES, level_base_scale
from scrpn.sampling.priors import Assigner
from scrpn.sampling.sampler import RandomSampler

__all__ = ["DATASET_CLASSES", "NUM_ROI_LEVELS", "build_assigner", "build_assigners",
           "build_backbone_of", "build_detector", "build_model", "build_proposal_network",
           "build_roi_head", "build_sampler", "num_classes_of"]

# Number of categories of each dataset when ``detector.num_classes`` is 0.
DATASET_CLASSES = {"synthshapes": 8, "coco": 80, "deepforest": 1}
# The RoI head reads P2-P5 (P6 only serves proposals), as mmdetection's SingleRoIExtractor.
NUM_ROI_LEVELS = 4
HEADS = {"two_stage": TwoStageProposalHead, "ga_rpn": GuidedAnchorHead}


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
    ``size_aware_threshold``) for a head whose eq. (1) base is ``base_scale`` on ``strides``."""
    return _build_assigner(cfg, base_scale, tuple(strides))


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


def build_proposal_network(cfg: Config) -> ProposalNetwork:
    """Backbone + FPN + the proposal head of ``cfg.model.head`` (Fig. 1)."""
    backbone = build_backbone_of(cfg)
    head = HEADS[cfg.model.head.type](backbone.out_channels, cfg.model.head,
                                      strides=tuple(backbone.strides))
    return ProposalNetwork(backbone, head, cfg.model.test,
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
