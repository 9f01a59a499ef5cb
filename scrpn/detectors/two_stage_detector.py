"""Faster R-CNN (and Double-Head / Cascade R-CNN) with any proposal head in place of RPN.

Table II / IX of the paper put an R-CNN head on top of each proposal method and train the whole
detector end to end. :class:`TwoStageDetector` does that with the project's
:class:`~scrpn.models.proposal_network.ProposalNetwork` (backbone + FPN + any configured proposal
head: RPN, Cascade RPN-like rows, SC-RPN):

* one backbone pass; the proposal head's losses (its own assigners and samplers) are returned
  unchanged and the RoI head's losses (``loss_rcnn*``) are added;
* the RoI head's proposals are the proposal head's **test-time** output (per-level top-k, NMS,
  cross-level NMS for SC-RPN), cut to ``num_proposals`` (300 in the paper's Table II setting,
  following GA-RPN), computed in training too and detached, as mmdetection's two-stage detectors
  do (no gradient flows from the RoI head into the proposal boxes; it does flow into the shared
  backbone through the RoI features);
* the RoI head reads P2-P5 (P6 only serves proposals).

Engine contract: train mode returns a dict of losses; eval mode returns, per image,
``{'boxes' (M, 4), 'scores' (M,), 'labels' (M,) 1..K}`` in the input image's pixels.
:attr:`produces_detections` tells the evaluator to compute box AP instead of proposal AR.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..models.proposal_network import ProposalNetwork, to_float32
from .roi_head import RoIHead

__all__ = ["TwoStageDetector"]


class TwoStageDetector(nn.Module):
    produces_detections = True

    def __init__(self, proposal_network: ProposalNetwork, roi_head: RoIHead, num_proposals: int,
                 num_roi_levels: int = 4) -> None:
        super().__init__()
        self.proposal_network = proposal_network
        self.roi_head = roi_head
        self.num_proposals = num_proposals
        self.num_roi_levels = num_roi_levels

    def set_generator(self, generator: Optional[torch.Generator]) -> None:
        """Both samplers (proposal head, RoI head) draw from the trainer's generator."""
        self.proposal_network.set_generator(generator)
        self.roi_head.generator = generator

    def diagnostics(self) -> dict[str, float]:
        """The proposal head's diagnostics of the last training step (see ``ProposalNetwork``)."""
        return {k: float(v) for k, v in self.proposal_network.head.diagnostics.items()}

    def forward(self, images: Tensor, targets: list[dict]):
        net = self.proposal_network
        # [P2..P6]; the head's outputs float32 outside autocast (bf16 runs)
        feats, out, full = net.features_and_outputs(images, [t["img_shape"] for t in targets])
        with full:
            proposals = [p["boxes"].detach() for p in net.predict(out, targets, self.num_proposals)]
            head_losses = net.head.loss(out, targets) if self.training else None
        # the RoI head runs in the forward pass's precision; its losses come out float32
        roi_feats = feats[: self.num_roi_levels]
        if self.training:
            head_losses.update({k: v.float() for k, v in
                                self.roi_head.loss(roi_feats, proposals, targets).items()})
            return head_losses
        return to_float32(self.roi_head.predict(roi_feats, proposals, targets))
