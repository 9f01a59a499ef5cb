"""The causes table (issue 18): one line per arm of the pre-registered experiments, from the runs.

``results/REPORT.md`` ("Pre-registered: tracing each non-reproduction to a cause") registers, for
each claim that did not reproduce, the arms that test a suspected cause and the rule that reads the
verdict. :data:`ARMS` lists those arms (experiments 1-9) with the study row that trains each
(``None``: the row is not written yet, so the arm is shown as "not built"); :func:`causes_table`
reads whatever runs are cached (it trains nothing) and writes ``results/tables/causes.csv``: the claim, the arm, seeds
done, AR100 / AR1000 / AR_S / box AP mean and sample sd, the arm's Δ against its reference row in
its ``metric`` (``delta_AR1000`` for the proposal arms, ``delta_AP`` for experiment 8's detectors) with
its standard error, the stage-1 diagnostic, the fraction of objects missed outright (no proposal at
IoU 0.3 in the top 1,000) overall, by size and for slender objects, the IoU mask's Spearman ρ,
the machine and CPU hours of the runs the arm added (:func:`scrpn.study.runs.run_cost`: a resumed
run counts its interrupted parts too; not the first study's rows it is compared with), the arm's
status, its diagnostic figures and the experiment's verdict, read off the registered rule by
``scrpn.study.verdicts`` ("pending" until the rule has the runs it reads).

Notebook 12 shows it with its figures; ``tests/test_causes.py`` pins the table on hand-made runs.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from scrpn.evaluation.proposal_stats import load_stats, missed_fractions
from scrpn.outputs import atomic_write_text

from .runs import Study, run_cost
from .verdicts import (DETECTOR_GAP_3X_ROWS, DETECTOR_GAP_TODAY_ROWS, GA_SCHEDULE_CONTROL, IOU_LOSS_FIRST_STUDY,
                       PEERS, POINT_FIRST_STUDY, POSR_R_UNDER_S, difference, experiment1, experiment2, experiment3,
                       experiment4, experiment5, experiment6, experiment7, experiment7_pairs, experiment8,
                       experiment9, posr_better_stage1_arm, stage1_learns)

__all__ = ["ARMS", "Arm", "STAGE1_EXPERIMENTS", "cached_runs", "causes_table", "dataset_study",
           "detector_logs", "experiment_verdicts", "figure_names", "is_cause_row", "metric",
           "posr_rounded_row", "regime_pairs", "regime_runs", "registered_seeds", "stage1_logs", "summary",
           "write_causes"]


@dataclass(frozen=True)
class Arm:
    experiment: int
    claim: str
    arm: str
    variant: str
    row: Optional[str]          # the study row (None: not written yet)
    reference: str              # the row its Δ is taken against
    paired: bool = False        # same checkpoints as the reference (a scoring variant)
    dataset: Optional[str] = None   # another dataset's runs (experiment 9: "deepforest")
    trained: Optional[tuple[str, ...]] = None   # the rows whose runs this arm added (None: see cost_rows)
    metric: str = "AR1000"      # the metric of its Δ: box "AP" for experiment 8's detectors

    @property
    def cost_rows(self) -> tuple[str, ...]:
        """The rows whose runs this arm added, counted in its CPU-time line: ``trained`` where
        given (experiment 9's arms, whose rows keep Table X's names on another dataset), else
        its row and its reference where they are cause rows (:func:`is_cause_row`; the first
        study's rows cost nothing here)."""
        if self.trained is not None:
            return self.trained
        return tuple(row for row in dict.fromkeys((self.row, self.reference)) if row and is_cause_row(row))


_C, _G, _M = "Cascade RPN above RPN (+13.4)", "GA-RPN above RPN (+10.2)", "IoU mask helps (+0.4)"
_P, _L, _X = "PosR helps (+2.8)", "alignment helps (+6.8)", "points cost nothing (+0.4)"
_R = "peers' ranking (Table I) in the paper's geometry"
_T = "the corrections carry over to real images (Table X)"
_D = "the detector gap nears the paper's (+4.0 AP) at 3x"
ARMS: tuple[Arm, ...] = (
    Arm(1, _C, "today", "the first study's config", "diag_cascade_rpn_paper_norm", "rpn"),
    Arm(1, _C, "A", "mmdetection loss normalisers", "x1a_cascade_mmdet_norm", "rpn"),
    Arm(1, _C, "B", "lr 0.005", "x1b_cascade_lr0005", "rpn"),
    Arm(1, _C, "C", "normalisers + lr 0.005", "x1c_cascade_norm_lr", "rpn"),
    Arm(1, _C, "D", "C + init, dilation, clipping", "x1d_cascade_faithful", "rpn"),
    Arm(1, _C, "E", "4x iterations (1 seed)", "x1e_cascade_4x", "rpn"),
    Arm(2, _G, "today", "committed config", "ga_rpn", "rpn"),
    Arm(2, _G, "G0", "test-time location filter off", "ga_rpn_nofilter", "rpn"),
    Arm(2, _G, "G1", "mmdetection normalisers + init", "x2g1_ga_rpn_mmdet_norm_init", "rpn"),
    Arm(2, _G, "G2", "4x iterations (1 seed)", "x2g2_ga_rpn_4x", "rpn"),
    Arm(2, _G, "G3", "mmdetection 3.3's inverted location targets", "x2g3_ga_rpn_mmdet3_loc", "rpn"),
    # G2's control (amendment of 2026-12-02): GA-RPN and RPN both at 4x (verdicts.equal_schedule)
    Arm(2, _G, "G2 vs control", "GA-RPN vs RPN, both 4x (1 seed each)", "x2g2_ga_rpn_4x", GA_SCHEDULE_CONTROL),
    Arm(3, _M, "M1", "literal double sigmoid", "sc_rpn_rescored", "sc_rpn_notest", paired=True),
    Arm(3, _M, "M2", "second sigmoid at test only", "x3_mask_test_only", "x3_mask_test_only_notest", paired=True),
    Arm(3, _M, "M3", "one sigmoid", "x3_mask_single", "x3_mask_single_notest", paired=True),
    # experiment 4: the PosR step is the SADS row minus the Max-IoU / SAT row under the same stage-1 arm
    Arm(4, _P, "today", "PosR step, committed stage 1", "t3_sads", "t4_maxiou_sat"),
    Arm(4, _P, "S1", "PosR step, UnitBox stage-1 loss", "x4s1_sads_unitbox", "x4s1_maxiou_sat_unitbox"),
    Arm(4, _P, "S2", "PosR step, stage-1 weight x4", "x4s2_sads_w2", "x4s2_maxiou_sat_w2"),
    Arm(4, _P, "R", "PosR step, rounded region (S0)", "x4r_sads_rounded", "t4_maxiou_sat"),
    # R under the S arm where stage 1 learns with the larger margin: only one of these two is trained
    Arm(4, _P, "R+S1", "PosR step, rounded region (S1)", "x4r_sads_rounded_unitbox", "x4s1_maxiou_sat_unitbox"),
    Arm(4, _P, "R+S2", "PosR step, rounded region (S2)", "x4r_sads_rounded_w2", "x4s2_maxiou_sat_w2"),
    Arm(5, _L, "today", "alignment step, lr 0.005", "t3_alignment", "t3_two_stage"),
    Arm(5, _L, "L1", "faithful init + dilation", "x5l1_alignment_faithful", "t3_two_stage"),
    Arm(5, _L, "L2", "alignment step at lr 0.01 (IoU loss)", IOU_LOSS_FIRST_STUDY, "x5l2_two_stage_iou"),
    # the first study's point step (lr 0.01), kept as diag_ rows since experiment 6 moved Table III's
    # t3_iou_loss and t3_point to the paper's lr 0.005 (P1's runs, re-scored)
    Arm(6, _X, "today", "points vs anchors, Max-IoU, lr 0.01", POINT_FIRST_STUDY, IOU_LOSS_FIRST_STUDY),
    Arm(6, _X, "P0", "points vs anchors, SADS", "t3_sads", "x6p0_anchor_sads"),
    Arm(6, _X, "P1", "points vs anchors, lr 0.005", "x6p1_point_lr0005", "x6p1_iou_loss_lr0005"),
    Arm(6, _X, "P2", "secondary offsets x0.5", "x6p2_point_offsets05", IOU_LOSS_FIRST_STUDY),
    # experiment 7: Table I's five methods in the paper's geometry (512 px, anchor scale 8), 1 seed
    Arm(7, _R, "RPN", "RPN, paper geometry (vs mini)", "x7_rpn", "rpn"),
    Arm(7, _R, "Iterative RPN", "paper geometry, vs its RPN", "x7_iterative_rpn", "x7_rpn"),
    Arm(7, _R, "GA-RPN", "paper geometry, vs its RPN", "x7_ga_rpn", "x7_rpn"),
    Arm(7, _R, "Cascade RPN", "paper geometry, vs its RPN", "x7_cascade_rpn", "x7_rpn"),
    Arm(7, _R, "SC-RPN", "paper geometry, vs its RPN", "x7_sc_rpn", "x7_rpn"),
    # experiment 8: Faster R-CNN on SC-RPN's against on RPN's 300 proposals, box AP (seed 0 each)
    Arm(8, _D, "today", "mini schedule (Table II)", *DETECTOR_GAP_TODAY_ROWS, metric="AP"),
    Arm(8, _D, "3x", "3x iterations", *DETECTOR_GAP_3X_ROWS, metric="AP"),
    # experiment 9: each correction that changed a default, on DeepForest (verdicts.CARRY_OVER)
    Arm(9, _T, "DF first study", "Cascade RPN, own normalisers (DeepForest)", "diag_cascade_rpn_paper_norm", "rpn",
        dataset="deepforest", trained=()),
    Arm(9, _T, "DF A", "Cascade RPN, mmdetection normalisers (DeepForest)", "cascade_rpn", "rpn",
        dataset="deepforest", trained=("cascade_rpn",)),
    Arm(9, _T, "DF P1", "points vs anchors, lr 0.005 (DeepForest)", "t3_point", "t3_iou_loss",
        dataset="deepforest", trained=("t3_point", "t3_iou_loss")),
)

METRICS = ("AR100", "AR1000", "AR_S", "AP")


def figure_names(arm: Arm) -> list[str]:
    """The diagnostic figures notebook 12 draws for an arm (``results/figures/``): every proposal
    arm's Δ AR1000 (``causes_ar1000``), Fig. 7 for each IoU-mask reading (experiment 3 registered
    it) and the objects each arm misses (``causes_missed_<experiment>``, registered by experiment
    2), and for the experiments whose rule reads "stage 1 learns" that diagnostic through training
    (``causes_stage1_<experiment>``). Experiment 8's detector arms have no proposal statistics:
    their figure is the box AP of both detectors and their R-CNN losses through training
    (``causes_detectors_8``). Experiment 7's arms share the two geometries' ranking
    (``causes_regime_7``)."""
    if arm.metric == "AP":
        return [f"causes_detectors_{arm.experiment}.png"]
    names = ["causes_ar1000.png", f"causes_missed_{arm.experiment}.png"]
    if arm.experiment == 3:
        names.append(f"causes_fig7_{arm.arm}.png")
    if arm.experiment in STAGE1_EXPERIMENTS:
        names.append(f"causes_stage1_{arm.experiment}.png")
    if arm.experiment == 7:
        names.append("causes_regime_7.png")
    return names


def regime_runs(study: Study) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Experiment 7's input to ``viz.figures.causes_regime``: Table I's methods
    (``verdicts.PEERS``) -> AR1000 per cached seed, in the mini profile (the first study's rows)
    and in the paper's geometry (the ``x7_`` rows). Trains nothing."""
    ar = metric(cached_runs(study), "AR1000")
    return {m: ar(m) for m in PEERS}, {m: ar(f"x7_{m}") for m in PEERS}


def regime_pairs(study: Study) -> tuple[pd.DataFrame, str]:
    """Experiment 7's three-seed follow-up as a table (the amendment of 2026-12-02,
    ``verdicts.experiment7_pairs``): one line per pair ``a`` - ``b`` of Table I's methods with Δ
    AR1000, its standard error and the seeds on the smaller side, in the mini profile and in the
    paper's geometry, and the pair's status (changed / kept / unresolved / pending); and the
    reading. Trains nothing; a side with fewer than two seeds is left blank."""
    out = experiment7_pairs(metric(cached_runs(study), "AR1000"))
    lines = []
    for (a, b), pair in out["pairs"].items():
        line: dict = {"a": a, "b": b}
        for side in ("mini", "paper"):
            d = pair[side]
            line.update({f"{side}_delta": d.delta if d else math.nan, f"{side}_se": d.se if d else math.nan,
                         f"{side}_seeds": d.n if d else 0})
        line["status"] = pair["status"]
        lines.append(line)
    return pd.DataFrame(lines), out["reading"]


# the experiments whose rules read "stage 1 learns" (verdicts.stage1_learns): each gets the figure
# of that diagnostic through training (viz.figures.stage1_margin_curves)
STAGE1_EXPERIMENTS = (1, 4, 9)


def stage1_logs(study: Study, experiment: int) -> dict[str, list[list[dict]]]:
    """``row -> [each cached seed's log.jsonl records]`` for the rows of one experiment's arms
    (row and reference, in the order of :data:`ARMS`, each on its arm's dataset), the input of
    ``viz.figures.stage1_margin_curves``. Trains nothing; rows without a cached seed are left out."""
    logs: dict[str, list[list[dict]]] = {}
    for arm in (a for a in ARMS if a.experiment == experiment):
        sub = dataset_study(study, arm.dataset)
        for row in (arm.row, arm.reference):
            label = row if arm.dataset in (None, study.dataset) else f"{row} ({arm.dataset})"
            if row is None or label in logs:
                continue
            seeds = [sub.training_log(row, s) for s in sub.seeds if sub.cached(row, s) is not None]
            if seeds:
                logs[label] = seeds
    return logs


def detector_logs(study: Study) -> dict[str, list[dict]]:
    """``row -> seed 0's log.jsonl records`` for the detector rows of the arms measured in box AP
    (experiment 8: each row's reference, then the row), the input of
    ``viz.figures.causes_detectors``. Trains nothing; rows without a cached seed 0 are left out."""
    rows = (r for arm in ARMS if arm.metric == "AP" for r in (arm.reference, arm.row) if r)
    return {row: study.training_log(row, 0) for row in dict.fromkeys(rows) if study.cached(row, 0) is not None}


def registered_seeds(row: str, verdict7: str = "pending") -> int:
    """Seeds the REPORT registered for a row: one for the longer schedules (``*_4x``, ``*_3x``)
    and for the detectors (``det_*``: Tables II and IX train one seed per detector row); for
    experiment 7's paper-geometry rows (``x7_*``) one, or three once experiment 7's verdict
    (``verdict7``) reads "regime-dependent" (the rule's branch); three otherwise."""
    if row.startswith("x7_"):
        return 3 if verdict7.startswith("regime-dependent") else 1
    return 1 if row.endswith(("_4x", "_3x")) or row.startswith("det_") else 3


def is_cause_row(row: str) -> bool:
    """A row trained or scored for the cause experiments (not one of the first study's rows)."""
    return row.startswith("x") or row in ("sc_rpn_notest", "sc_rpn_rescored", "ga_rpn_nofilter")


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


MISSED = {"missed_all": "all", "missed_S": "S", "missed_M": "M", "missed_L": "L", "missed_slender": "aspect>=4"}


def _missed(study: Study, row: Optional[str], seeds: list[int]) -> dict[str, float]:
    """Seed means of :func:`missed_fractions` (objects without a proposal at IoU 0.3 in the top
    1,000; experiment 2 registered them by size and aspect), NaN where a run has no stats."""
    found = []
    for seed in seeds:
        path = study.run_dir(row, seed) / "proposal_stats.npz"
        if path.is_file():
            found.append(missed_fractions(load_stats(path)))
    return {column: statistics.fmean(f[key] for f in found) if found else math.nan
            for column, key in MISSED.items()}


Runs = Callable[[str], list]   # row -> the cached metrics.json records of its seeds


def cached_runs(study: Study) -> Runs:
    """``row -> [metrics.json records]`` of the study's seeds that are cached (memoised; trains
    nothing)."""
    cache: dict[str, list[dict]] = {}

    def runs(row: str) -> list[dict]:
        if row not in cache:
            found = [study.cached(row, s) for s in study.seeds]
            cache[row] = [r for r in found if r is not None]
        return cache[row]

    return runs


def metric(runs: Runs, key: str) -> Callable[[str], list]:
    """``row -> [records[key] per seed]`` from ``runs`` (seeds without the key left out)."""
    return lambda row: [r[key] for r in runs(row) if r.get(key) is not None]


def experiment_verdicts(runs: Runs, deepforest_runs: Optional[Runs] = None) -> dict[int, str]:
    """Each experiment's verdict read off its registered rule (``scrpn.study.verdicts``) from
    ``runs`` (and experiment 9's from ``deepforest_runs``, the DeepForest study's); "pending"
    until the rule has the runs it reads."""
    ar = metric(runs, "AR1000")
    out = {1: experiment1(ar, runs)["verdict"], 2: experiment2(ar)["verdict"],
           3: experiment3(ar, metric(runs, "iou_mask_spearman"))["verdict"],
           4: experiment4(ar, runs)["verdict"], 5: experiment5(ar)["verdict"],
           6: experiment6(ar)["verdict"], 7: experiment7(ar)["verdict"],
           8: experiment8(metric(runs, "AP"))["verdict"], 9: "pending"}
    if deepforest_runs is not None:
        out[9] = experiment9(metric(deepforest_runs, "AR1000"), deepforest_runs)["verdict"]
    return out


def posr_rounded_row(runs: Runs) -> Optional[str]:
    """The row experiment 4 trains last: R under the S arm in which stage 1 learns with the larger
    margin (``None`` until S1 and S2 have their seeds, or when stage 1 learns in neither)."""
    better = posr_better_stage1_arm(metric(runs, "AR1000"), runs)
    return None if better is None else POSR_R_UNDER_S[better][0]


def dataset_study(study: Study, dataset: Optional[str]) -> Study:
    """``study`` for an arm's dataset (the same profile, seeds and folders)."""
    return study if dataset in (None, study.dataset) else replace(study, dataset=dataset)


def causes_table(study: Study) -> pd.DataFrame:
    """One line per arm of :data:`ARMS` from the cached runs of ``study`` (nothing is trained)."""
    studies = {d: dataset_study(study, d) for d in {None, *(arm.dataset for arm in ARMS)}}
    runs_of = {d: cached_runs(s) for d, s in studies.items()}
    verdicts = experiment_verdicts(runs_of[None], runs_of.get("deepforest"))
    lines, counted = [], set()
    for arm in ARMS:
        runs, arm_study = runs_of[arm.dataset], studies[arm.dataset]
        measured = metric(runs, arm.metric)
        line = {"experiment": arm.experiment, "claim": arm.claim, "arm": arm.arm, "variant": arm.variant,
                "dataset": arm.dataset or "synthshapes", "row": arm.row or "", "reference": arm.reference,
                "metric": arm.metric}
        records = runs(arm.row) if arm.row else []
        line["seeds"] = len(records)
        for key in METRICS:
            values = metric(runs, key)(arm.row) if arm.row else []
            line[f"{key}_mean"] = statistics.fmean(values) if values else math.nan
            line[f"{key}_sd"] = _sd(values)
        # the arm's Δ in its own metric; the other delta column stays empty (se and resolved
        # belong to whichever is filled; one-seed rows against one-seed rows have no se)
        ours, ref = measured(arm.row) if arm.row else [], measured(arm.reference)
        line.update(delta_AR1000=math.nan, delta_AP=math.nan, se=math.nan, resolved=False)
        if ours and ref and (not arm.paired or len(ours) == len(ref)):
            d = difference(ours, ref, paired=arm.paired)
            line.update({f"delta_{arm.metric}": d.delta, "se": d.se, "resolved": d.resolved})
        learns = stage1_learns(records) if records else None
        line["stage1_learns"] = "" if learns is None else ("yes" if learns else "no")
        line.update(_missed(arm_study, arm.row, [int(r["seed"]) for r in records]) if arm.row
                    else _missed(arm_study, None, []))
        rho = metric(runs, "iou_mask_spearman")(arm.row) if arm.row else []
        line["spearman"] = statistics.fmean(rho) if rho else math.nan
        # machine and CPU time of the runs this arm added (a scoring variant counts its
        # evaluation only: it shares the training); a row several arms share (experiment 7's
        # x7_rpn, experiment 4's S1 / S2 references) counts once, at the first arm naming it
        new_rows = [row for row in arm.cost_rows if (arm.experiment, arm.dataset, row) not in counted]
        counted.update((arm.experiment, arm.dataset, row) for row in new_rows)
        costed = [r for row in new_rows for r in runs(row)]
        line["machine_hours"] = sum(run_cost(r)[0] for r in costed) / 3600
        line["cpu_hours"] = sum(run_cost(r)[1] for r in costed) / 3600
        line["verdict"] = verdicts.get(arm.experiment, "pending")
        line["status"] = _status(arm, runs, len(study.seeds), decided=line["verdict"] != "pending",
                                 verdict7=verdicts.get(7, "pending"))
        line["figures"] = ";".join(figure_names(arm))
        lines.append(line)
    return pd.DataFrame(lines)


def _status(arm: Arm, runs: Callable[[str], list[dict]], seeds: int, decided: bool,
            verdict7: str = "pending") -> str:
    """"done", "<n> of <wanted> seeds", "not run", "not needed (verdict read)" or "not built".
    An arm is as far as the least complete of the rows it trains (:attr:`Arm.cost_rows`; its row
    for the first study's arms): experiment 5's L2 and experiment 6's P0 compare a first-study row
    against a new reference, and are not run until that reference is. An arm whose missing rows
    have no run once its experiment has a verdict was dropped (an earlier arm answered its
    question; the REPORT says so): experiment 4's R+S1 shares its complete reference with S1."""
    if arm.row is None:
        return "not built"
    rows = arm.cost_rows or (arm.row,)
    counts = ((len(runs(row)), min(registered_seeds(row, verdict7), seeds), row) for row in rows)
    short = [(have, wanted, row) for have, wanted, row in counts if have < wanted]
    if not short:
        return "done"
    if all(have == 0 for have, _, _ in short):     # what it still needs has not started
        return "not needed (verdict read)" if decided else "not run"
    have, wanted, row = min(short)
    return f"{have} of {wanted} seeds" + (f" of `{row}`" if len(rows) > 1 else "")


def write_causes(frame: pd.DataFrame, tables_dir: str | Path) -> Path:
    """``<tables_dir>/causes.csv`` (3 decimals; atomic)."""
    path = Path(tables_dir) / "causes.csv"
    return atomic_write_text(path, frame.to_csv(index=False, float_format="%.3f"))


def summary(frame: pd.DataFrame) -> str:
    """Markdown: per experiment, its verdict and each arm's state, written from the table."""
    lines = []
    for number, sub in frame.groupby("experiment", sort=True):
        lines.append(f"- **Experiment {number}** ({sub['claim'].iloc[0]}): verdict **{sub['verdict'].iloc[0]}**. "
                     f"Its runs so far: {sub['machine_hours'].sum():.1f} machine hours, "
                     f"{sub['cpu_hours'].sum():.1f} CPU-hours.")
        for _, line in sub.iterrows():
            name = line["metric"]                  # AR1000; box AP for experiment 8's detectors
            if line["status"] in ("not built", "not run", "not needed (verdict read)"):
                text = line["status"]
            elif not math.isfinite(line[f"delta_{name}"]):
                text = (f"{name} {line[f'{name}_mean']:.1f} ({line['status']}); its reference "
                        f"`{line['reference']}` has no run yet")
            else:
                se = "" if not math.isfinite(line["se"]) else f" [se {line['se']:.2f}]"
                text = (f"{name} {line[f'{name}_mean']:.1f}, Δ vs `{line['reference']}` "
                        f"{line[f'delta_{name}']:+.2f}{se}{' resolved' if line['resolved'] else ''}"
                        f" ({line['status']})")
                if line["stage1_learns"]:
                    text += f"; stage 1 learns: {line['stage1_learns']}"
                if math.isfinite(line["spearman"]):
                    text += f"; mask ρ {line['spearman']:.2f}"
            lines.append(f"  - {line['arm']} ({line['variant']}): {text}")
    return "\n".join(lines)
