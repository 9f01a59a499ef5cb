"""Experiment 8 (issue 18): the detector gap nears the paper's (+4.0 AP) at 3x?

Faster R-CNN on SC-RPN's against on RPN's 300 proposals, box AP, seed 0 each: Table II's rows at
the mini schedule and the ``x8_`` rows at 3x its iterations. The rule is :func:`experiment8`;
``tests/test_verdicts.py::test_experiment8_by_hand`` pins it.
"""
from __future__ import annotations

from ..stats import Metric, Runs, metric
from .record import Arm, Experiment, Stage

__all__ = ["EXPERIMENT", "GAP_3X_ROWS", "GAP_CLOSER_BY", "GAP_TODAY_ROWS", "PAPER_GAP", "experiment8"]

GAP_TODAY_ROWS = ("det_faster_rcnn_sc_rpn", "det_faster_rcnn_rpn")     # (SC-RPN's, RPN's)
GAP_3X_ROWS = ("x8_det_faster_rcnn_sc_rpn_3x", "x8_det_faster_rcnn_rpn_3x")
PAPER_GAP = 4.0        # Table II: Faster R-CNN, 300 proposals, SC-RPN minus RPN box AP
GAP_CLOSER_BY = 1.0    # the 3x gap must be this much closer to the paper's


def experiment8(ap: Metric) -> dict:
    """Experiment 8 (the detector gap as the detectors converge), seed 0 of each row. ``ap(row)``
    gives box AP per seed. The gap **shrinks** when the 3x gap is at least ``GAP_CLOSER_BY`` AP
    closer to the paper's +4.0 than today's gap is; otherwise "does not shrink at 3x"."""
    today = [ap(row)[:1] for row in GAP_TODAY_ROWS]
    longer = [ap(row)[:1] for row in GAP_3X_ROWS]
    if not all(today) or not all(longer):
        return {"verdict": "pending"}
    gap_today, gap_3x = today[0][0] - today[1][0], longer[0][0] - longer[1][0]
    closer = abs(gap_today - PAPER_GAP) - abs(gap_3x - PAPER_GAP)
    return {"gap_today": gap_today, "gap_3x": gap_3x, "closer_by": closer,
            "verdict": "shrinks toward the paper's gap" if closer >= GAP_CLOSER_BY else "does not shrink at 3x"}


def _rule(runs: Runs) -> dict:
    return experiment8(metric(runs, "AP"))


def _report(runs: Runs) -> list[str]:
    out = _rule(runs)
    lines = []
    if out["verdict"] != "pending":
        lines.append(f"- gap today {out['gap_today']:+.1f} AP, at 3x {out['gap_3x']:+.1f} AP "
                     f"(paper {PAPER_GAP:+.1f}): {out['closer_by']:+.1f} AP closer")
    return lines + ["", f"Verdict (registered rule): **{out['verdict']}**."]


EXPERIMENT = Experiment(
    number=8, claim="the detector gap nears the paper's (+4.0 AP) at 3x",
    title="Experiment 8: the detector gap at 3x (seed 0)",
    question="Faster R-CNN on SC-RPN's and on RPN's 300 proposals at 3x the iterations",
    arms=(Arm("today", "mini schedule (Table II)", *GAP_TODAY_ROWS, metric="AP", seeds=1, adds=()),
          Arm("3x", "3x iterations", *GAP_3X_ROWS, metric="AP", seeds=1, adds=("row", "reference"))),
    rule=_rule, report=_report,
    # detectors have no proposal statistics: box AP of both detectors and their R-CNN losses
    figures=("causes_detectors_{number}",),
    stages=(Stage("x8", tuple(reversed(GAP_3X_ROWS)), (0,)),),
)
