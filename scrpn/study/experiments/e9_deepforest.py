"""Experiment 9 (issue 18, registered after experiment 1's verdict, before any of its runs): do
the corrections that changed a default carry over to real images (DeepForest, Table X's role)?

Every correction a verdict made a default, re-run on DeepForest (3 seeds), judged by the
criterion that made it work on SynthShapes (:data:`CARRY_OVER`, :func:`experiment9`).
``tests/test_verdicts.py`` (``test_experiment9_by_hand``, ``..._points_criterion``) pins it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from ..stats import Difference, Metric, Runs, difference, metric, sample_sd
from ..verdicts import SD_LIMIT, stage1_learns
from .e1_cascade_rpn import CASCADE_RPN, RPN
from .e1_cascade_rpn import FIRST_STUDY as CASCADE_FIRST_STUDY
from .e6_points import IOU_LOSS, POINT
from .record import Amendment, Arm, Experiment, Stage

__all__ = ["ABOVE_REFERENCE", "CARRY_OVER", "Correction", "EXPERIMENT", "NOT_BELOW", "experiment9"]

DATASET = "deepforest"
ABOVE_REFERENCE = "above the reference"   # experiment 1's: stage 1 learns, sd < SD_LIMIT, Δ > 0 resolved
NOT_BELOW = "not below the reference"     # experiment 6's: not below by a resolved margin (Δ > -2.5 se)


@dataclass(frozen=True)
class Correction:
    """One correction that changed a default, as experiment 9 re-runs it on DeepForest."""
    claim: str                 # what the correction restores (the verdict names it)
    row: str                   # the corrected row
    reference: str             # the row its Δ is taken against (on DeepForest too)
    first: Optional[str]       # the first study's row kept as ``diag_``; None: no DeepForest runs of it
    criterion: str             # ABOVE_REFERENCE or NOT_BELOW


CARRY_OVER = (
    # experiment 1, arm A (registered 2026-12-01)
    Correction("Cascade RPN: mmdetection's loss normalisers", CASCADE_RPN, RPN, CASCADE_FIRST_STUDY,
               ABOVE_REFERENCE),
    # experiment 6, arm P1 (registered in experiment 6's amendment): points against anchors at lr 0.005
    Correction("points: the paper's lr 0.005", POINT, IOU_LOSS, None, NOT_BELOW),
)


def _carries(criterion: str, ar: Sequence[float], vs_ref: Difference, learns: Optional[bool]) -> bool:
    if criterion == ABOVE_REFERENCE:
        return learns is not False and sample_sd(ar) < SD_LIMIT and vs_ref.resolved and vs_ref.delta > 0
    if criterion == NOT_BELOW:
        return not (vs_ref.resolved and vs_ref.delta < 0)
    raise ValueError(f"unknown carry-over criterion {criterion!r}")


def experiment9(values: Metric, records: Callable[[str], Sequence[Mapping]],
                corrections: Sequence[Correction] = CARRY_OVER, seeds: int = 3) -> dict:
    """Experiment 9 (do the corrections carry over to real images?), on the DeepForest runs.

    ``values(row)`` gives AR1000 per seed and ``records(row)`` each seed's ``metrics.json``, both
    of the DeepForest study. A correction **carries over** when its row meets, on DeepForest, the
    criterion that made it work on SynthShapes (``Correction.criterion``):

    * ``ABOVE_REFERENCE`` (experiment 1's): stage 1 learns (not applied to runs without the stage-1
      diagnostic), AR1000 seed sd < ``SD_LIMIT``, and AR1000 above the reference row's, resolved.
    * ``NOT_BELOW`` (experiment 6's): AR1000 not below the reference row's by a resolved margin.

    It is **partial** when it beats the first study's row (resolved) without carrying over; a
    correction whose first study has no DeepForest runs (``first`` None) has no partial reading.
    The verdict names the corrections that carry over; "pending" while any of the ``seeds`` runs
    of a row or its reference is missing.
    """
    out: dict = {"corrections": {}}
    for c in corrections:
        ar, ref = values(c.row), values(c.reference)
        old = values(c.first) if c.first else []
        if len(ar) < seeds or len(ref) < seeds:
            out["corrections"][c.claim] = {"row": c.row, "reference": c.reference, "pending": True,
                                           "seeds": len(ar), "reference_seeds": len(ref)}
            continue
        learns = stage1_learns(records(c.row))
        vs_ref = difference(ar, ref)
        vs_first = difference(ar, old) if len(old) >= 2 else None
        carries = _carries(c.criterion, ar, vs_ref, learns)
        out["corrections"][c.claim] = {
            "row": c.row, "reference": c.reference, "criterion": c.criterion, "stage1_learns": learns,
            "sd": sample_sd(ar), "vs_reference": vs_ref, "vs_first_study": vs_first, "carries_over": carries,
            "partial": (not carries) and vs_first is not None and vs_first.resolved and vs_first.delta > 0}
    done = out["corrections"]
    if not done or any(v.get("pending") for v in done.values()):
        out["verdict"] = "pending"
        return out
    yes = [c for c, v in done.items() if v["carries_over"]]
    no = [c for c, v in done.items() if not v["carries_over"]]
    partial = [c for c, v in done.items() if v["partial"]]
    if yes and not no:
        out["verdict"] = f"carries over to real images: {'; '.join(yes)}"
    elif yes:
        out["verdict"] = f"carries over for {'; '.join(yes)}; not for {'; '.join(no)}"
    else:
        out["verdict"] = "does not carry over" + (f" (partial: {'; '.join(partial)} beats the first study's row)"
                                                  if partial else "")
    return out


def _rule(runs: Runs) -> dict:
    return experiment9(metric(runs, "AR1000"), runs)


def _report(runs: Runs) -> list[str]:
    out, ar = _rule(runs), metric(runs, "AR1000")
    lines = []
    for claim, c in out["corrections"].items():
        if c.get("pending"):
            lines.append(f"- {claim} (`{c['row']}`): pending ({c['seeds']} seeds)")
            continue
        values = " / ".join(f"{v:.1f}" for v in ar(c["row"]))
        first = "n/a" if c["vs_first_study"] is None else c["vs_first_study"].text()
        lines.append(f"- {claim} (`{c['row']}`): AR1000 {values}, seed sd {c['sd']:.1f}; vs `{c['reference']}` "
                     f"{c['vs_reference'].text()}; vs the first study's row {first}; stage 1 learns: "
                     f"{c['stage1_learns']}; criterion: {c['criterion']}; carries over: "
                     f"{'yes' if c['carries_over'] else 'no'}")
    return lines + ["", f"Verdict (registered rule): **{out['verdict']}**."]


_A, _P1 = CARRY_OVER
EXPERIMENT = Experiment(
    number=9, claim="the corrections carry over to real images (Table X)",
    title="Experiment 9: the corrections on DeepForest", dataset=DATASET,
    question="the corrections that changed a default, on DeepForest's tree crowns",
    arms=(Arm("DF first study", "Cascade RPN, own normalisers (DeepForest)", CASCADE_FIRST_STUDY, _A.reference,
              adds=()),
          Arm("DF A", "Cascade RPN, mmdetection normalisers (DeepForest)", _A.row, _A.reference),
          Arm("DF P1", "points vs anchors, lr 0.005 (DeepForest)", _P1.row, _P1.reference,
              adds=("row", "reference"))),
    rule=_rule, report=_report,
    figures=("causes_ar1000", "causes_missed_{number}", "causes_stage1_{number}"),
    amendments=(Amendment("2026-12-02", "experiment 6's amendment adds its correction (points at lr 0.005) "
                                        "before any DeepForest run of it"),),
    stages=(Stage("x9", (_A.row,), dataset=DATASET),
            Stage("x9_points", (_P1.row, _P1.reference), dataset=DATASET)),
)
