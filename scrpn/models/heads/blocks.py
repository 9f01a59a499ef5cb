"""Building blocks shared by the proposal heads (``stages.py``, ``ga_rpn.py``): the heads'
convolutions, the level-map flattening and the loss accumulator with the paper's normalisers.

Loss normalisation (eqs. 4-7), :class:`LossAccumulator`, per stage by ``stage.loss_norm`` (resolved
once, at build, into :attr:`scrpn.models.heads.parts.StageLoss.mmdet_norm`):

* ``'paper'`` (the default, the study's first reading): classification and IoU-mask losses are
  divided by the number of classification samples M_cls (resp. mask samples); IoU-type regression
  losses by the number of regression samples (N_reg, M_reg: the positives). L1 / smooth-L1 in a
  stage that also classifies are divided by the number of classification samples, as
  mmdetection's RPN does (``avg_factor=num_total_samples``); in a stage without classification, by
  the number of regression pairs.
* ``'mmdet'`` (mmdetection 3.3's ``AnchorHead`` / ``StageCascadeRPNHead``): a stage that samples
  divides classification *and* regression, whatever the loss, by the sampled count (positives +
  negatives), and the head regresses the sampled positives only (:func:`regression_indices`); a
  stage without sampling divides its regression by (number of priors in the batch) / 200, the
  hard-coded average factor Cascade RPN took from GA-RPN (:data:`PRIORS_PER_UNIT`).

All counts are summed over the batch before dividing. ``tests/test_blocks.py`` checks every
normaliser on hand-computed numbers; ``tests/test_parity_mmdet.py`` checks the 'mmdet' rule against
mmdetection's own losses.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ... import losses as L
from ...sampling.assign_result import AssignResult
from .parts import StageLoss

__all__ = ["LOSS_NORMS", "LossAccumulator", "PRIORS_PER_UNIT", "flatten_levels", "head_conv",
           "positive_ious", "regression_indices"]

LOSS_NORMS = ("paper", "mmdet")
PRIORS_PER_UNIT = 200.0   # mmdetection: an unsampled stage's average factor = #priors / 200


def head_conv(cin: int, cout: int, k: int, dilation: int = 1) -> nn.Conv2d:
    """A head convolution: ``k x k`` at ``dilation``, same padding, Normal(0, 0.01) weights, zero
    bias (mmdetection's RPN head init)."""
    conv = nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation)
    nn.init.normal_(conv.weight, std=0.01)
    nn.init.zeros_(conv.bias)
    return conv


def flatten_levels(x: Tensor, per_item: int) -> Tensor:
    """(B, A*per_item, H, W) -> (B, H*W*A, per_item), location-major like the anchors."""
    b = x.shape[0]
    return x.permute(0, 2, 3, 1).reshape(b, -1, per_item)


def positive_ious(assign: AssignResult, boxes: Tensor, gts: Tensor) -> Tensor:
    """(P,) IoU of each positive's box with its assigned gt (a diagnostic: no gradient).

    ``boxes`` (N, 4) are the boxes the assignment indexes: decoded stage-1 boxes, or the priors
    themselves for the "did stage 1 move them closer?" baseline."""
    pos = torch.nonzero(assign.gt_inds > 0).squeeze(1)
    if pos.numel() == 0:
        return boxes.new_zeros(0)
    return L.aligned_iou(boxes[pos].detach(), gts[assign.gt_inds[pos] - 1])


def regression_indices(mmdet_norm: bool, positives: Tensor, sampled_positives: Tensor | None) -> Tensor:
    """Which positives a stage regresses: all of them ('paper'), or, under 'mmdet'
    (``mmdet_norm``) in a stage that samples, the sampled ones only (mmdetection sets
    ``bbox_weights`` from the sampling result)."""
    if mmdet_norm and sampled_positives is not None:
        return sampled_positives
    return positives


class LossAccumulator:
    """Gathers per-image sample pairs, then computes each loss once with batch-level normalisers."""

    def __init__(self) -> None:
        self.reg: dict[str, list[tuple[Tensor, Tensor]]] = {"s1": [], "s2": []}
        self.cls: dict[str, list[tuple[Tensor, Tensor]]] = {"s1": [], "s2": []}
        self.mask: list[tuple[Tensor, Tensor]] = []
        self.priors: dict[str, int] = {"s1": 0, "s2": 0}

    def add_priors(self, key: str, count: int) -> None:
        """Count one image's priors of a stage (the 'mmdet' normaliser of an unsampled stage)."""
        self.priors[key] += int(count)

    def add_reg(self, key: str, pred: Tensor, target: Tensor) -> None:
        self.reg[key].append((pred, target))

    def add_cls(self, key: str, logits: Tensor, labels: Tensor) -> None:
        self.cls[key].append((logits, labels))

    def add_mask(self, probs: Tensor, ious: Tensor) -> None:
        self.mask.append((probs, ious))

    @staticmethod
    def _cat(pairs: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        return torch.cat([p for p, _ in pairs]), torch.cat([t for _, t in pairs])

    def losses(self, stages: Sequence[StageLoss], mask_weight: float = 1.0) -> dict[str, Tensor]:
        """The weighted losses of the collected pairs; ``stages``: the resolved losses of stage
        ``s1`` (and ``s2``), ``mask_weight``: the IoU-mask loss's weight."""
        out: dict[str, Tensor] = {}
        for key, loss in zip(("s1", "s2"), stages):
            if not self.reg[key]:
                continue
            pred, target = self._cat(self.reg[key])
            n_cls = sum(p.numel() for p, _ in self.cls[key])
            reg = loss.reg(pred, target)
            if loss.on_boxes:
                norm = pred.shape[0]
            else:
                norm = n_cls if n_cls else pred.shape[0]
            if loss.mmdet_norm:
                norm = n_cls if self.cls[key] else self.priors[key] / PRIORS_PER_UNIT
            out[f"loss_{key}_reg"] = loss.reg_weight * reg / max(norm, 1)
            if self.cls[key]:
                logits, labels = self._cat(self.cls[key])
                out[f"loss_{key}_cls"] = loss.cls_weight * L.bce_loss(logits, labels) / max(n_cls, 1)
        if self.mask:
            probs, ious = self._cat(self.mask)
            out["loss_mask"] = mask_weight * L.bce_on_probabilities(probs, ious) / max(
                probs.numel(), 1)
        return out
