"""Fast R-CNN on precomputed proposals (Table II's "Fast R-CNN" column).

The proposals of any method are computed once by its trained proposal network and dumped to
files (``scrpn evaluate --config C --checkpoint K --split train --dump-proposals --out D`` for the
training split; ``--split val`` for the validation split; see docs/configs.md). Fast R-CNN then trains
only a backbone + FPN + RoI head on them: nothing of the proposal network is loaded, as in
mmdetection's ``fast-rcnn_r50_fpn_1x`` with ``proposal_file``. Train mode reads the training
split's file, eval mode the validation split's (the two splits may share image ids).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from .proposal_store import ProposalStore
from .roi_head import RoIHead

__all__ = ["FastRCNN"]


class FastRCNN(nn.Module):
    produces_detections = True

    def __init__(self, backbone: nn.Module, roi_head: RoIHead, train_proposals: ProposalStore,
                 val_proposals: ProposalStore, num_roi_levels: int = 4) -> None:
        super().__init__()
        self.backbone = backbone
        self.roi_head = roi_head
        self.train_proposals = train_proposals
        self.val_proposals = val_proposals
        self.num_roi_levels = num_roi_levels

    def set_generator(self, generator: Optional[torch.Generator]) -> None:
        self.roi_head.generator = generator

    def forward(self, images: Tensor, targets: list[dict]):
        store = self.train_proposals if self.training else self.val_proposals
        proposals = [store.get(t, images.device) for t in targets]
        feats = self.backbone(images)[: self.num_roi_levels]
        if self.training:
            return self.roi_head.loss(feats, proposals, targets)
        return self.roi_head.predict(feats, proposals, targets)
