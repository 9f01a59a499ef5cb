"""Backbone + FPN + proposal head: the whole region proposal network of Fig. 1.

Train mode: ``model(images, targets) -> dict`` of weighted losses (``loss_*``).
Eval mode: ``model(images, targets) -> list[{'boxes': (K, 4), 'scores': (K,)}]`` per image, in the
pixels of the (resized, unpadded) input image; only ``targets[i]['img_shape']`` is read.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..config import Config, TestConfig
from .backbones import build_backbone
from .heads.stages import TwoStageProposalHead
from .postprocess import select_proposals


class ProposalNetwork(nn.Module):
    def __init__(self, backbone: nn.Module, head: TwoStageProposalHead, test_cfg: TestConfig,
                 use_iou_mask_at_test: bool = True) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.test_cfg = test_cfg
        self.use_iou_mask_at_test = use_iou_mask_at_test

    def set_generator(self, generator: Optional[torch.Generator]) -> None:
        """The random sampler draws from this generator (the trainer owns and checkpoints it)."""
        self.head.generator = generator

    def forward(self, images: Tensor, targets: list[dict]):
        out = self.head(self.backbone(images))
        if self.training:
            return self.head.loss(out, targets)
        return self.predict(out, targets)

    @torch.no_grad()
    def predict(self, out, targets: list[dict]) -> list[dict]:
        scores, boxes = self.head.final_scores_and_boxes(out, self.use_iou_mask_at_test)
        splits = out.num_per_level
        t = self.test_cfg
        results = []
        for i, target in enumerate(targets):
            b, s = select_proposals(list(scores[i].split(splits)), list(boxes[i].split(splits)),
                                    tuple(target["img_shape"]), t.nms_pre, t.nms_thr, t.max_per_img,
                                    t.min_bbox_size, t.cross_level_nms, t.cross_level_nms_thr)
            results.append({"boxes": b, "scores": s})
        return results


def build_model(cfg: Config) -> ProposalNetwork:
    bb = cfg.model.backbone
    backbone = build_backbone(bb.name, fpn_channels=bb.fpn_channels, pretrained=bb.pretrained,
                              frozen_stages=bb.frozen_stages)
    head = TwoStageProposalHead(bb.fpn_channels, cfg.model.head)
    return ProposalNetwork(backbone, head, cfg.model.test,
                           use_iou_mask_at_test=cfg.model.head.iou_mask.test_with)
