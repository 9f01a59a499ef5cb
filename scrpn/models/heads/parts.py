"""The per-stage parts a proposal head is handed (built from the config by :mod:`scrpn.build`).

A head owns its layers and the order in which it applies its parts; it does not decide which
parts it gets. :func:`scrpn.build.build_stage_parts` reads a stage's config once and resolves it
into a :class:`StageParts`:

* ``assigner``: anything with ``assign_priors(PriorSet, gts, ignore)`` (:mod:`scrpn.sampling.priors`);
* ``sampler``: the random sampler of the classification samples;
* ``coder``: the delta coder of the stage's regression (its ``target_stds``);
* ``loss``: a :class:`StageLoss`, the regression loss as a function plus the decisions the loss
  strings used to make at every loss call (``reg_loss`` ``iou*`` compares decoded boxes;
  ``loss_norm: mmdet`` regresses the sampled positives and divides by the sampled count).

``tests/test_blocks.py`` pins the normalisers a :class:`StageLoss` selects;
``tests/test_head_contract.py`` checks that every head is built from these parts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor

from ...sampling.priors import Assigner
from ...sampling.sampler import RandomSampler
from ..box_coder import DeltaXYWHCoder

__all__ = ["StageLoss", "StageParts"]


@dataclass(frozen=True)
class StageLoss:
    """One stage's losses, resolved once.

    ``reg(pred, target)`` is the summed regression loss; with ``on_boxes`` it compares decoded
    boxes with their gts (IoU-type losses), otherwise predicted deltas with the encoded targets.
    ``mmdet_norm``: mmdetection's normalisers (``loss_norm: mmdet``, :mod:`.blocks`).
    """
    reg: Callable[[Tensor, Tensor], Tensor]
    on_boxes: bool
    reg_weight: float
    cls_weight: float
    mmdet_norm: bool = False

    @property
    def classifies(self) -> bool:
        """A stage with ``cls_weight`` 0 has no classification branch."""
        return self.cls_weight > 0


@dataclass(frozen=True)
class StageParts:
    """What one assigning stage of a head trains with."""
    assigner: Assigner
    sampler: RandomSampler
    coder: DeltaXYWHCoder
    loss: StageLoss
