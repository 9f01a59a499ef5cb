"""Backbone + FPN + proposal head: the whole region proposal network of Fig. 1.

Train mode: ``model(images, targets) -> dict`` of weighted losses (``loss_*``); afterwards
``model.diagnostics()`` gives the ``diag_*`` scalars of that step (no gradient; logged only).
Eval mode: ``model(images, targets) -> list[{'boxes': (K, 4), 'scores': (K,)}]`` per image, in the
pixels of the (resized, unpadded) input image; only ``targets[i]['img_shape']`` is read.
:func:`scrpn.build.build_proposal_network` builds it from a config.

The head is any :class:`~scrpn.models.heads.base.ProposalHead` (the contract: torchvision's
``RegionProposalNetwork`` around its ``RPNHead``, in our reading). What the evaluator, the R-CNN
detectors and ``viz/`` need goes through this class, never into the head:
:meth:`ProposalNetwork.head_outputs` (backbone + head on a batch), :meth:`~ProposalNetwork.test_scores`,
:meth:`~ProposalNetwork.select` (the one selection, :class:`~scrpn.models.postprocess.Selection`),
:meth:`~ProposalNetwork.assign` and :meth:`~ProposalNetwork.mask_scores`.
``tests/test_proposal_network.py`` and ``tests/test_head_contract.py`` pin them.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, ContextManager, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.profiler import record_function

from ..sampling.assign_result import AssignResult
from .heads.base import ProposalHead, ProposalOutputs
from .postprocess import Selection


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
    def __init__(self, backbone: nn.Module, head: ProposalHead, test_cfg: Selection,
                 use_iou_mask_at_test: bool = True) -> None:
        super().__init__()
        if not isinstance(head, ProposalHead):
            raise TypeError(f"the head must implement ProposalHead, got {type(head).__name__}")
        self.backbone = backbone
        self.head = head
        self.test_cfg = test_cfg
        self.use_iou_mask_at_test = use_iou_mask_at_test
        self._fpn_std: Optional[Tensor] = None

    def set_generator(self, generator: Optional[torch.Generator]) -> None:
        """The random sampler draws from this generator (the trainer owns and checkpoints it)."""
        self.head.generator = generator

    # ------------------------------------------------------------------ the forward pass
    def features_and_outputs(self, images: Tensor, image_shapes: Sequence[Sequence[int]]
                             ) -> tuple[list[Tensor], ProposalOutputs, ContextManager]:
        """The FPN features ([P2..P6]), the head's outputs of a padded batch (``image_shapes``:
        each image's un-padded (height, width)) and the region its losses / selection run in
        (:meth:`head_on_features`)."""
        with record_function("scrpn::backbone"):        # labels for `scrpn bench`'s breakdown
            feats = self.backbone(images)
        out, full = self.head_on_features(feats, image_shapes)
        return feats, out, full

    def head_on_features(self, feats: list[Tensor], image_shapes: Sequence[Sequence[int]]
                         ) -> tuple[ProposalOutputs, ContextManager]:
        """The head's outputs on the FPN features, and the region its losses / selection run in.

        In fp32 these are the head's outputs and a no-op region, unchanged. Under autocast
        (``train.precision: bf16``, :mod:`scrpn.engine.precision`) the outputs are cast back to
        float32 and the region switches autocast off, so that the assigners, samplers, losses and
        NMS compute in float32 (``tests/test_precision.py``)."""
        with record_function("scrpn::head_forward"):
            out = self.head(feats, list(image_shapes))
        device_type = feats[0].device.type
        if not autocast_active(device_type):
            return out, contextlib.nullcontext()
        return to_float32(out), torch.autocast(device_type=device_type, enabled=False)

    def head_outputs(self, images: Tensor, image_shapes: Sequence[Sequence[int]]) -> ProposalOutputs:
        """The head's outputs of a padded batch (float32, also under autocast; the mode, train or
        eval, is the caller's)."""
        return self.features_and_outputs(images, image_shapes)[1]

    def forward(self, images: Tensor, targets: list[dict]):
        feats, out, full = self.features_and_outputs(images, [t["img_shape"] for t in targets])
        with full:
            if self.training:
                self._fpn_std = feature_std(feats)
                with record_function("scrpn::loss"):
                    return self.head.loss(out, targets)
            with record_function("scrpn::postprocess"):
                return self.predict(out, targets)

    def diagnostics(self) -> dict[str, float]:
        """``diag_*`` of the last training forward: the head's (stage-1 IoUs, ReLU activity) and
        the FPN features' std. The trainer logs them at each log interval."""
        diag = {k: float(v) for k, v in self.head.diagnostics.items()}
        if self._fpn_std is not None:
            diag["diag_fpn_std"] = float(self._fpn_std)
        return diag

    # ------------------------------------------------------------------ what the head decided
    @property
    def has_iou_mask(self) -> bool:
        """Whether the head predicts an IoU mask (:meth:`mask_scores` is then not None)."""
        return self.head.has_iou_mask

    def test_scores(self, out: ProposalOutputs, use_iou_mask: Optional[bool] = None
                    ) -> tuple[Tensor, Tensor]:
        """(B, N) test-time scores (IoU-aware when the network uses it, or as ``use_iou_mask``
        says) and (B, N, 4) boxes; a score below 0 marks a prediction the head filtered out."""
        use = self.use_iou_mask_at_test if use_iou_mask is None else bool(use_iou_mask)
        return self.head.final_scores_and_boxes(out, use)

    def mask_scores(self, out: ProposalOutputs) -> Optional[Tensor]:
        """(B, N) IoU-mask values as the IoU-aware score uses them, or None without a mask."""
        return self.head.mask_scores(out)

    def assign(self, stage: int, out: ProposalOutputs, i: int, gts: Tensor,
               ignore: Tensor) -> AssignResult:
        """Image ``i``'s stage-``stage`` assignment, as the head's loss computes it."""
        return self.head.assign(stage, out, i, gts, ignore)

    @torch.no_grad()
    def select(self, out: ProposalOutputs, image_shapes: Sequence[Sequence[int]],
               max_per_img: Optional[int] = None) -> list[tuple[Tensor, Tensor, Tensor]]:
        """Per image, the network's own test-time selection as (indices into the head outputs,
        clipped boxes, scores), by decreasing score; ``max_per_img`` overrides the count."""
        scores, boxes = self.test_scores(out)
        return [self.test_cfg.indices(scores[i], boxes[i], out.num_per_level,
                                      (int(shape[0]), int(shape[1])), max_per_img)
                for i, shape in enumerate(image_shapes)]

    @torch.no_grad()
    def predict(self, out: ProposalOutputs, targets: list[dict],
                max_per_img: Optional[int] = None) -> list[dict]:
        """Test-time proposals; ``max_per_img`` overrides the config's (R-CNN detectors)."""
        # A head marks the locations it filters out (GA-RPN's location filter) by score < 0.
        selected = self.select(out, [tuple(t["img_shape"]) for t in targets], max_per_img)
        return [{"boxes": b, "scores": s} for _, b, s in selected]
