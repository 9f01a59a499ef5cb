"""Comparisons of study rows over seeds, and the pre-registered decision rules of issue 18.

One implementation of the numbers every verdict rests on (the conventions are written in
``results/REPORT.md``, "Pre-registered: tracing each non-reproduction to a cause"):

* :func:`difference`: Δ = mean(a) - mean(b) over seeds, with its standard error
  sqrt(s_a²/n_a + s_b²/n_b) (sample standard deviations), or, ``paired`` (both arms scored from
  the same checkpoints, seed by seed), the standard error of the per-seed differences, sd/√n.
  A difference is **resolved** when |Δ| ≥ 2.5 se.
* :func:`stage1_learns`: the last logged ``diag_s1_pos_iou`` exceeds the last logged
  ``diag_s1_prior_iou`` by at least 0.05 in the seed mean.
* :func:`experiment1`: Cascade RPN's arms A-D (experiment 1), read off the registered rule.
* :func:`experiment3`: the IoU-mask readings (experiment 3), read off the registered rule.
* :func:`experiment2`, :func:`experiment4`, :func:`experiment5`, :func:`experiment6`,
  :func:`experiment7`, :func:`experiment8`: GA-RPN's arms, the PosR steps, the alignment steps,
  points against anchors, the peers' ranking in the paper's geometry, and the detector gap at 3x;
  :func:`experiment7_pairs`: experiment 7's three-seed follow-up, pair by pair (an amendment).
* :func:`experiment9`: whether the corrections that changed a default carry over to DeepForest.
* :func:`arm_difference`: one-seed arms against a reference's seed mean and sd.

``scripts/cause_report.py`` prints them for whatever runs exist; ``tests/test_verdicts.py`` pins the
arithmetic on hand-computed numbers.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

__all__ = ["ALIGNMENT_STEPS", "CASCADE_ARMS", "GA_ARMS", "GA_SCHEDULE_CONTROL", "GA_SCHEDULE_SD_ROWS",
           "GEOMETRY_MARGIN", "MASK_READINGS", "PEERS", "POINT_STEPS", "POSR_STEPS", "RESOLVED_SE",
           "SD_LIMIT", "STAGE1_MARGIN", "Difference", "arm_difference", "difference", "difference_se",
           "experiment1", "experiment2", "experiment3", "experiment4", "experiment5", "experiment6",
           "experiment7", "experiment7_pairs", "experiment8", "experiment9", "ABOVE_REFERENCE", "CARRY_OVER",
           "Correction",
           "NOT_BELOW", "POSR_R_UNDER_S", "equal_schedule", "posr_better_stage1_arm", "stage1_learns",
           "stage1_margin"]

RESOLVED_SE = 2.5          # a difference is resolved at |Δ| >= 2.5 standard errors
SD_LIMIT = 2.0             # experiment 1: a working arm's AR1000 seed sd is below this
STAGE1_MARGIN = 0.05       # "stage 1 learns": decoded positives' IoU - priors' IoU >= 0.05


def difference_se(std_a: float, seeds_a: int, std_b: float, seeds_b: int) -> float:
    """Standard error of a difference of two independent means, sqrt(s_a²/n_a + s_b²/n_b); NaN
    when either side has one seed (no spread to estimate)."""
    if seeds_a < 2 or seeds_b < 2 or math.isnan(std_a) or math.isnan(std_b):
        return math.nan
    return math.sqrt(std_a ** 2 / seeds_a + std_b ** 2 / seeds_b)


def _sd(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


@dataclass(frozen=True)
class Difference:
    delta: float          # mean(a) - mean(b)
    se: float             # its standard error (NaN with one seed on a side)
    n: int                # seeds used (the smaller side, or the pairs)

    @property
    def resolved(self) -> bool:
        return math.isfinite(self.se) and abs(self.delta) >= RESOLVED_SE * self.se

    def text(self, digits: int = 1) -> str:
        se = "n/a" if not math.isfinite(self.se) else f"{self.se:.{digits}f}"
        return f"{self.delta:+.{digits}f} [{se}]{' resolved' if self.resolved else ''}"


def difference(a: Sequence[float], b: Sequence[float], paired: bool = False) -> Difference:
    """Δ = mean(a) - mean(b) with its standard error (see the module docstring)."""
    if not a or not b:
        raise ValueError("both arms need at least one seed")
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired arms need the same seeds, got {len(a)} and {len(b)}")
        d = [x - y for x, y in zip(a, b)]
        return Difference(statistics.fmean(d), _sd(d) / math.sqrt(len(d)), len(d))
    se = difference_se(_sd(a), len(a), _sd(b), len(b))
    return Difference(statistics.fmean(a) - statistics.fmean(b), se, min(len(a), len(b)))


def arm_difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """Δ of an arm against its reference under the REPORT's conventions: :func:`difference` when
    both have at least two seeds; a one-seed arm against a reference of several seeds is compared
    with the reference's seed mean, and its "se" is the reference's seed sd, so that it is resolved
    when it exceeds 2.5 times that sd (the registered rule for one-seed arms)."""
    if len(a) == 1 and len(b) >= 2:
        return Difference(a[0] - statistics.fmean(b), _sd(b), 1)
    return difference(a, b)


def stage1_margin(records: Sequence[Mapping]) -> Optional[float]:
    """Seed mean of the last ``diag_s1_pos_iou`` minus the last ``diag_s1_prior_iou`` (each seed's
    ``metrics.json``); ``None`` when the runs carry no diagnostics (runs trained before issue 17)."""
    gaps = []
    for record in records:
        diag = record.get("diagnostics", {})
        if "diag_s1_pos_iou" not in diag or "diag_s1_prior_iou" not in diag:
            return None
        gaps.append(diag["diag_s1_pos_iou"]["last"] - diag["diag_s1_prior_iou"]["last"])
    return statistics.fmean(gaps) if gaps else None


def stage1_learns(records: Sequence[Mapping]) -> Optional[bool]:
    """Does stage 1 move its positives closer to their gts: :func:`stage1_margin` at least
    ``STAGE1_MARGIN``; ``None`` without diagnostics."""
    margin = stage1_margin(records)
    return None if margin is None else margin >= STAGE1_MARGIN


Metric = Callable[[str], list]   # row -> the metric's value per seed (seeds with a result only)

# Experiment 3's readings: (row scored IoU-aware, the same checkpoints scored by classification alone)
MASK_READINGS = {"literal": ("sc_rpn_rescored", "sc_rpn_notest"),
                 "test_only": ("x3_mask_test_only", "x3_mask_test_only_notest"),
                 "single": ("x3_mask_single", "x3_mask_single_notest")}


def experiment3(values: Metric, spearman: Metric) -> dict:
    """Experiment 3 (the IoU mask): each reading's comparisons and whether it *works*.

    ``values(row)`` gives AR1000 per seed. A reading works when its IoU-aware AR1000 exceeds its
    classification-only AR1000 (paired over seeds, resolved), or its ``sc_rpn``-style row exceeds
    ``t3_sads`` (resolved). The verdict: the literal reading fails and another works -> "reproduces
    once the mask is read as X"; no reading works -> "robust"; the literal works -> "reproduces
    as built". Readings whose runs are missing are reported as pending.

    The literal reading's IoU-aware side is ``sc_rpn_rescored``, not the committed ``sc_rpn``: the
    pairing needs both scorings from one checkpoint, and retraining ``sc_rpn`` here does not
    reproduce the committed checkpoint bit for bit (REPORT, experiment 3).
    """
    readings = MASK_READINGS
    sads = values("t3_sads")
    out: dict = {"readings": {}}
    for name, (row, notest) in readings.items():
        aware, cls_only = values(row), values(notest)
        if len(aware) < 2 or len(cls_only) != len(aware) or len(sads) < 2:
            out["readings"][name] = {"pending": True}
            continue
        score = difference(aware, cls_only, paired=True)
        over_sads = difference(aware, sads)
        rho = [r for r in spearman(row) if r is not None and math.isfinite(r)]
        out["readings"][name] = {
            "iou_aware_vs_cls_only": score, "vs_t3_sads": over_sads,
            "spearman": statistics.fmean(rho) if rho else math.nan,
            "works": (score.resolved and score.delta > 0) or (over_sads.resolved and over_sads.delta > 0)}
    done = {k: v for k, v in out["readings"].items() if not v.get("pending")}
    if len(done) < len(readings):
        out["verdict"] = "pending"
    elif done["literal"]["works"]:
        out["verdict"] = "reproduces as built"
    elif any(v["works"] for v in done.values()):
        best = [k for k, v in done.items() if v["works"]]
        out["verdict"] = f"reproduces once the mask is read as {' / '.join(best)}"
    else:
        out["verdict"] = "robust: no reading gives a resolved gain"
    return out


# Experiment 1's arms in the registered order (fewest changes first) and what each makes faithful.
CASCADE_ARMS = (("A", "x1a_cascade_mmdet_norm", "mmdetection's loss normalisers"),
                ("B", "x1b_cascade_lr0005", "the reference lr 0.005"),
                ("C", "x1c_cascade_norm_lr", "normalisers and lr"),
                ("D", "x1d_cascade_faithful", "normalisers, lr, init, dilation and clipping"))
CASCADE_SCHEDULE_ARM = "x1e_cascade_4x"
# "today's Cascade RPN" of the registered rule: the first study's runs. Arm A's verdict made
# mmdetection's normalisers the method's default, and the old runs live on as this diag_ row.
CASCADE_FIRST_STUDY = "diag_cascade_rpn_paper_norm"


def experiment1(values: Metric, records: Callable[[str], Sequence[Mapping]], seeds: int = 3) -> dict:
    """Experiment 1 (Cascade RPN below RPN): each arm's comparisons and whether it *works*.

    ``values(row)`` gives AR1000 per seed, ``records(row)`` each seed's ``metrics.json``. An arm
    works when (i) stage 1 learns, (ii) its AR1000 seed sd < ``SD_LIMIT`` and (iii) its AR1000
    exceeds RPN's, resolved. The cause is the first working arm in the order A-D; an arm that
    beats today's Cascade RPN (resolved) without beating RPN is a *partial* cause. Arms with fewer
    than ``seeds`` seeds are pending. Arm E (today's config at 4x iterations, one seed, compared by
    :func:`arm_difference`) decides between the two remaining verdicts when no arm A-D works:
    E works -> "schedule", else "robust"; until E has run that case is "pending".
    """
    rpn, cascade = values("rpn"), values(CASCADE_FIRST_STUDY)
    out: dict = {"arms": {}}
    for arm, row, what in CASCADE_ARMS:
        ar = values(row)
        if len(ar) < seeds or not rpn:           # no RPN runs yet: nothing to compare with
            out["arms"][arm] = {"row": row, "pending": True, "seeds": len(ar)}
            continue
        learns = stage1_learns(records(row))
        vs_rpn = difference(ar, rpn)
        vs_cascade = difference(ar, cascade) if cascade else None    # the first study's row
        works = bool(learns) and _sd(ar) < SD_LIMIT and vs_rpn.resolved and vs_rpn.delta > 0
        out["arms"][arm] = {"row": row, "what": what, "stage1_learns": learns, "sd": _sd(ar),
                            "vs_rpn": vs_rpn, "vs_cascade_rpn": vs_cascade, "works": works,
                            "partial": (not works) and vs_cascade is not None and vs_cascade.resolved
                            and vs_cascade.delta > 0}
    arms = out["arms"]
    schedule = values(CASCADE_SCHEDULE_ARM)[:1]      # arm E: today's config at 4x, one seed
    if schedule and rpn:
        vs_rpn = arm_difference(schedule, rpn)
        learns = stage1_learns(records(CASCADE_SCHEDULE_ARM))
        out["E"] = {"row": CASCADE_SCHEDULE_ARM, "vs_rpn": vs_rpn, "stage1_learns": learns,
                    "works": bool(learns) and vs_rpn.resolved and vs_rpn.delta > 0}
    else:
        out["E"] = {"row": CASCADE_SCHEDULE_ARM, "pending": True}
    first = next((a for a, _, _ in CASCADE_ARMS if arms[a].get("works")), None)
    if first is not None and all(not arms[a].get("pending") for a, _, _ in CASCADE_ARMS
                                 if a < first):
        what = next(w for a, _, w in CASCADE_ARMS if a == first)
        out["verdict"] = f"reproduces once faithful: arm {first} ({what})"
    elif any(v.get("pending") for v in arms.values()) or out["E"].get("pending"):
        out["verdict"] = "pending"
    elif out["E"]["works"]:
        out["verdict"] = "schedule: only today's config at 4x iterations beats RPN"
    else:
        partial = [a for a, v in arms.items() if v["partial"]]
        out["verdict"] = "robust: no arm beats RPN" + (
            f" (partial cause: arm {', '.join(partial)} beats today's Cascade RPN)" if partial else "")
    return out


# Experiment 7's rows: Table I's five methods in the mini profile and in the paper's geometry.
PEERS = ("rpn", "iterative_rpn", "ga_rpn", "cascade_rpn", "sc_rpn")
# experiment 7's margin as the rule defines it: 2.5 x RPN's mini AR1000 seed sd (0.639 -> 1.60),
# computed from the runs by experiment7 (its "margin"); this rounded value (issue 36: it was
# coded in place of the rule's 1.60, which changes no verdict) is only the figure's default band
GEOMETRY_MARGIN = 1.5


def experiment7(values: Metric) -> dict:
    """Experiment 7 (the peers' ranking in the paper's geometry, one seed per ``x7_`` row).

    ``values(row)`` gives AR1000 per seed; the mini rows are read by their mean, the ``x7_`` rows
    by their seed 0 (the registered arm: one seed). Registered rule: Cascade RPN or GA-RPN above
    RPN by more than 2.5 x RPN's mini AR1000 seed sd (``out["margin"]``; 1.60 from the committed
    runs) -> "regime-dependent" (and the five rows get 3
    seeds); the same order as the mini profile's -> "robust to geometry". Our reading of the case
    the rule leaves open (the order changes, but neither peer clears RPN by the margin): "robust to
    geometry (order changed within the margin)", since the claims in question are the two peers
    above RPN, and they still are not.
    """
    mini = {row: values(row) for row in PEERS}
    paper = {row: values(f"x7_{row}")[:1] for row in PEERS}
    out: dict = {"mini": {r: statistics.fmean(v) if v else math.nan for r, v in mini.items()},
                 "paper": {r: v[0] if v else math.nan for r, v in paper.items()}}
    if any(not v for v in paper.values()) or any(not v for v in mini.values()):
        out["verdict"] = "pending"
        return out

    def order(table: dict) -> list[str]:
        return sorted(table, key=table.get, reverse=True)

    out["order_mini"], out["order_paper"] = order(out["mini"]), order(out["paper"])
    gaps = {peer: out["paper"][peer] - out["paper"]["rpn"] for peer in ("cascade_rpn", "ga_rpn")}
    out["peer_minus_rpn"] = gaps
    out["margin"] = (RESOLVED_SE * statistics.stdev(mini["rpn"]) if len(mini["rpn"]) >= 2
                     else GEOMETRY_MARGIN)
    above = [peer for peer, gap in gaps.items() if gap > out["margin"]]
    if above:
        out["verdict"] = f"regime-dependent: {' and '.join(above)} above RPN in the paper's geometry"
    elif out["order_paper"] == out["order_mini"]:
        out["verdict"] = "robust to geometry"
    else:
        out["verdict"] = "robust to geometry (order changed within the margin)"
    return out


def experiment7_pairs(values: Metric) -> dict:
    """Experiment 7's three-seed follow-up, read by the amendment of 2026-12-02 (registered after
    ``x7_rpn`` and ``x7_cascade_rpn`` had run, before any other run of the experiment).

    Why an amendment: the rule of :func:`experiment7` was written when Cascade RPN was below RPN
    in the mini profile; experiment 1's correction then put it above, so "Cascade RPN above RPN
    by more than the margin" no longer marks a change against the mini profile. The registered
    verdict is still read as written. This reading answers the question the experiment asks
    ("does the ranking change?") pair by pair, over seeds: for every pair of Table I's methods,
    Δ = a - b in each geometry (``values(row)`` for the mini rows, ``values("x7_" + row)`` for
    the paper's geometry, every cached seed, :func:`difference`). A pair **changed** order when
    the two Δs have opposite signs and both are resolved; it **kept** its order when both are
    resolved with the same sign; otherwise it is **unresolved**. A pair with fewer than two seeds
    on a side is "pending". ``tests/test_verdicts.py::test_experiment7_pairs_by_hand`` pins it.
    """
    out: dict = {"pairs": {}, "changed": [], "kept": [], "unresolved": [], "pending": []}
    for i, a in enumerate(PEERS):
        for b in PEERS[i + 1:]:
            sides = {}
            for name, (ra, rb) in (("mini", (a, b)), ("paper", (f"x7_{a}", f"x7_{b}"))):
                va, vb = values(ra), values(rb)
                sides[name] = difference(va, vb) if len(va) >= 2 and len(vb) >= 2 else None
            mini, paper = sides["mini"], sides["paper"]
            if mini is None or paper is None:
                status = "pending"
            elif mini.resolved and paper.resolved:
                status = "changed" if (mini.delta > 0) != (paper.delta > 0) else "kept"
            else:
                status = "unresolved"
            out["pairs"][(a, b)] = {"mini": mini, "paper": paper, "status": status}
            out[status].append((a, b))
    if out["pending"]:
        out["reading"] = "pending"
    elif out["changed"]:
        out["reading"] = "the ranking changes: " + "; ".join(f"{a} / {b}" for a, b in out["changed"])
    else:
        out["reading"] = (f"no resolved pair changes order ({len(out['kept'])} kept, "
                          f"{len(out['unresolved'])} unresolved)")
    return out


def _first_in_order(arms: dict, order: Sequence[str], key: str) -> tuple[Optional[str], bool]:
    """The first arm in ``order`` whose ``key`` is true, and whether every arm before it is done
    (then the verdict need not wait for the arms after it)."""
    for name in order:
        arm = arms[name]
        if arm.get("pending"):
            return None, False
        if arm.get(key):
            return name, True
    return None, True


def _steps(values: Metric, table: Sequence[tuple[str, str, str, str]], seeds: int,
           reproduces: Callable[[Difference], bool]) -> dict:
    """Each step ``(name, row, reference, what)`` of ``table``: Δ AR1000 of ``row`` against
    ``reference`` and whether that Δ ``reproduces`` the claim; pending until both have ``seeds``."""
    steps: dict = {}
    for name, row, reference, what in table:
        a, b = values(row), values(reference)
        if len(a) < seeds or len(b) < seeds:
            steps[name] = {"rows": (row, reference), "pending": True}
            continue
        step = difference(a, b)
        steps[name] = {"rows": (row, reference), "what": what, "step": step, "reproduces": reproduces(step)}
    return steps


def _read_off(steps: dict, order: Sequence[str], robust: str) -> str:
    """The verdict of a "first faithful step that reproduces" rule (experiments 4-6)."""
    first, settled = _first_in_order(steps, order, "reproduces")
    if first is not None:
        return f"reproduces once faithful: {steps[first]['what']} ({first})"
    return "pending" if not settled else robust


# Experiment 2's arms in the registered order (G3, the amendment, is read beside G1).
GA_ARMS = (("G0", "ga_rpn_nofilter", "the test-time location filter"),
           ("G1", "x2g1_ga_rpn_mmdet_norm_init", "mmdetection's normalisers and init"),
           ("G3", "x2g3_ga_rpn_mmdet3_loc", "mmdetection 3.3's inverted location targets"),
           ("G2", "x2g2_ga_rpn_4x", "the schedule"))


# G2's control (amendment of 2026-12-02, registered after G2's run, before the control's): RPN at
# G2's 4x schedule, one seed; the mini schedule's seed sds of these rows stand in for the 4x ones
GA_SCHEDULE_CONTROL = "x2g2c_rpn_4x"
GA_SCHEDULE_SD_ROWS = ("ga_rpn", "rpn")


def equal_schedule(values: Metric) -> Optional[dict]:
    """G2 against its control, both at 4x, one seed each: Δ = GA-RPN - RPN with se sqrt(sd_ga² +
    sd_rpn²) from the two rows' mini-schedule seed sds (a single run's spread around its mean). Δ ≥
    2.5 se: "above RPN"; Δ ≤ -2.5 se: "below RPN"; else "level with RPN". ``None`` until both runs
    and the sds exist."""
    g2 = next(row for arm, row, _ in GA_ARMS if arm == "G2")
    ga, control = values(g2)[:1], values(GA_SCHEDULE_CONTROL)[:1]
    sds = [_sd(values(row)) for row in GA_SCHEDULE_SD_ROWS]
    if not ga or not control or any(math.isnan(sd) for sd in sds):
        return None
    delta, se = ga[0] - control[0], math.sqrt(sum(sd ** 2 for sd in sds))
    reading = ("above RPN" if delta >= RESOLVED_SE * se else
               "below RPN" if delta <= -RESOLVED_SE * se else "level with RPN")
    return {"delta": delta, "se": se, "reading": reading}


def experiment2(values: Metric, seeds: int = 3) -> dict:
    """Experiment 2 (GA-RPN below RPN): an arm **recovers** when its AR1000 exceeds RPN's, resolved
    (G2 has one seed: :func:`arm_difference`). The cause is the first recovering arm in the order
    G0, G1, G3, G2 ("reproduces once X is faithful"; G2: "schedule"); none: "robust". The missed
    objects by size and aspect the REPORT lists beside it come from each run's proposal stats.
    G2's registered rule compares GA-RPN at 4x with RPN at the mini schedule; the amendment's
    control (:func:`equal_schedule`, RPN at 4x) qualifies a "schedule" verdict: GA-RPN above, level
    with or below RPN when both train 4x ("control pending" until it has run)."""
    rpn = values("rpn")
    out: dict = {"arms": {}}
    for arm, row, what in GA_ARMS:
        ar = values(row)
        wanted = 1 if arm == "G2" else seeds
        if len(ar) < wanted or not rpn:          # no RPN runs yet: nothing to compare with
            out["arms"][arm] = {"row": row, "pending": True, "seeds": len(ar)}
            continue
        vs_rpn = arm_difference(ar[:wanted], rpn)
        out["arms"][arm] = {"row": row, "what": what, "vs_rpn": vs_rpn,
                            "recovers": vs_rpn.resolved and vs_rpn.delta > 0}
    first, settled = _first_in_order(out["arms"], [a for a, _, _ in GA_ARMS], "recovers")
    out["equal_schedule"] = equal_schedule(values)
    if first == "G2":
        control = out["equal_schedule"]
        out["verdict"] = ("schedule: only GA-RPN at 4x iterations beats RPN; at an equal 4x schedule "
                          + ("control pending" if control is None else control["reading"]))
    elif first is not None:
        out["verdict"] = f"reproduces once faithful: arm {first} ({out['arms'][first]['what']})"
    elif not settled:
        out["verdict"] = "pending"
    else:
        out["verdict"] = "robust: no arm beats RPN"
    return out


# Experiment 4: the PosR step (the SADS row minus the Max-IoU / SAT row) under each stage-1 arm.
POSR_STEPS = (("S0", "t3_sads", "t4_maxiou_sat", "today's stage 1"),
              ("S1", "x4s1_sads_unitbox", "x4s1_maxiou_sat_unitbox", "the UnitBox stage-1 loss"),
              ("S2", "x4s2_sads_w2", "x4s2_maxiou_sat_w2", "a 4x stage-1 weight"),
              ("R", "x4r_sads_rounded", "t4_maxiou_sat", "the rounded positive region (S0)"))
POSR_MARGIN = 1.0          # experiment 4: a PosR step reproduces at >= +1.0 AR1000, resolved
# R under the S arm in which stage 1 learns with the larger margin: (rounded SADS row, its
# Max-IoU / SAT reference under the same stage-1 arm)
POSR_R_UNDER_S = {"S1": ("x4r_sads_rounded_unitbox", "x4s1_maxiou_sat_unitbox"),
                  "S2": ("x4r_sads_rounded_w2", "x4s2_maxiou_sat_w2")}


def posr_better_stage1_arm(values: Metric, records: Callable[[str], Sequence[Mapping]],
                           seeds: int = 3) -> Optional[str]:
    """Experiment 4's "S arm in which stage 1 learns with the larger margin": "S1" or "S2", from
    both rows of each arm (seed mean of the stage-1 margin); ``None`` while an arm lacks seeds or
    when stage 1 learns in neither (then R runs under S0 only, as registered)."""
    margins = {}
    for name, row, reference, _ in POSR_STEPS:
        if name not in POSR_R_UNDER_S:
            continue
        if len(values(row)) < seeds or len(values(reference)) < seeds:
            return None
        margin = stage1_margin([r for rr in (row, reference) for r in records(rr)])
        if margin is not None and margin >= STAGE1_MARGIN:
            margins[name] = margin
    return max(margins, key=margins.get) if margins else None


def experiment4(values: Metric, records: Callable[[str], Sequence[Mapping]], seeds: int = 3) -> dict:
    """Experiment 4 (PosR once stage 1 learns): each step's Δ AR1000 and whether stage 1 learns
    (in the seed mean of both rows of the step). PosR **reproduces** when some step is at least
    ``POSR_MARGIN`` and resolved: "reproduces once X" (the first such step in the order S0, S1,
    S2, R); no step: "robust", and "stage 1 never learned" is added when neither S1 nor S2 makes it
    learn. R under the better S arm (:func:`posr_better_stage1_arm`; rows in ``POSR_R_UNDER_S``)
    is the last step, "R+S1" or "R+S2"; it is pending until that row has its seeds, and absent
    when stage 1 learns under neither S arm."""
    reproduces = lambda step: step.resolved and step.delta >= POSR_MARGIN  # noqa: E731
    table = list(POSR_STEPS)
    better = posr_better_stage1_arm(values, records, seeds)
    if better is not None:
        rounded, reference = POSR_R_UNDER_S[better]
        what = dict((n, w) for n, _, _, w in POSR_STEPS)[better]
        table.append((f"R+{better}", rounded, reference, f"the rounded positive region under {what}"))
    steps = _steps(values, table, seeds, reproduces)
    for name, step in steps.items():
        if not step.get("pending"):
            step["stage1_learns"] = stage1_learns([r for row in step["rows"] for r in records(row)])
    never = all(not steps[n].get("stage1_learns") for n in ("S1", "S2"))
    robust = "robust: no PosR step reaches +1.0" + (" (stage 1 never learned)" if never else "")
    order = [n for n, *_ in table]
    if better is None and not never:
        order.append("R+S")           # the S arms are not complete: the last step is still to come
        steps["R+S"] = {"rows": (), "pending": True}
    return {"steps": steps, "better_stage1_arm": better, "verdict": _read_off(steps, order, robust)}


# The first study's t3_iou_loss and t3_point at the mini lr 0.01, kept as diag_ rows (the same runs)
# since experiment 6 moved Table III's rows to the paper's lr 0.005.
IOU_LOSS_FIRST_STUDY, POINT_FIRST_STUDY = "diag_t3_iou_loss_lr001", "diag_t3_point_lr001"

# Experiment 5: the alignment step without the confounds (L2: at the mini lr 0.01).
ALIGNMENT_STEPS = (("L1", "x5l1_alignment_faithful", "t3_two_stage", "the init and dilation"),
                   ("L2", IOU_LOSS_FIRST_STUDY, "x5l2_two_stage_iou", "the lr confound"))


def experiment5(values: Metric, seeds: int = 3) -> dict:
    """Experiment 5 (alignment): the L1 and L2 steps (aligned row minus unaligned row). Alignment
    **reproduces** when either step is positive and resolved: "reproduces once X" (L1 first);
    both steps <= 0 or unresolved: "robust"."""
    steps = _steps(values, ALIGNMENT_STEPS, seeds, lambda step: step.resolved and step.delta > 0)
    return {"steps": steps, "verdict": _read_off(steps, [n for n, *_ in ALIGNMENT_STEPS],
                                                 "robust: no alignment step is a resolved gain")}


# Experiment 6: points against anchors (points row minus its anchor row); P2's reference is at lr 0.01.
POINT_STEPS = (("P0", "t3_sads", "x6p0_anchor_sads", "under SADS"),
               ("P1", "x6p1_point_lr0005", "x6p1_iou_loss_lr0005", "lr 0.005"),
               ("P2", "x6p2_point_offsets05", IOU_LOSS_FIRST_STUDY, "secondary offsets x0.5"))


def experiment6(values: Metric, seeds: int = 3) -> dict:
    """Experiment 6 (points cost AR): the paper's claim is "no loss". In a comparison points
    **reproduce** when the points row is not below its anchor row by a resolved margin
    (Δ > -2.5 se). P0 says whether points cost AR under SADS (reported); the verdict is
    "reproduces once X" for the first of P1, P2 that removes the Max-IoU loss, else
    "robust (under Max-IoU)"."""
    steps = _steps(values, POINT_STEPS, seeds, lambda step: not (step.resolved and step.delta < 0))
    out = {"steps": steps, "verdict": _read_off(
        steps, ["P1", "P2"], "robust (under Max-IoU): points cost AR at lr 0.005 and with smaller offsets")}
    if not steps["P0"].get("pending"):
        out["under_sads"] = "no cost" if steps["P0"]["reproduces"] else "points cost AR under SADS too"
    return out


DETECTOR_GAP_TODAY_ROWS = ("det_faster_rcnn_sc_rpn", "det_faster_rcnn_rpn")
DETECTOR_GAP_3X_ROWS = ("x8_det_faster_rcnn_sc_rpn_3x", "x8_det_faster_rcnn_rpn_3x")
PAPER_DETECTOR_GAP = 4.0   # Table II: Faster R-CNN, 300 proposals, SC-RPN minus RPN box AP
GAP_CLOSER_BY = 1.0        # experiment 8: the 3x gap must be this much closer to the paper's


def experiment8(ap: Metric) -> dict:
    """Experiment 8 (the detector gap as the detectors converge), seed 0 of each row. ``ap(row)``
    gives box AP per seed. The gap **shrinks** when the 3x gap is at least ``GAP_CLOSER_BY`` AP
    closer to the paper's +4.0 than today's gap is; otherwise "does not shrink at 3x"."""
    today = [ap(row)[:1] for row in DETECTOR_GAP_TODAY_ROWS]
    longer = [ap(row)[:1] for row in DETECTOR_GAP_3X_ROWS]
    if not all(today) or not all(longer):
        return {"verdict": "pending"}
    gap_today, gap_3x = today[0][0] - today[1][0], longer[0][0] - longer[1][0]
    closer = abs(gap_today - PAPER_DETECTOR_GAP) - abs(gap_3x - PAPER_DETECTOR_GAP)
    return {"gap_today": gap_today, "gap_3x": gap_3x, "closer_by": closer,
            "verdict": "shrinks toward the paper's gap" if closer >= GAP_CLOSER_BY else "does not shrink at 3x"}


# Experiment 9 (registered after experiment 1's verdict, before any of its runs): every correction
# that changed a default, re-run on DeepForest (Table X's rows and the rows a later verdict changed,
# 3 seeds). Each correction is judged by the criterion that made it work on SynthShapes.
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
    Correction("Cascade RPN: mmdetection's loss normalisers", "cascade_rpn", "rpn",
               "diag_cascade_rpn_paper_norm", ABOVE_REFERENCE),
    # experiment 6, arm P1 (registered in experiment 6's amendment): points against anchors at lr 0.005
    Correction("points: the paper's lr 0.005", "t3_point", "t3_iou_loss", None, NOT_BELOW),
)


def _carries(criterion: str, ar: Sequence[float], vs_ref: Difference, learns: Optional[bool]) -> bool:
    if criterion == ABOVE_REFERENCE:
        return learns is not False and _sd(ar) < SD_LIMIT and vs_ref.resolved and vs_ref.delta > 0
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
            "sd": _sd(ar), "vs_reference": vs_ref, "vs_first_study": vs_first, "carries_over": carries,
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
