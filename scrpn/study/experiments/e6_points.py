"""Experiment 6 (issue 18): points cost nothing (+0.4). Do they, without the confounds?

Points against anchors (the points row minus its anchor row) under SADS (P0, reported), at the
paper's lr 0.005 (P1) and with the secondary offsets x0.5 (P2, at the mini lr 0.01). The rule is
:func:`experiment6`; ``tests/test_verdicts.py::test_experiment6_by_hand`` pins it. Its verdict
(P1) moved Table III's ``t3_iou_loss`` and ``t3_point`` to lr 0.005 (amendment of 2026-12-02);
the first study's point row lives on as :data:`scrpn.study.tables.NO_SADS_MINI_LR`.
"""
from __future__ import annotations

from ..stats import Metric, Runs, metric
from ..tables import NO_SADS_MINI_LR
from ..verdicts import read_off, steps_of, steps_report
from .e4_posr import SADS
from .e5_alignment import IOU_LOSS_FIRST_STUDY
from .record import Amendment, Arm, Experiment, Stage

__all__ = ["EXPERIMENT", "IOU_LOSS", "POINT", "POINT_FIRST_STUDY", "STEPS", "experiment6"]

POINT, IOU_LOSS = "t3_point", "t3_iou_loss"   # Table III's rows, at lr 0.005 since the amendment
POINT_FIRST_STUDY = NO_SADS_MINI_LR    # the first study's t3_point at lr 0.01 (the same runs)
# points row, its anchor row; P2's reference is at lr 0.01
STEPS = (("P0", SADS, "x6p0_anchor_sads", "under SADS"),
         ("P1", "x6p1_point_lr0005", "x6p1_iou_loss_lr0005", "lr 0.005"),
         ("P2", "x6p2_point_offsets05", IOU_LOSS_FIRST_STUDY, "secondary offsets x0.5"))
_STEP = {name: (row, reference) for name, row, reference, _ in STEPS}


def experiment6(values: Metric, seeds: int = 3) -> dict:
    """Experiment 6 (points cost AR): the paper's claim is "no loss". In a comparison points
    **reproduce** when the points row is not below its anchor row by a resolved margin
    (Δ > -2.5 se). P0 says whether points cost AR under SADS (reported); the verdict is
    "reproduces once X" for the first of P1, P2 that removes the Max-IoU loss, else
    "robust (under Max-IoU)"."""
    steps = steps_of(values, STEPS, seeds, lambda step: not (step.resolved and step.delta < 0))
    out = {"steps": steps, "verdict": read_off(
        steps, ["P1", "P2"], "robust (under Max-IoU): points cost AR at lr 0.005 and with smaller offsets")}
    if not steps["P0"].get("pending"):
        out["under_sads"] = "no cost" if steps["P0"]["reproduces"] else "points cost AR under SADS too"
    return out


def _rule(runs: Runs) -> dict:
    return experiment6(metric(runs, "AR1000"))


EXPERIMENT = Experiment(
    number=6, claim="points cost nothing (+0.4)", title="Experiment 6: points minus anchors",
    question="points: the anchors + SADS control (P0), lr 0.005 (P1), scaled secondary offsets (P2)",
    table_row=("table03_components", POINT),
    # today's: the first study's point step (lr 0.01), kept as diag_ rows since the amendment moved
    # Table III's t3_iou_loss and t3_point to the paper's lr 0.005 (P1's runs, re-scored)
    arms=(Arm("today", "points vs anchors, Max-IoU, lr 0.01", POINT_FIRST_STUDY, IOU_LOSS_FIRST_STUDY, adds=()),
          Arm("P0", "points vs anchors, SADS", *_STEP["P0"], adds=("reference",)),
          Arm("P1", "points vs anchors, lr 0.005", *_STEP["P1"], adds=("row", "reference")),
          Arm("P2", "secondary offsets x0.5", *_STEP["P2"])),
    rule=_rule, report=lambda runs: steps_report(_rule(runs)),
    amendments=(Amendment("2026-12-02", "after the verdict (P1), before any further run of experiments 6 "
                                        "or 9: P2 is dropped; Table III's t3_iou_loss and t3_point move to "
                                        "lr 0.005; experiment 9 re-runs the correction on DeepForest"),),
    # P1 first: the verdict reads P1, then P2, and P1 alone can decide it; P0 is reported beside it
    stages=(Stage("x6", (*_STEP["P1"], _STEP["P2"][0], _STEP["P0"][1])),),
)
