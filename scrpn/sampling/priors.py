"""The one interface every assigner implements: ``assign_priors(priors, gts, ignore)``.

A stage's assigner sees the same three things whatever its rule: the boxes it labels, the
location centre each box belongs to and how many boxes each FPN level holds (plus the gts and the
ignore boxes). :class:`PriorSet` carries them; each assigner reads what its rule needs:

=============================  ==============================================================
assigner                       reads
=============================  ==============================================================
Max-IoU (RPN, stage 2)         ``boxes``
Positive Region (PosR)         ``centres``, ``num_per_level``
Region (Cascade RPN stage 1)   ``boxes`` (their centres), ``num_per_level``
Size-Aware Threshold (SAT)     ``boxes``, ``centres``, ``num_per_level``
=============================  ==============================================================

The head builds one :class:`PriorSet` per stage and image (stage 1: the priors; stage 2: the
detached stage-1 boxes) and calls ``assigner.assign_priors`` without knowing which rule it holds
(``models/heads/stages.py``, ``TwoStageProposalHead.assign``). Each assigner keeps its own
``assign(...)`` with the arguments of its rule, which its hand-derived tests call directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

from torch import Tensor

from .assign_result import AssignResult

__all__ = ["Assigner", "PriorSet"]


@dataclass(frozen=True)
class PriorSet:
    """What an assigner labels: N boxes over the levels, level-major, location-major inside."""
    boxes: Tensor                 # (N, 4) xyxy, pixels: priors, or detached stage-1 boxes
    centres: Tensor               # (N, 2) the location centre (x, y) each box belongs to
    num_per_level: list[int]      # boxes per FPN level, summing to N


class Assigner(Protocol):
    def assign_priors(self, priors: PriorSet, gt_boxes: Tensor,
                      gt_boxes_ignore: Optional[Tensor] = None) -> AssignResult:
        """Label each of ``priors``: -1 ignore, 0 negative, k > 0 positive for gt k - 1."""
