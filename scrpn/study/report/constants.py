"""Numbers the REPORT's prose names that are not results: the study's rule constants and the
versions it pins. The ``const`` field prints them, so that the source names what each one is and
``tests/test_report.py``'s scan for typed study numbers stays exact (a typed number there is a
result nobody can trace).

Each entry: ``name -> (value, why)``; the value is read from the code that uses it wherever such
code exists, so a changed rule changes the REPORT's sentence with it.
"""
from __future__ import annotations

from statistics import NormalDist
from typing import Any

from ..equivalence import EQUIVALENCE_MARGIN, INTERVAL_Z
from ..experiments.e4_posr import MARGIN as POSR_MARGIN
from ..experiments.e7_geometry import GEOMETRY_MARGIN
from ..experiments.e8_detectors import GAP_CLOSER_BY, PAPER_GAP
from ..stats import RESOLVED_SE
from ..verdicts import SD_LIMIT, STAGE1_MARGIN

__all__ = ["CONSTANTS", "const"]

CONSTANTS: dict[str, tuple[Any, str]] = {
    "resolved_se": (RESOLVED_SE, "a difference is resolved at |Δ| >= this many standard errors (stats.RESOLVED_SE)"),
    "mmdet_version": ("3.3", "the mmdetection release of the dev-only reference harness (tools/mmdet_reference/)"),
    "stage1_learns_margin": (STAGE1_MARGIN, "\"stage 1 learns\": decoded positives' IoU - priors' IoU >= this "
                                            "(verdicts.STAGE1_MARGIN; experiments 1, 4, 9, 10)"),
    "working_arm_sd_limit": (SD_LIMIT, "a working arm's AR1000 seed sd is below this (verdicts.SD_LIMIT; "
                                       "experiments 1 and 9)"),
    "posr_step_margin": (POSR_MARGIN, "a PosR step reproduces at >= this AR1000, resolved (e4_posr.MARGIN)"),
    "e8_gap_closer_by": (GAP_CLOSER_BY, "experiment 8: the 3x detector gap must be this much AP closer to the "
                                        "paper's (e8_detectors.GAP_CLOSER_BY)"),
    "e7_margin_before_issue36": (GEOMETRY_MARGIN, "the rounded margin experiment 7's rule used until issue 36, "
                                                  "now only the figure's band (e7_geometry.GEOMETRY_MARGIN)"),
    "bf16_margin": (EQUIVALENCE_MARGIN, "issue 37's equivalence margin: the 90 % interval must lie inside ± this "
                    "(AR1000; equivalence.EQUIVALENCE_MARGIN)"),
    "bf16_interval_z": (INTERVAL_Z, "issue 37's normal quantile of the interval Δ ± z se (equivalence.INTERVAL_Z)"),
    "bf16_interval_percent": (round(100 * (2 * NormalDist().cdf(INTERVAL_Z) - 1)),
                              "the two-sided coverage of Δ ± z se in per cent, from equivalence.INTERVAL_Z"),
    "bf16_train_target": (1.4, "issue 37's target: SC-RPN's training step this many times faster in bf16"),
    "bf16_infer_target": (1.3, "issue 37's target: SC-RPN's inference this many times faster in bf16"),
    "i19_backbone_target": (1.3, "issue 19's target: the backbone + FPN this many times faster than eager NCHW"),
    "i19_rpn_floor_target": (1.15, "issue 19's target: RPN's training step at most this many times its floor"),
    "i19_head_floor_target": (1.5, "issue 19's target: SC-RPN's and Cascade RPN's steps at most this many times "
                              "their floor"),
    "i19_infer_target": (1.2, "issue 19's target: SC-RPN's inference at most this many times RPN's"),
    "e8_paper_gap": (PAPER_GAP, "experiment 8: the paper's Faster R-CNN gap, SC-RPN minus RPN box AP at 300 "
                     "proposals (e8_detectors.PAPER_GAP)"),
}


def const(name: str) -> Any:
    """The constant ``name`` (:data:`CONSTANTS`)."""
    if name not in CONSTANTS:
        raise KeyError(f"no constant {name!r} (known: {', '.join(sorted(CONSTANTS))})")
    return CONSTANTS[name][0]
