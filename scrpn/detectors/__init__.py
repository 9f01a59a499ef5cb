"""R-CNN detectors on top of the proposals (the paper's Tables II and IX).

``detector.type`` picks one:

=================  ===========================================================================
``faster_rcnn``    proposal network (any head) + ``Shared2FCBBoxHead``, end to end
``double_head``    proposal network + ``DoubleConvFCBBoxHead`` (FC classifies, conv regresses)
``cascade_rcnn``   proposal network + three class-agnostic ``Shared2FCBBoxHead`` stages
``fast_rcnn``      backbone + ``Shared2FCBBoxHead`` on precomputed proposals files
=================  ===========================================================================

The package holds the classes only; :func:`scrpn.build.build_detector` builds one from a config.
"""
from __future__ import annotations

from .bbox_heads import DoubleConvFCBBoxHead, Shared2FCBBoxHead
from .fast_rcnn import FastRCNN
from .proposal_store import ProposalStore, to_input_coords
from .roi_head import RoIExtractor, RoIHead, RoIStage
from .two_stage_detector import TwoStageDetector

__all__ = ["DoubleConvFCBBoxHead", "FastRCNN", "ProposalStore", "RoIExtractor", "RoIHead",
           "RoIStage", "Shared2FCBBoxHead", "TwoStageDetector", "to_input_coords"]
