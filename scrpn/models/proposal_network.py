"""Backbone + FPN + proposal head: the whole region proposal network of Fig. 1.

Train mode: ``model(images, targets) -> dict`` of weighted losses (``loss_*``); afterwards
``model.diagnostics()`` gives the ``diag_*`` scalars of that step (no gradient; logged only).
Eval mode: ``model(images, targets) -> list[{'boxes': (K, 4), 'scores': (K,)}]`` per image, in the
pixels of the (resized, unpadded) input image; only ``targets[i]['img_shape']`` is read.
:func:`scrpn.build.build_proposal_network` builds it from a config.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, ContextManager, Optional

import torch
from torch import Tensor, nn
from torch.profiler import record_function

from ..config import TestConfig
from .heads.stages import TwoStageProposalHead
from .postprocess import select_proposal_indices


def autocast_active(device_type: str) -> bool:
    """Whether a ``torch.autocast`` region of ``device_type`` is open (``train.precision: bf16``)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:   # torch < 2.4: no device argument
        return (torch.is_autocast_cpu_enabled() if device_type == "cpu"
                else torch.is_autocast_enabled())


def to_float32(value: Any) -> Any:
    """``value`` with every floating tensor in it (dataclass fields, dict values, list items)
    cast to float32; other values unchanged. The head's outputs leave an autocast region so."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: to_float32(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    if isinstance(value, dict):
        return {k: to_float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_float32(v) for v in value)
    return value


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
        out, full = self.head_outputs(feats, targets)
        with full:
            if self.training:
                self._fpn_std = feature_std(feats)
                with record_function("scrpn::loss"):
                    return self.head.loss(out, targets)
            with record_function("scrpn::postprocess"):
                return self.predict(out, targets)

    def head_outputs(self, feats: list[Tensor], targets: list[dict]) -> tuple[Any, ContextManager]:
        """The head's outputs, and the region its losses / selection run in.

        In fp32 these are the head's outputs and a no-op region, unchanged. Under autocast
        (``train.precision: bf16``, :mod:`scrpn.engine.precision`) the outputs are cast back to
        float32 and the region switches autocast off, so that the assigners, samplers, losses and
        NMS compute in float32 (``tests/test_precision.py``)."""
        with record_function("scrpn::head_forward"):
            out = self.head(feats, [t["img_shape"] for t in targets])
        device_type = feats[0].device.type
        if not autocast_active(device_type):
            return out, contextlib.nullcontext()
        return to_float32(out), torch.autocast(device_type=device_type, enabled=False)

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
