"""Experiment 1 (issue 18): Cascade RPN below RPN. Does a faithful Cascade RPN beat RPN?

Arms A-D make one more part of mmdetection's recipe faithful each (A: its loss normalisers, B: lr
0.005, C: both, D: C + init, dilation and clipping), E trains today's config 4x longer (one seed).
The rule (:func:`experiment1`) names the first working arm; arm A worked, so B-E were dropped
(amendment of 2026-12-01) and its normalisers became Cascade RPN's default: the first study's
runs live on as :data:`FIRST_STUDY`. ``tests/test_verdicts.py::test_experiment1_by_hand`` pins
the rule.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from ..stats import Metric, Runs, arm_difference, difference, metric, sample_sd
from ..verdicts import SD_LIMIT, stage1_learns
from .record import Amendment, Arm, Experiment, Stage

__all__ = ["ARMS", "CASCADE_RPN", "EXPERIMENT", "FIRST_STUDY", "RPN", "SCHEDULE_ARM", "experiment1"]

RPN, CASCADE_RPN = "rpn", "cascade_rpn"      # Table I's rows: the reference, the row it traces
# "today's Cascade RPN" of the registered rule: the first study's runs. Arm A's verdict made
# mmdetection's normalisers the method's default, and the old runs live on as this diag_ row.
FIRST_STUDY = "diag_cascade_rpn_paper_norm"
# the arms in the registered order (fewest changes first) and what each makes faithful
ARMS = (("A", "x1a_cascade_mmdet_norm", "mmdetection's loss normalisers"),
        ("B", "x1b_cascade_lr0005", "the reference lr 0.005"),
        ("C", "x1c_cascade_norm_lr", "normalisers and lr"),
        ("D", "x1d_cascade_faithful", "normalisers, lr, init, dilation and clipping"))
SCHEDULE_ARM = "x1e_cascade_4x"
_ROW = dict((name, row) for name, row, _ in ARMS)


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
    rpn, cascade = values(RPN), values(FIRST_STUDY)
    out: dict = {"arms": {}}
    for arm, row, what in ARMS:
        ar = values(row)
        if len(ar) < seeds or not rpn:           # no RPN runs yet: nothing to compare with
            out["arms"][arm] = {"row": row, "pending": True, "seeds": len(ar)}
            continue
        learns = stage1_learns(records(row))
        vs_rpn = difference(ar, rpn)
        vs_cascade = difference(ar, cascade) if cascade else None    # the first study's row
        works = bool(learns) and sample_sd(ar) < SD_LIMIT and vs_rpn.resolved and vs_rpn.delta > 0
        out["arms"][arm] = {"row": row, "what": what, "stage1_learns": learns, "sd": sample_sd(ar),
                            "vs_rpn": vs_rpn, "vs_cascade_rpn": vs_cascade, "works": works,
                            "partial": (not works) and vs_cascade is not None and vs_cascade.resolved
                            and vs_cascade.delta > 0}
    arms = out["arms"]
    schedule = values(SCHEDULE_ARM)[:1]      # arm E: today's config at 4x, one seed
    if schedule and rpn:
        vs_rpn = arm_difference(schedule, rpn)
        learns = stage1_learns(records(SCHEDULE_ARM))
        out["E"] = {"row": SCHEDULE_ARM, "vs_rpn": vs_rpn, "stage1_learns": learns,
                    "works": bool(learns) and vs_rpn.resolved and vs_rpn.delta > 0}
    else:
        out["E"] = {"row": SCHEDULE_ARM, "pending": True}
    first = next((a for a, _, _ in ARMS if arms[a].get("works")), None)
    if first is not None and all(not arms[a].get("pending") for a, _, _ in ARMS if a < first):
        what = next(w for a, _, w in ARMS if a == first)
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


def _rule(runs: Runs) -> dict:
    return experiment1(metric(runs, "AR1000"), runs)


def _report(runs: Runs) -> list[str]:
    out = _rule(runs)
    lines = []
    for name, arm in {**out["arms"], "E": out["E"]}.items():
        if arm.get("pending"):
            lines.append(f"- {name} `{arm['row']}`: pending ({len(runs(arm['row']))} seeds)")
        else:
            extra = f", seed sd {arm['sd']:.1f}" if "sd" in arm else ""
            lines.append(f"- {name} `{arm['row']}`: AR1000 vs RPN {arm['vs_rpn'].text()}{extra}, "
                         f"stage 1 learns: {arm['stage1_learns']}, works: {'yes' if arm['works'] else 'no'}")
    return lines + ["", f"Verdict (registered rule): **{out['verdict']}**."]


_DROPPED = "arm A decided the experiment (amendment of 2026-12-01)"
EXPERIMENT = Experiment(
    number=1, claim="Cascade RPN above RPN (+13.4)", title="Experiment 1: Cascade RPN",
    question="Cascade RPN below RPN: mmdetection's loss normalisers (A), lr 0.005 (B), both (C), "
             "plus faithful init, dilation and clipping (D)",
    table_row=("table01_proposals_coco", CASCADE_RPN),
    arms=(Arm("today", "the first study's config", FIRST_STUDY, RPN, adds=()),
          Arm("A", "mmdetection loss normalisers", _ROW["A"], RPN),
          Arm("B", "lr 0.005", _ROW["B"], RPN),
          Arm("C", "normalisers + lr 0.005", _ROW["C"], RPN),
          Arm("D", "C + init, dilation, clipping", _ROW["D"], RPN),
          Arm("E", "4x iterations (1 seed)", SCHEDULE_ARM, RPN, seeds=1)),
    rule=_rule, report=_report,
    figures=("causes_ar1000", "causes_missed_{number}", "causes_stage1_{number}"),
    amendments=(Amendment("2026-12-01", "after the verdict (arm A), before any run of experiment 9: arms "
                                        "B-E are dropped, mmdetection's normalisers become Cascade RPN's "
                                        "default, the first study's runs stay as diag_cascade_rpn_paper_norm"),),
    stages=(Stage("x1a", (_ROW["A"],)),
            Stage("x1b", (_ROW["B"],), dropped=_DROPPED), Stage("x1c", (_ROW["C"],), dropped=_DROPPED),
            Stage("x1d", (_ROW["D"],), dropped=_DROPPED), Stage("x1e", (SCHEDULE_ARM,), (0,), dropped=_DROPPED),
            # the verdict made mmdetection's normalisers Cascade RPN's default: Table I's row is
            # re-scored from arm A's checkpoints (same training config), Table II's Cascade RPN rows retrain
            Stage("x1_default", (CASCADE_RPN,)),
            Stage("x1_det", ("det_fast_rcnn_cascade_rpn", "det_fast_rcnn_cascade_rpn_1000",
                             "det_faster_rcnn_cascade_rpn", "det_faster_rcnn_cascade_rpn_1000"), (0,))),
)
