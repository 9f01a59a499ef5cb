"""The proposal-head contract: what every head of ``models/heads/`` gives the network around it.

The split follows two references (our reading, not their code):

* mmdetection's ``BaseDenseHead``: a dense head owns its layers, turns features into per-prior
  predictions (``forward``), computes its training losses from those predictions and the ground
  truth (``loss``, our :meth:`ProposalHead.loss`), and turns predictions into scored boxes
  (``predict_by_feat``, our :meth:`ProposalHead.final_scores_and_boxes`);
* torchvision's ``RPNHead`` / ``RegionProposalNetwork``: the head proper only predicts, and the
  module around it chooses the proposals (top-k per level, NMS). Here
  :class:`~scrpn.models.proposal_network.ProposalNetwork` is that outer module: it runs the
  backbone and the head (``head_outputs``), selects (``select``, the one selection of
  :mod:`scrpn.models.postprocess`) and forwards ``assign`` / ``mask_scores`` to the head, so that
  the evaluator and ``viz/`` never reach into a head.

A head is built from its parts (assigner, sampler, coder, resolved loss per stage:
:mod:`.parts`) and a layout of plain values; :mod:`scrpn.build` reads the config and makes both.

Why an abstract base class and not a ``typing.Protocol``: every head is an ``nn.Module`` anyway,
the few attributes the network reads (``strides``, ``generator``, ``diagnostics``) then have one
definition and one initial value, and a head that forgets a method fails when it is built
(``TypeError``), not at the first call that needs it; ``ProposalNetwork`` can check
``isinstance(head, ProposalHead)`` once instead of probing attributes. The optional parts of the
contract (the IoU mask) have defaults here, so no caller needs ``hasattr``.

``tests/test_head_contract.py`` runs every Table I head (smoke size) through this contract.
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ...sampling.assign_result import AssignResult
from .parts import StageParts

__all__ = ["ProposalHead", "ProposalOutputs", "split_gts"]


@dataclass
class ProposalOutputs:
    """The head's predictions for a batch, flattened over the levels (level-major,
    location-major inside a level). Each head extends it with its own tensors."""
    num_per_level: list[int]          # predictions (priors) per FPN level


def split_gts(target: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
    """(gts, ignore): an image's non-crowd boxes and its crowd boxes (ignore regions)."""
    crowd = target["iscrowd"].bool()
    return target["boxes"][~crowd], target["boxes"][crowd]


class ProposalHead(nn.Module, metaclass=ABCMeta):
    """A proposal head: features of every FPN level -> per-prior predictions -> losses or scored boxes.

    Attributes every head has: ``strides`` (one per level it reads), ``generator`` (the random
    sampler's, set by the trainer through ``ProposalNetwork.set_generator``; None: torch's global)
    and ``diagnostics`` (``diag_*`` scalars of the last :meth:`loss`, no gradient).
    ``stage_names``: the head's assigning stages, in the order :meth:`assign` numbers them;
    ``stages``: their :class:`~scrpn.models.heads.parts.StageParts`, in the same order (what
    :func:`scrpn.build.build_assigners` builds the assigners of).
    """

    stage_names: tuple[str, ...] = ()
    stages: tuple[StageParts, ...] = ()

    def __init__(self, strides: Sequence[int]) -> None:
        super().__init__()
        self.strides = tuple(int(s) for s in strides)
        self.generator: Optional[torch.Generator] = None
        self.diagnostics: dict[str, Tensor] = {}

    @abstractmethod
    def forward(self, feats: list[Tensor],
                image_shapes: Optional[Sequence[Sequence[int]]] = None) -> ProposalOutputs:
        """Predictions for the batch; ``image_shapes`` are the un-padded (height, width)."""

    @abstractmethod
    def loss(self, out: ProposalOutputs, targets: list[dict]) -> dict[str, Tensor]:
        """Weighted ``loss_*`` terms of the batch (each target: ``boxes``, ``iscrowd``)."""

    @abstractmethod
    def final_scores_and_boxes(self, out: ProposalOutputs, use_iou_mask: bool
                               ) -> tuple[Tensor, Tensor]:
        """(B, N) test-time scores and (B, N, 4) boxes; a score below 0 drops the prediction."""

    @abstractmethod
    def assign(self, stage: int, out: ProposalOutputs, i: int, gts: Tensor,
               ignore: Tensor) -> AssignResult:
        """Image ``i``'s assignment of stage ``stage`` (0-based, ``stage_names``), as :meth:`loss`
        computes it."""

    @property
    def has_iou_mask(self) -> bool:
        """Whether the head predicts an IoU mask (:meth:`mask_scores` is then not None)."""
        return False

    def mask_scores(self, out: ProposalOutputs) -> Optional[Tensor]:
        """(B, N) IoU-mask values as the IoU-aware score uses them, or None."""
        return None
