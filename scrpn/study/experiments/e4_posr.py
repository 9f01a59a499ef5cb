"""Experiment 4 (issue 18): PosR helps (+2.8). Does it, once stage 1 learns?

The PosR step is the SADS row minus the Max-IoU / SAT row under the same stage-1 arm: today's
(S0), the UnitBox stage-1 loss (S1), a 4x stage-1 weight (S2), the rounded positive region (R),
and R under the S arm in which stage 1 learns with the larger margin (trained last). The rule is
:func:`experiment4`; ``tests/test_verdicts.py::test_experiment4_by_hand`` pins it.
"""
from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

from ..stats import Metric, Runs, metric
from ..verdicts import STAGE1_MARGIN, read_off, stage1_learns, stage1_margin, steps_of, steps_report
from .record import Arm, Experiment, Stage

__all__ = ["EXPERIMENT", "MARGIN", "R_UNDER_S", "STEPS", "better_stage1_arm", "experiment4", "rounded_row"]

# the PosR step (SADS row, Max-IoU / SAT row) under each stage-1 arm
SADS, MAXIOU_SAT = "t3_sads", "t4_maxiou_sat"    # Table IV's PosR + SAT and Max-IoU + SAT rows
STEPS = (("S0", SADS, MAXIOU_SAT, "today's stage 1"),
         ("S1", "x4s1_sads_unitbox", "x4s1_maxiou_sat_unitbox", "the UnitBox stage-1 loss"),
         ("S2", "x4s2_sads_w2", "x4s2_maxiou_sat_w2", "a 4x stage-1 weight"),
         ("R", "x4r_sads_rounded", MAXIOU_SAT, "the rounded positive region (S0)"))
_STEP = {name: (row, reference) for name, row, reference, _ in STEPS}
MARGIN = 1.0          # a PosR step reproduces at >= +1.0 AR1000, resolved
# R under the S arm in which stage 1 learns with the larger margin: (rounded SADS row, its
# Max-IoU / SAT reference under the same stage-1 arm)
R_UNDER_S = {"S1": ("x4r_sads_rounded_unitbox", _STEP["S1"][1]),
             "S2": ("x4r_sads_rounded_w2", _STEP["S2"][1])}


def better_stage1_arm(values: Metric, records: Callable[[str], Sequence[Mapping]],
                      seeds: int = 3) -> Optional[str]:
    """The "S arm in which stage 1 learns with the larger margin": "S1" or "S2", from both rows of
    each arm (seed mean of the stage-1 margin); ``None`` while an arm lacks seeds or when stage 1
    learns in neither (then R runs under S0 only, as registered)."""
    margins = {}
    for name, row, reference, _ in STEPS:
        if name not in R_UNDER_S:
            continue
        if len(values(row)) < seeds or len(values(reference)) < seeds:
            return None
        margin = stage1_margin([r for rr in (row, reference) for r in records(rr)])
        if margin is not None and margin >= STAGE1_MARGIN:
            margins[name] = margin
    return max(margins, key=margins.get) if margins else None


def rounded_row(runs: Runs) -> Optional[str]:
    """The row experiment 4 trains last: R under the better S arm (``None`` until S1 and S2 have
    their seeds, or when stage 1 learns in neither)."""
    better = better_stage1_arm(metric(runs, "AR1000"), runs)
    return None if better is None else R_UNDER_S[better][0]


def experiment4(values: Metric, records: Callable[[str], Sequence[Mapping]], seeds: int = 3) -> dict:
    """Experiment 4 (PosR once stage 1 learns): each step's Δ AR1000 and whether stage 1 learns
    (in the seed mean of both rows of the step). PosR **reproduces** when some step is at least
    ``MARGIN`` and resolved: "reproduces once X" (the first such step in the order S0, S1,
    S2, R); no step: "robust", and "stage 1 never learned" is added when neither S1 nor S2 makes it
    learn. R under the better S arm (:func:`better_stage1_arm`; rows in ``R_UNDER_S``)
    is the last step, "R+S1" or "R+S2"; it is pending until that row has its seeds, and absent
    when stage 1 learns under neither S arm."""
    reproduces = lambda step: step.resolved and step.delta >= MARGIN  # noqa: E731
    table = list(STEPS)
    better = better_stage1_arm(values, records, seeds)
    if better is not None:
        rounded, reference = R_UNDER_S[better]
        what = dict((n, w) for n, _, _, w in STEPS)[better]
        table.append((f"R+{better}", rounded, reference, f"the rounded positive region under {what}"))
    steps = steps_of(values, table, seeds, reproduces)
    for name, step in steps.items():
        if not step.get("pending"):
            step["stage1_learns"] = stage1_learns([r for row in step["rows"] for r in records(row)])
    never = all(not steps[n].get("stage1_learns") for n in ("S1", "S2"))
    robust = "robust: no PosR step reaches +1.0" + (" (stage 1 never learned)" if never else "")
    order = [n for n, *_ in table]
    if better is None and not never:
        order.append("R+S")           # the S arms are not complete: the last step is still to come
        steps["R+S"] = {"rows": (), "pending": True}
    return {"steps": steps, "better_stage1_arm": better, "verdict": read_off(steps, order, robust)}


def _rule(runs: Runs) -> dict:
    return experiment4(metric(runs, "AR1000"), runs)


def _rounded_stage(runs: Runs) -> list[str]:
    row = rounded_row(runs)
    return [row] if row else []


_BOTH = ("row", "reference")
EXPERIMENT = Experiment(
    number=4, claim="PosR helps (+2.8)", title="Experiment 4: PosR steps",
    question="PosR once stage 1 learns: UnitBox loss (S1), stage-1 weight x4 (S2), rounded region (R)",
    table_row=("table04_sads_combinations", SADS),
    arms=(Arm("today", "PosR step, committed stage 1", *_STEP["S0"], adds=()),
          Arm("S1", "PosR step, UnitBox stage-1 loss", *_STEP["S1"], adds=_BOTH),
          Arm("S2", "PosR step, stage-1 weight x4", *_STEP["S2"], adds=_BOTH),
          Arm("R", "PosR step, rounded region (S0)", *_STEP["R"]),
          # R under the S arm where stage 1 learns with the larger margin: only one of these is trained
          Arm("R+S1", "PosR step, rounded region (S1)", *R_UNDER_S["S1"], adds=_BOTH),
          Arm("R+S2", "PosR step, rounded region (S2)", *R_UNDER_S["S2"], adds=_BOTH)),
    rule=_rule, report=lambda runs: steps_report(_rule(runs)),
    figures=("causes_ar1000", "causes_missed_{number}", "causes_stage1_{number}"),
    stages=(Stage("x4", (_STEP["S1"][1], _STEP["S1"][0], _STEP["S2"][1], _STEP["S2"][0], _STEP["R"][0])),
            Stage("x4_rounded", _rounded_stage, note="R under the S arm in which stage 1 learns with the "
                                                     "larger margin",
                  skip="experiment 4: stage 1 learns under neither S arm: R under S0 only")),
)

