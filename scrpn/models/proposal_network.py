"""Backbone + FPN + proposal head: the whole region proposal network of Fig. 1.

Train mode: ``model(images, targets) -> dict`` of weighted losses (``loss_*``); afterwards
``model.diagnostics()`` gives the ``diag_*`` scalars of that step (no gradient; logged only).
Eval mode: ``model(images, targets) -> list[{'boxes': (K, 4), 'scores': (K,)}]`` per image, in the
pixels of the (resized, unpadded) input image; only ``targets[i]['img_shape']`` is read.
:func:`scrpn.build.build_proposal_network` builds it from a config.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn
from torch.profiler import record_function

from ..config import TestConfig
from .heads.stages import TwoStageProposalHead
from .postprocess import select_proposal_indices


def feature_std(feats: list[Tensor]) -> Tensor:
    """Mean over FPN levels of each level's standard deviation (a diagnostic, no gradient)."""
    return torch.stack([x.detach().float().std() for x in feats]).mean()


class ProposalNetwork(nn.Module):
    def __init__(self, backbone: nn.Module, head: TwoStageProposalHead, test_cfg: TestConfig,
                 use_iou_mask_at_test: bool = True) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.test_cfg = test_cfg
        self.use_iou_mask_at_test = use_iou_mask_at_test
        self._fpn_std: Optional[Tensor] = None

    def set_generator(self, generator: Optional[torch.Generator]) -> None:
        """The random sampler draws from this generator (the trainer owns and checkpoints it)."""
        self.head.generator = generator

    def forward(self, images: Tensor, targets: list[dict]):
        with record_function("scrpn::backbone"):        # labels for `scrpn bench`'s breakdown
            feats = self.backbone(images)
        with record_function("scrpn::head_forward"):
            out = self.head(feats, [t["img_shape"] for t in targets])
        if self.training:
            self._fpn_std = feature_std(feats)
            with record_function("scrpn::loss"):
                return self.head.loss(out, targets)
        with record_function("scrpn::postprocess"):
            return self.predict(out, targets)

    def diagnostics(self) -> dict[str, float]:
        """``diag_*`` of the last training forward: the head's (stage-1 IoUs, ReLU activity) and
        the FPN features' std. The trainer logs them at each log interval."""
        diag = {k: float(v) for k, v in getattr(self.head, "diagnostics", {}).items()}
        if getattr(self, "_fpn_std", None) is not None:
            diag["diag_fpn_std"] = float(self._fpn_std)
        return diag

    @torch.no_grad()
    def predict(self, out, targets: list[dict], max_per_img: Optional[int] = None) -> list[dict]:
        """Test-time proposals; ``max_per_img`` overrides the config's (R-CNN detectors)."""
        scores, boxes = self.head.final_scores_and_boxes(out, self.use_iou_mask_at_test)
        splits = out.num_per_level
        t = self.test_cfg
        keep = t.max_per_img if max_per_img is None else max_per_img
        results = []
        for i, target in enumerate(targets):
            # A head marks the locations it filters out (GA-RPN's location filter) by score < 0.
            _, b, s = select_proposal_indices(scores[i], boxes[i], splits, tuple(target["img_shape"]),
                                              t.nms_pre, t.nms_thr, keep, t.min_bbox_size,
                                              t.cross_level_nms, t.cross_level_nms_thr)
            results.append({"boxes": b, "scores": s})
        return results
