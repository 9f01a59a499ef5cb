"""Experiment 5 (issue 18): alignment helps (+6.8). Does it, without the confounds?

The alignment step (aligned row minus unaligned row) with mmdetection's init and no stage-1
dilation (L1), and under the IoU loss at the mini lr 0.01 (L2, the lr confound). The rule is
:func:`experiment5`; ``tests/test_verdicts.py::test_experiment5_by_hand`` pins it.
"""
from __future__ import annotations

from ..stats import Metric, Runs, metric
from ..verdicts import read_off, steps_of, steps_report
from .record import Arm, Experiment, Stage

__all__ = ["EXPERIMENT", "IOU_LOSS_FIRST_STUDY", "STEPS", "experiment5"]

# The first study's t3_iou_loss at the mini lr 0.01, kept as a diag_ row (the same runs) since
# experiment 6 moved Table III's row to the paper's lr 0.005.
IOU_LOSS_FIRST_STUDY = "diag_t3_iou_loss_lr001"
# the alignment step without the confounds (L2: at the mini lr 0.01)
ALIGNMENT, TWO_STAGE = "t3_alignment", "t3_two_stage"    # Table III's rows: the step it traces
STEPS = (("L1", "x5l1_alignment_faithful", TWO_STAGE, "the init and dilation"),
         ("L2", IOU_LOSS_FIRST_STUDY, "x5l2_two_stage_iou", "the lr confound"))
_STEP = {name: (row, reference) for name, row, reference, _ in STEPS}


def experiment5(values: Metric, seeds: int = 3) -> dict:
    """Experiment 5 (alignment): the L1 and L2 steps (aligned row minus unaligned row). Alignment
    **reproduces** when either step is positive and resolved: "reproduces once X" (L1 first);
    both steps <= 0 or unresolved: "robust"."""
    steps = steps_of(values, STEPS, seeds, lambda step: step.resolved and step.delta > 0)
    return {"steps": steps, "verdict": read_off(steps, [n for n, *_ in STEPS],
                                                "robust: no alignment step is a resolved gain")}


def _rule(runs: Runs) -> dict:
    return experiment5(metric(runs, "AR1000"))


EXPERIMENT = Experiment(
    number=5, claim="alignment helps (+6.8)", title="Experiment 5: alignment steps",
    question="alignment: faithful init and dilation (L1); the lr confound of the IoU-loss step (L2)",
    table_row=("table03_components", ALIGNMENT),
    arms=(Arm("today", "alignment step, lr 0.005", ALIGNMENT, TWO_STAGE, adds=()),
          Arm("L1", "faithful init + dilation", *_STEP["L1"]),
          # the first study's IoU-loss row against a new unaligned reference at lr 0.01
          Arm("L2", "alignment step at lr 0.01 (IoU loss)", *_STEP["L2"], adds=("reference",))),
    rule=_rule, report=lambda runs: steps_report(_rule(runs)),
    stages=(Stage("x5", (_STEP["L1"][0], _STEP["L2"][1])),),
)
