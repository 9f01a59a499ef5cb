"""R-CNN detectors on top of the proposals (the paper's Tables II and IX).

``detector.type`` picks one:

=================  ===========================================================================
``faster_rcnn``    proposal network (any head) + ``Shared2FCBBoxHead``, end to end
``double_head``    proposal network + ``DoubleConvFCBBoxHead`` (FC classifies, conv regresses)
``cascade_rcnn``   proposal network + three class-agnostic ``Shared2FCBBoxHead`` stages
``fast_rcnn``      backbone + ``Shared2FCBBoxHead`` on precomputed proposals files
=================  ===========================================================================
"""
from __future__ import annotations

from torch import nn

from ..config import Config, DetectorConfig
from ..sampling.sampler import RandomSampler
from .bbox_heads import DoubleConvFCBBoxHead, Shared2FCBBoxHead
from .fast_rcnn import FastRCNN
from .proposal_store import ProposalStore, to_input_coords
from .roi_head import RoIExtractor, RoIHead, RoIStage
from .two_stage_detector import TwoStageDetector

__all__ = ["DoubleConvFCBBoxHead", "FastRCNN", "ProposalStore", "RoIExtractor", "RoIHead",
           "RoIStage", "Shared2FCBBoxHead", "TwoStageDetector", "build_detector", "build_roi_head",
           "num_classes_of", "to_input_coords"]

# Number of categories of each dataset when ``detector.num_classes`` is 0.
DATASET_CLASSES = {"synthshapes": 8, "coco": 80, "deepforest": 1}
ROI_STRIDES = (4, 8, 16, 32)   # P2-P5, as mmdetection's SingleRoIExtractor (featmap_strides)


def num_classes_of(cfg: Config) -> int:
    """K, the number of foreground classes: ``detector.num_classes`` or the dataset's."""
    return cfg.detector.num_classes or DATASET_CLASSES[cfg.data.dataset]


def _bbox_head(det: DetectorConfig, in_channels: int, num_classes: int, agnostic: bool) -> nn.Module:
    if det.type == "double_head":
        return DoubleConvFCBBoxHead(in_channels, det.roi_size, num_classes, det.fc_channels,
                                    det.num_fcs, det.conv_channels, det.num_convs, agnostic,
                                    det.reg_roi_scale)
    return Shared2FCBBoxHead(in_channels, det.roi_size, num_classes, det.fc_channels, det.num_fcs,
                             agnostic)


def build_roi_head(det: DetectorConfig, in_channels: int, num_classes: int) -> RoIHead:
    """One stage at ``pos_iou_thr`` (Faster / Fast / Double-Head), or the cascade's stages.

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
    extractor = RoIExtractor(ROI_STRIDES, det.roi_size, det.sampling_ratio, det.finest_scale)
    sampler = RandomSampler(num=det.sampler.num, pos_fraction=det.sampler.pos_fraction)
    return RoIHead(stages, extractor, sampler, det.add_gt_as_proposals, det.score_thr, det.nms_thr,
                   det.max_per_img)


def build_detector(cfg: Config) -> nn.Module:
    """The detector of ``cfg.detector`` (``type`` must not be ``none``)."""
    from ..models.backbones import build_backbone
    from ..models.proposal_network import build_proposal_network

    det = cfg.detector
    roi_head = build_roi_head(det, cfg.model.backbone.fpn_channels, num_classes_of(cfg))
    if det.type == "fast_rcnn":
        bb = cfg.model.backbone
        backbone = build_backbone(bb.name, fpn_channels=bb.fpn_channels, pretrained=bb.pretrained,
                                  frozen_stages=bb.frozen_stages)
        return FastRCNN(backbone, roi_head, ProposalStore(det.train_proposals, det.num_proposals),
                        ProposalStore(det.val_proposals, det.num_proposals), len(ROI_STRIDES))
    if det.type in ("faster_rcnn", "double_head", "cascade_rcnn"):
        return TwoStageDetector(build_proposal_network(cfg), roi_head, det.num_proposals,
                                len(ROI_STRIDES))
    raise ValueError(f"detector.type {det.type!r} builds no detector")
