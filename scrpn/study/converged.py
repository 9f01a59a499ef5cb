"""Experiment 10 (issue 38): do the study's verdicts hold at a converged schedule?

Every verdict of experiments 1-9 was read at the mini schedule (700 iterations of batch 4, 0.7 of
one pass over SynthShapes' training images), where RPN still gains about 10 AR1000 at 4x. This
module holds experiment 10's registered rules, as pure functions of per-seed metric values
(``values(run name) -> list``), pinned on hand-derived numbers by ``tests/test_converged.py``:

* :func:`choose_schedule` (phase 1): S* is the shortest of 1x, 2x, 4x and 8x from which doubling
  the schedule moves neither RPN's nor SC-RPN's AR1000 (seed 0) by more than ``CURVE_TOLERANCE``
  (1.0). If even 8x -> 16x moves one of them more, S* = 8x and the study reads "8x longer", not
  "converged". The rungs run in order and the rule stops as soon as it is decided: the answer
  says which rung to train next while it is not.
* :data:`CLAIMS` (phases 2-4): each claim of the study with the rows it compares and its
  registered criterion, re-used unchanged from experiments 3-6 and 9 and from Table I's reading
  ("A above B, resolved at 2.5 se"). :func:`claim_holds` reads one claim on one set of values.
* :func:`schedule_verdict`: a claim is **schedule-robust** when its verdict at S* equals its mini
  verdict, **schedule-dependent** otherwise, with the direction ("mini: X -> S*: Y").

The rungs are profiles (``scrpn study ROW --profile 4x``; runs named ``s4x_<row>``,
:mod:`scrpn.study.runs`), so a claim at S* reads ``values("s4x_" + row)`` where the mini verdict
reads ``values(row)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from .experiments.e4_posr import MARGIN as POSR_MARGIN
from .stats import Difference, difference
from .verdicts import SD_LIMIT, stage1_learns

__all__ = ["CLAIMS", "CURVE_METHODS", "CURVE_RUNGS", "CURVE_TOLERANCE", "Claim", "choose_schedule",
           "claim_holds", "rung_prefix", "schedule_verdict"]

CURVE_METHODS = ("rpn", "sc_rpn")     # phase 1 reads these two, seed 0
CURVE_RUNGS = (1, 2, 4, 8, 16)        # schedule factors of the mini schedule (1 = the mini runs)
CURVE_TOLERANCE = 1.0                 # AR1000: "doubling moves neither method by more than this"

Metric = Callable[[str], list]


def rung_prefix(factor: int) -> str:
    """The run-name prefix of a rung: "" for the mini schedule, "s4x_" for 4x."""
    return "" if factor == 1 else f"s{factor}x_"


def choose_schedule(ar1000: Mapping[str, Mapping[int, float]],
                    methods: Sequence[str] = CURVE_METHODS, tolerance: float = CURVE_TOLERANCE) -> dict:
    """Phase 1's rule. ``ar1000[method][factor]`` is seed 0's AR1000 at that rung (absent: not run).

    Returns ``{"s_star": factor or None, "label": "converged" | "8x longer" | "pending",
    "next": the rung to train next or None, "moves": {(S, 2S): {method: AR(2S) - AR(S)}}}``.
    Reading: for S = 1, 2, 4, 8 in order, the first S whose doubling moves every method by at most
    ``tolerance`` is S* ("converged"); a rung pair not yet run stops the reading there ("pending",
    ``next`` names the missing rung); if 8 -> 16 still moves a method more, S* = 8 ("8x longer").
    """
    moves: dict = {}
    for low, high in zip(CURVE_RUNGS[:-1], CURVE_RUNGS[1:]):
        missing = [m for m in methods if low not in ar1000.get(m, {}) or high not in ar1000.get(m, {})]
        if missing:
            absent = [f for f in (low, high) if any(f not in ar1000.get(m, {}) for m in methods)]
            return {"s_star": None, "label": "pending", "next": absent[0], "moves": moves}
        moves[(low, high)] = {m: ar1000[m][high] - ar1000[m][low] for m in methods}
        if all(abs(step) <= tolerance for step in moves[(low, high)].values()):
            return {"s_star": low, "label": "converged", "next": None, "moves": moves}
    return {"s_star": CURVE_RUNGS[-2], "label": f"{CURVE_RUNGS[-2]}x longer", "next": None, "moves": moves}


# ------------------------------------------------------------------------------------------ claims
ABOVE = "above, resolved"                     # Table I: A above B at 2.5 se
NOT_BELOW = "not below by a resolved margin"  # experiment 6 (points): Δ > -2.5 se
GAIN = "a resolved gain"                      # experiment 5 (alignment): Δ > 0, resolved
POSR_GAIN = "a resolved gain of at least 1.0"  # experiment 4 (PosR): Δ >= POSR_MARGIN, resolved
MASK_WORKS = "IoU-aware above classification-only (paired) or above t3_sads, resolved"  # experiment 3
CARRIES = "stage 1 learns, seed sd < 2.0 and above the reference, resolved"  # experiments 1 and 9


@dataclass(frozen=True)
class Claim:
    """One claim of the study as experiment 10 re-reads it at S*."""
    name: str
    row: str                   # the row the claim is about
    reference: str             # the row it is compared with
    criterion: str             # one of the criteria above, the claim's registered rule
    source: str                # where the criterion was registered
    dataset: str = "synthshapes"
    # MASK_WORKS: (row scored IoU-aware, the same checkpoints scored by classification alone), as
    # experiment 3's literal reading M1 pairs them (one re-scored checkpoint, both scorings)
    paired: Optional[tuple[str, str]] = None


# Table I's methods in the paper's AR1000 order (72.8, 71.7, 68.5, 58.8, 58.3): the claim is every
# pair in this order, the higher above the lower (10 pairs).
PAPER_ORDER = ("sc_rpn", "cascade_rpn", "ga_rpn", "iterative_rpn", "rpn")
PEER_PAIRS = tuple((high, low) for i, high in enumerate(PAPER_ORDER) for low in PAPER_ORDER[i + 1:])

CLAIMS = (
    *(Claim(f"Table I: {a} above {b}", a, b, ABOVE, "Table I's reading") for a, b in PEER_PAIRS),
    Claim("points cost no AR (t3_point vs t3_iou_loss, lr 0.005)", "t3_point", "t3_iou_loss", NOT_BELOW,
          "experiment 6"),
    Claim("alignment helps (t3_alignment vs t3_two_stage)", "t3_alignment", "t3_two_stage", GAIN,
          "experiment 5"),
    Claim("PosR helps (t3_sads vs t4_maxiou_sat)", "t3_sads", "t4_maxiou_sat", POSR_GAIN, "experiment 4"),
    Claim("the IoU mask helps (sc_rpn vs t3_sads; and vs its classification-only score)", "sc_rpn",
          "t3_sads", MASK_WORKS, "experiment 3", paired=("sc_rpn_rescored", "sc_rpn_notest")),
    Claim("DeepForest: Cascade RPN above RPN", "cascade_rpn", "rpn", CARRIES, "experiments 1 and 9",
          dataset="deepforest"),
)


def claim_holds(claim: Claim, values: Metric, records: Callable[[str], Sequence[Mapping]],
                prefix: str = "", seeds: int = 3) -> dict:
    """Read ``claim`` on the runs named ``prefix + row`` (``records`` gives each seed's
    ``metrics.json``, for stage 1's diagnostics). ``{"holds": bool | None (pending), "step":
    Difference, ...}``; pending until both rows have ``seeds`` seeds."""
    name = (lambda row: f"{prefix}{row}") if claim.dataset == "synthshapes" else \
        (lambda row: f"{prefix}{claim.dataset}_{row}")
    a, b = values(name(claim.row)), values(name(claim.reference))
    if len(a) < seeds or len(b) < seeds:
        return {"holds": None, "pending": True}
    step = difference(a, b)
    out: dict = {"step": step, "pending": False}
    if claim.criterion == ABOVE or claim.criterion == GAIN:
        out["holds"] = step.resolved and step.delta > 0
    elif claim.criterion == NOT_BELOW:
        out["holds"] = not (step.resolved and step.delta < 0)
    elif claim.criterion == POSR_GAIN:
        out["holds"] = step.resolved and step.delta >= POSR_MARGIN
    elif claim.criterion == MASK_WORKS:
        aware, plain = (values(name(row)) for row in claim.paired)
        if len(aware) < seeds or len(plain) < seeds:
            return {"holds": None, "pending": True}
        paired = difference(aware, plain, paired=True)
        out["paired"] = paired
        out["holds"] = (paired.resolved and paired.delta > 0) or (step.resolved and step.delta > 0)
    elif claim.criterion == CARRIES:
        learns = stage1_learns(records(name(claim.row)))
        out["stage1_learns"] = learns
        sd = _sd(a)
        out["holds"] = learns is not False and sd < SD_LIMIT and step.resolved and step.delta > 0
    else:
        raise ValueError(f"unknown criterion {claim.criterion!r}")
    return out


def _sd(values: Sequence[float]) -> float:
    import statistics
    return statistics.stdev(values) if len(values) > 1 else math.nan


def schedule_verdict(mini: Optional[bool], at_s: Optional[bool], s_label: str) -> str:
    """Experiment 10's one new rule: "schedule-robust" when the claim's verdict at S* equals its
    mini verdict, "schedule-dependent" otherwise, with the direction. ``None``: pending."""
    if mini is None or at_s is None:
        return "pending"
    word = {True: "holds", False: "does not hold"}
    if mini == at_s:
        return f"schedule-robust ({word[mini]} at both)"
    return f"schedule-dependent (mini: {word[mini]} -> {s_label}: {word[at_s]})"


__all__ += ["ABOVE", "CARRIES", "GAIN", "MASK_WORKS", "NOT_BELOW", "PAPER_ORDER", "PEER_PAIRS", "POSR_GAIN", "Difference"]
