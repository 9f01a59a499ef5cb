"""Experiment 10 (issue 38): do the study's verdicts hold at a converged schedule?

Every verdict of experiments 1-9 was read at the mini schedule (700 iterations of batch 4, 0.7 of
one pass over SynthShapes' training images), where RPN still gains about 10 AR1000 at 4x. This
module holds experiment 10's registered rules, as pure functions of per-seed metric values
(``values(run name) -> list``), pinned on hand-derived numbers by ``tests/test_converged.py``:

* :func:`choose_schedule` (phase 1): S* is the shortest of 1x, 2x, 4x and 8x from which doubling
  the schedule moves neither RPN's nor SC-RPN's AR1000 (seed 0) by more than ``CURVE_TOLERANCE``
  (1.0). If even 8x -> 16x moves one of them more, S* = 8x and the study reads "8x longer", not
  "converged". The rungs run in order and the rule stops as soon as it is decided: the answer
  says which rung to train next while it is not. S* itself is decided once 4x -> 8x has moved a
  method more (both outcomes of 16x give 8x); the 16x rung then decides only the label.
* :data:`CLAIMS` (phases 2-4): each claim of the study with the rows it compares and its
  registered criterion, re-used unchanged from experiments 3-6 and 9 and from Table I's reading
  ("A above B, resolved at 2.5 se"). :func:`claim_holds` reads one claim on one set of values.
* :func:`schedule_verdict`: a claim is **schedule-robust** when its verdict at S* equals its mini
  verdict, **schedule-dependent** otherwise, with the direction ("mini: X -> S*: Y").

The rungs are profiles (``scrpn study ROW --profile 4x``; runs named ``s4x_<row>``,
:mod:`scrpn.study.runs`), so a claim at S* reads ``values("s4x_" + row)`` where the mini verdict
reads ``values(row)``.

:data:`EXPERIMENT` registers it (issue 35's registry, results/REPORT.md "Pre-registered:
experiment 10, the converged regime"): phase 1's curve as one causes-table line per method and
rung (Δ against the rung below), each claim at the ``converged`` profile (pending, "S* not chosen
yet", until ``configs/converged/_base.yaml`` names the rung), the run order (the rungs in order,
each trained only while the rule asks for it; phases 2-4 wait for S*) and :func:`experiment10`,
the rule the causes table reads. ``tests/test_causes.py`` (``test_experiment10_*``) pins them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple, Optional, Sequence, Union

from ..runs import CONVERGED
from ..stats import Difference, Runs, difference, metric
from ..verdicts import SD_LIMIT, stage1_learns
from .e1_cascade_rpn import CASCADE_RPN as DF_CASCADE_RPN
from .e2_ga_rpn import ARMS as GA_ARMS
from .e2_ga_rpn import SCHEDULE_ARM, SCHEDULE_CONTROL
from .e3_iou_mask import READINGS
from .e4_posr import MARGIN as POSR_MARGIN
from .e4_posr import MAXIOU_SAT, SADS
from .e5_alignment import ALIGNMENT, TWO_STAGE
from .e6_points import IOU_LOSS, POINT
from .e7_geometry import PEERS
from .e9_deepforest import DATASET as DEEPFOREST
from .record import Arm, Experiment, Stage

__all__ = ["CLAIMS", "CLAIM_ROWS", "COMPONENT_ROWS", "CURVE_EXTRA", "CURVE_METHODS", "CURVE_RUNGS", "CURVE_TOLERANCE", "Claim", "EXPERIMENT",
           "FIGURE_METHODS", "TABLE_I_ROWS", "choose_schedule", "claim_holds", "curve_ar1000", "experiment10", "report_sections",
           "TableRung", "rung_prefix", "schedule_verdict", "table_rung"]

RPN, ITERATIVE_RPN, GA_RPN, CASCADE_RPN, SC_RPN = PEERS   # Table I's rows (experiment 7 names them)
CURVE_METHODS = (RPN, SC_RPN)         # phase 1 reads these two, seed 0
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
    Once 1 -> 2, 2 -> 4 and 4 -> 8 have each moved a method more, S* = 8 whatever 16x shows: the
    answer has ``s_star`` 8 at once (phases 2-4 may start) while ``next`` is still 16 and the
    label says which reading waits for it; one method's 16x moving more than ``tolerance`` decides
    "8x longer" without the other's (``moves[(8, 16)]`` then holds the methods measured;
    ``tests/test_converged.py``).
    """
    moves: dict = {}
    last = CURVE_RUNGS[-2]
    for low, high in zip(CURVE_RUNGS[:-1], CURVE_RUNGS[1:]):
        missing = [m for m in methods if low not in ar1000.get(m, {}) or high not in ar1000.get(m, {})]
        if missing:
            absent = [f for f in (low, high) if any(f not in ar1000.get(m, {}) for m in methods)]
            if low == last and absent == [high]:
                # every earlier doubling moved a method more than the tolerance: both readings of
                # 8x -> 16x give S* = 8x, so S* is decided; its label waits for 16x, unless one
                # method's 16x has already moved more ("8x longer" whatever the other shows)
                seen = {m: ar1000[m][high] - ar1000[m][low] for m in methods if high in ar1000.get(m, {})}
                moves[(low, high)] = seen
                if any(abs(step) > tolerance for step in seen.values()):
                    return {"s_star": low, "label": f"{low}x longer", "next": None, "moves": moves}
                return {"s_star": low, "label": f"{low}x; {high}x pending: converged or {low}x longer",
                        "next": high, "moves": moves}
            return {"s_star": None, "label": "pending", "next": absent[0], "moves": moves}
        moves[(low, high)] = {m: ar1000[m][high] - ar1000[m][low] for m in methods}
        if all(abs(step) <= tolerance for step in moves[(low, high)].values()):
            return {"s_star": low, "label": "converged", "next": None, "moves": moves}
    return {"s_star": last, "label": f"{last}x longer", "next": None, "moves": moves}


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
PAPER_ORDER = (SC_RPN, CASCADE_RPN, GA_RPN, ITERATIVE_RPN, RPN)
PEER_PAIRS = tuple((high, low) for i, high in enumerate(PAPER_ORDER) for low in PAPER_ORDER[i + 1:])

CLAIMS = (
    *(Claim(f"Table I: {a} above {b}", a, b, ABOVE, "Table I's reading") for a, b in PEER_PAIRS),
    Claim(f"points cost no AR ({POINT} vs {IOU_LOSS}, lr 0.005)", POINT, IOU_LOSS, NOT_BELOW,
          "experiment 6"),
    Claim(f"alignment helps ({ALIGNMENT} vs {TWO_STAGE})", ALIGNMENT, TWO_STAGE, GAIN,
          "experiment 5"),
    Claim(f"PosR helps ({SADS} vs {MAXIOU_SAT})", SADS, MAXIOU_SAT, POSR_GAIN, "experiment 4"),
    Claim(f"the IoU mask helps ({SC_RPN} vs {SADS}; and vs its classification-only score)", SC_RPN,
          SADS, MASK_WORKS, "experiment 3", paired=READINGS["literal"]),
    Claim("DeepForest: Cascade RPN above RPN", DF_CASCADE_RPN, RPN, CARRIES, "experiments 1 and 9",
          dataset=DEEPFOREST),
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


# ------------------------------------------------------------------------------ the registry record
CURVE_FACTORS = CURVE_RUNGS[1:]          # the rungs phase 1 trains (1x: the committed mini runs)
DF_METHODS = (RPN, DF_CASCADE_RPN)       # phase 4's curve: DeepForest's S* by the same rule
# experiment 2's control is RPN at 4x (same fingerprint, tests/test_schedule_profiles.py): phase 1
# reads it for RPN's 4x rung (on SynthShapes; DeepForest has no such run)
CURVE_CONTROL = {(RPN, 4): SCHEDULE_CONTROL}
# the figure's further runs at another schedule (GA-RPN and Cascade RPN "where their runs exist"):
# experiment 2's control and G2 (GA-RPN at 4x); viz.learning_curve.curve_points reads them
CURVE_EXTRA = {RPN: (SCHEDULE_CONTROL,), GA_RPN: tuple(row for arm, row, _ in GA_ARMS if arm == SCHEDULE_ARM)}
FIGURE_METHODS = (RPN, SC_RPN, GA_RPN, CASCADE_RPN)
# REPORT's budget: at S* = 8x the estimate exceeds 40 machine hours, so phase 3 (the component
# claims) is registered at the next shorter rung, 4x
PHASE3_AT = {8: 4}


class TableRung(NamedTuple):
    """Where experiment 10 reads a paper table: ``rung`` ("4x", "8x") and the ``profile`` whose
    runs hold it (:data:`~scrpn.study.runs.CONVERGED` when the rung is S* itself, else the rung)."""
    rung: str
    profile: str


def table_rung(table: str, s_star: str) -> TableRung:
    """The rung at which experiment 10 reads paper table ``table`` once S* is ``s_star`` ("8x"):
    Table I at S* (the ``converged`` profile), every other table (the components', III and IV) at
    phase 3's registered rung (:data:`PHASE3_AT`: "4x" when S* is "8x", read from the ``4x``
    profile). Notebooks 03 and 04 and README's lead line on the components read it, so that the
    choice of rung and of profile is made here once (``tests/test_schedules.py``)."""
    factor = int(s_star[:-1])
    if table == "table01_proposals_coco" or factor not in PHASE3_AT:
        return TableRung(s_star, CONVERGED)
    return TableRung(f"{PHASE3_AT[factor]}x", f"{PHASE3_AT[factor]}x")


_NAMES = {RPN: "RPN", SC_RPN: "SC-RPN", DF_CASCADE_RPN: "Cascade RPN"}


def _curve_name(method: str, factor: int, dataset: str = "", control: bool = True) -> str:
    """The run name phase 1 reads for ``method`` at ``factor`` (``dataset``: its run-name prefix,
    ``deepforest_``); RPN's 4x rung on SynthShapes is experiment 2's control."""
    if control and not dataset and (method, factor) in CURVE_CONTROL:
        return CURVE_CONTROL[(method, factor)]
    return f"{rung_prefix(factor)}{dataset}{method}"


def curve_ar1000(runs: Runs, methods: Sequence[str] = CURVE_METHODS, dataset: str = "") -> dict:
    """``{method: {factor: seed 0's AR1000}}`` of every rung whose seed 0 is cached (the input of
    :func:`choose_schedule`). RPN's 4x rung reads experiment 2's control, else ``s4x_rpn``."""
    out: dict = {}
    for method in methods:
        for factor in CURVE_RUNGS:
            names = dict.fromkeys((_curve_name(method, factor, dataset), _curve_name(method, factor, dataset, False)))
            for name in names:
                seed0 = [r["AR1000"] for r in runs(name) if int(r.get("seed", 0)) == 0 and r.get("AR1000") is not None]
                if seed0:
                    out.setdefault(method, {})[factor] = float(seed0[0])
                    break
    return out


def experiment10(runs: Runs, seeds: int = 3) -> dict:
    """Experiment 10's registered rule on the cached runs (``runs(name)``, names at any rung:
    ``s4x_rpn``, ``s4x_deepforest_rpn``; :func:`scrpn.study.experiments.run_study`).

    Phase 1 first: while :func:`choose_schedule` has not decided S* the verdict is "pending: phase
    1 needs the <n>x rung". Once decided, each claim of :data:`CLAIMS` is read on the mini runs and
    on S*'s (``rung_prefix(S*)``; DeepForest's at its own S*, by the same rule on RPN and Cascade
    RPN; the component claims at 4x when S* = 8x, :data:`PHASE3_AT`) and gets its
    :func:`schedule_verdict`. The verdict: pending while any claim lacks its seeds, then the
    schedule-dependent claims by name (or "every claim is schedule-robust")."""
    values = metric(runs, "AR1000")
    curve = choose_schedule(curve_ar1000(runs))
    out: dict = {"curve": curve, "claims": {}}
    if curve["s_star"] is None:
        out["verdict"] = f"pending: phase 1 needs the {curve['next']}x rung"
        return out
    s_star = curve["s_star"]
    forest = choose_schedule(curve_ar1000(runs, DF_METHODS, f"{DEEPFOREST}_"), methods=DF_METHODS)
    out["deepforest_curve"] = forest
    for claim in CLAIMS:
        if claim.dataset != "synthshapes":
            factor = forest["s_star"]
        elif claim.criterion in (ABOVE,):
            factor = s_star
        else:
            factor = PHASE3_AT.get(s_star, s_star)
        mini = claim_holds(claim, values, runs, seeds=seeds)
        at_s = {"holds": None, "pending": True} if factor is None else \
            claim_holds(claim, values, runs, prefix=rung_prefix(factor), seeds=seeds)
        label = f"{factor}x" if factor is not None else "S*"
        out["claims"][claim.name] = {"rung": factor, "mini": mini, "at_s": at_s,
                                     "verdict": schedule_verdict(mini.get("holds"), at_s.get("holds"), label)}
    reading = f"S* = {s_star}x ({curve['label']})"
    done = out["claims"]
    waiting = [name for name, c in done.items() if c["verdict"] == "pending"]
    if waiting:
        out["verdict"] = f"pending: {reading}; {len(done) - len(waiting)} of {len(done)} claims read"
        return out
    dependent = [name for name, c in done.items() if c["verdict"].startswith("schedule-dependent")]
    out["verdict"] = f"{reading}: " + (f"schedule-dependent: {'; '.join(dependent)}" if dependent
                                      else "every claim is schedule-robust")
    return out


def report_sections(runs: Runs) -> dict[str, list[str]]:
    """The experiment's report in three parts, for :func:`_report` and the REPORT's rendered
    block (:mod:`scrpn.study.report.blocks`): ``curve`` (phase 1's AR1000 per rung and S*, SynthShapes
    and DeepForest), ``claims`` (each claim's mini and S* verdicts) and ``verdict`` (the rule's)."""
    out = experiment10(runs)
    curve = []
    for dataset, methods, key in (("", CURVE_METHODS, "curve"), (f"{DEEPFOREST}_", DF_METHODS, "deepforest_curve")):
        ar = curve_ar1000(runs, methods, dataset)
        for method in methods:
            rungs = ", ".join(f"{f}x {ar[method][f]:.1f}" if f in ar.get(method, {}) else f"{f}x -"
                              for f in CURVE_RUNGS)
            where = " (DeepForest)" if dataset else ""
            curve.append(f"- {_NAMES[method]}{where}, AR1000 seed 0 per rung: {rungs}")
        if key in out:
            c = out[key]
            curve.append(f"  - S*{' (DeepForest)' if dataset else ''}: "
                         + (f"{c['s_star']}x ({c['label']})" if c["s_star"] is not None
                            else f"pending (next: the {c['next']}x rung)"))
    claims = []
    for name, c in out["claims"].items():
        steps = []
        for side, label in (("mini", "mini"), ("at_s", f"{c['rung']}x" if c["rung"] else "S*")):
            r = c[side]
            steps.append(f"{label}: pending" if r.get("pending") else
                         f"{label}: {'holds' if r['holds'] else 'does not hold'} ({r['step'].text()})")
        claims.append(f"- {name}: {'; '.join(steps)}: **{c['verdict']}**")
    return {"curve": curve, "claims": claims, "verdict": [f"Verdict (registered rule): **{out['verdict']}**."]}


def _report(runs: Runs) -> list[str]:
    """cause_report.py's lines: phase 1's AR1000 per rung, S*, then each claim's mini and S* verdicts."""
    parts = report_sections(runs)
    return parts["curve"] + parts["claims"] + [""] + parts["verdict"]


_CURVE_ARMS = tuple(
    Arm(f"{_NAMES[m]} {f}x", f"{_NAMES[m]} at {f}x the mini schedule, seed 0; Δ vs the rung below",
        _curve_name(m, f), _curve_name(m, low), seeds=1, reference_seeds=1,   # the rule reads seed 0 at each rung
        adds=() if (m, f) in CURVE_CONTROL else ("row",))     # the control's cost is experiment 2's
    for m in CURVE_METHODS for low, f in zip(CURVE_RUNGS[:-1], CURVE_RUNGS[1:]))
_BOTH = ("row", "reference")
_SHORT = {ABOVE: "Table I", NOT_BELOW: "points", GAIN: "alignment", POSR_GAIN: "PosR", MASK_WORKS: "mask",
          CARRIES: "DF"}


def _claim_profile(claim: Claim) -> Union[str, Callable[[Runs], Optional[str]]]:
    """Where the causes table reads ``claim``'s arm: the rung :func:`experiment10` reads it at.
    Table I at S* (``converged``); the component claims at phase 3's rung
    (:func:`_phase3_profile`: 4x when S* = 8x); DeepForest's at its own S*
    (:func:`_deepforest_profile`, pending until its curve decides it). All three used to read
    ``converged``, which put SC-RPN's 8x seeds on the IoU mask claim's line, and would have
    left the component lines "not run" after phase 3 trained them (found 2026-12-06;
    ``tests/test_converged.py``)."""
    if claim.dataset != "synthshapes":
        return _deepforest_profile
    return CONVERGED if claim.criterion == ABOVE else _phase3_profile


def _claim_arms() -> tuple[Arm, ...]:
    arms = []
    for c in CLAIMS:
        name = f"S* {_SHORT[c.criterion]}" + (f" {c.row}>{c.reference}" if c.criterion == ABOVE else "")
        dataset = None if c.dataset == "synthshapes" else c.dataset
        profile = _claim_profile(c)
        arms.append(Arm(name, c.name, c.row, c.reference, adds=_BOTH, dataset=dataset, profile=profile))
        if c.paired:
            arms.append(Arm(f"{name} (paired)", "the same checkpoints, IoU-aware vs classification-only score",
                            *c.paired, paired=True, adds=_BOTH, profile=profile))
    return tuple(arms)


def _next_rung(factor: int, methods: Sequence[str] = CURVE_METHODS) -> Callable[[Runs], list[str]]:
    """Phase 1's stage at ``factor``: the methods without a seed-0 run there, while the rule
    (:func:`choose_schedule`, on the cached runs) names this rung as the next one; nothing once S*
    is decided, or while an earlier rung is missing ("stop as soon as decided")."""
    def rows(runs: Runs) -> list[str]:
        curve = curve_ar1000(runs, methods)
        if choose_schedule(curve, methods=methods)["next"] != factor:
            return []
        return [m for m in methods if factor not in curve.get(m, {})]
    return rows


def rung_profile(factor: int) -> str:
    """The profile that trains the mini rows at ``factor`` x the mini schedule (1x: ``mini``)."""
    return "mini" if factor == 1 else f"{factor}x"


def _phase3_profile(runs: Runs) -> str:
    """Phase 3's profile: ``converged`` (S*), or the next shorter rung where the pre-registration
    moved phase 3 for budget (:data:`PHASE3_AT`: 4x when S* = 8x), the rung
    :func:`experiment10` reads the component claims at. Before S* is chosen, ``converged``
    (whose missing pointer file stops the run order)."""
    s_star = choose_schedule(curve_ar1000(runs))["s_star"]
    if s_star is None or s_star not in PHASE3_AT:
        return CONVERGED
    return rung_profile(PHASE3_AT[s_star])


def _deepforest_profile(runs: Runs) -> Optional[str]:
    """Phase 4's profile: DeepForest's own S* rung (its curve on RPN and Cascade RPN, one seed per
    rung, :func:`choose_schedule`), read off the runs rather than the pointer file, so that it
    cannot train at SynthShapes' S* by mistake; ``None`` until decided."""
    s_star = choose_schedule(curve_ar1000(runs, DF_METHODS), methods=DF_METHODS)["s_star"]
    return None if s_star is None else rung_profile(s_star)


TABLE_I_ROWS = tuple(reversed(PAPER_ORDER))          # phase 2: RPN, Iterative RPN, GA-RPN, Cascade RPN, SC-RPN
# the component claims' rows, SC-RPN's two scorings included
CLAIM_ROWS = tuple(dict.fromkeys(
    r for c in CLAIMS if c.dataset == "synthshapes" and c.criterion != ABOVE
    for r in (c.reference, c.row, *(c.paired or ()))))
# phase 3 at S*: those less phase 2's (SC-RPN, trained at S* by Table I)
COMPONENT_ROWS = tuple(r for r in CLAIM_ROWS if r not in TABLE_I_ROWS)


def _phase3_rows(runs: Runs) -> tuple[str, ...]:
    """Phase 3's rows: :data:`COMPONENT_ROWS` at S*, where phase 2 trains SC-RPN's seeds; every
    claim row (:data:`CLAIM_ROWS`, SC-RPN included) where phase 3 moved to a shorter rung
    (:func:`_phase3_profile`), which phase 2 does not train: the IoU mask claim reads SC-RPN's
    three seeds at that rung (``tests/test_converged.py``; found 2026-12-06, before phase 3 ran)."""
    return COMPONENT_ROWS if _phase3_profile(runs) == CONVERGED else CLAIM_ROWS


EXPERIMENT = Experiment(
    number=10, claim="the verdicts hold at a converged schedule", title="Experiment 10: the converged regime",
    question="every verdict re-read at a converged schedule S* (phase 1's learning curve chooses it)",
    arms=(*_CURVE_ARMS, *_claim_arms()),
    rule=experiment10, report=_report,
    figures=("causes_ar1000", "learning_curve_10"),
    stages=(*(Stage(f"x10_{f}x", _next_rung(f), seeds=(0,), profile=f"{f}x",
                    note="phase 1: the rung the S* rule asks for next",
                    skip=f"experiment 10, stage x10_{f}x: not the next rung (S* decided, or an earlier "
                         f"rung first)") for f in CURVE_FACTORS),
            Stage("x10_table1", TABLE_I_ROWS, profile=CONVERGED, note="phase 2: Table I at S*"),
            Stage("x10_components", _phase3_rows, profile=_phase3_profile,
                  note="phase 3: the component claims at S* (at 4x when S* = 8x)"),
            *(Stage(f"x10_deepforest_{f}x", _next_rung(f, DF_METHODS), seeds=(0,), profile=f"{f}x",
                    dataset=DEEPFOREST, note="phase 4: DeepForest's own S*",
                    skip=f"experiment 10, stage x10_deepforest_{f}x: not DeepForest's next rung")
              for f in CURVE_FACTORS),
            Stage("x10_deepforest", DF_METHODS, profile=_deepforest_profile, dataset=DEEPFOREST,
                  note="phase 4: DeepForest at its own S*",
                  skip="experiment 10, stage x10_deepforest: DeepForest's S* is not decided yet")),
)
