"""The causes table (issue 18): one line per arm of the pre-registered experiments, from the runs.

``results/REPORT.md`` ("Pre-registered: tracing each non-reproduction to a cause") registers, for
each claim that did not reproduce, the arms that test a suspected cause and the rule that reads the
verdict; the registry (:mod:`scrpn.study.experiments`) holds them. :data:`ARMS` is every arm of
every experiment, with the study row that trains each (``None``: the row is not written yet, so the
arm is shown as "not built"); :func:`causes_table` reads whatever runs are cached (it trains
nothing) and writes ``results/tables/causes.csv``: the claim, the arm, seeds
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
from pathlib import Path
from typing import Optional

import pandas as pd

from scrpn.evaluation.proposal_stats import load_stats, missed_fractions
from scrpn.outputs import atomic_write_text

from .experiments import (REGISTRY, Arm, all_arms, experiment_runs, experiment_verdicts, run_study,
                          schedule_waiting)
from .runs import Study, run_cost
from .stats import Runs, difference, metric, sample_sd
from .verdicts import stage1_learns

__all__ = ["ARMS", "causes_table", "detector_logs", "figure_names", "stage1_logs", "summary", "write_causes"]

ARMS: tuple[Arm, ...] = all_arms()
METRICS = ("AR100", "AR1000", "AR_S", "AP")
WAITING = "pending: S* not chosen yet"   # an arm at the converged profile before experiment 10's phase 1 chose it


def figure_names(arm: Arm) -> list[str]:
    """The diagnostic figures notebook 12 draws for an arm (``results/figures/``), as its
    experiment registered them (:attr:`Experiment.figures`): every proposal arm's Δ AR1000
    (``causes_ar1000``) and the objects it misses (``causes_missed_<n>``, registered by experiment
    2); Fig. 7 per IoU-mask reading (experiment 3); the stage-1 diagnostic through training where
    the rule reads "stage 1 learns"; the detectors' box AP and losses (experiment 8); the two
    geometries' ranking (experiment 7)."""
    return REGISTRY[arm.experiment].figure_names(arm)


def stage1_logs(study: Study, experiment: int) -> dict[str, list[list[dict]]]:
    """``row -> [each cached seed's log.jsonl records]`` for the rows of one experiment's arms
    (row and reference, in the order of its arms, on its dataset), the input of
    ``viz.cause_figures.stage1_margin_curves``. Trains nothing; rows without a cached seed are left out."""
    logs: dict[str, list[list[dict]]] = {}
    runs_of = experiment_runs(study)
    for arm in REGISTRY[experiment].arms:
        for row in (arm.row, arm.reference):
            label = row if arm.dataset in (None, study.dataset) else f"{row} ({arm.dataset})"
            if row is None or label in logs:
                continue
            where = runs_of.study_of(arm)
            if where is None:           # its profile is not chosen yet
                continue
            sub, name = run_study(where, row)
            if schedule_waiting(sub):
                continue
            seeds = [sub.training_log(name, s) for s in sub.seeds if sub.cached(name, s) is not None]
            if seeds:
                logs[label] = seeds
    return logs


def detector_logs(study: Study) -> dict[str, list[dict]]:
    """``row -> seed 0's log.jsonl records`` for the detector rows of the arms measured in box AP
    (experiment 8: each row's reference, then the row), the input of
    ``viz.cause_figures.causes_detectors``. Trains nothing; rows without a cached seed 0 are left out."""
    rows = (r for arm in ARMS if arm.metric == "AP" for r in (arm.reference, arm.row) if r)
    return {row: study.training_log(row, 0) for row in dict.fromkeys(rows) if study.cached(row, 0) is not None}


MISSED = {"missed_all": "all", "missed_S": "S", "missed_M": "M", "missed_L": "L", "missed_slender": "aspect>=4"}


def _missed(study: Study, row: Optional[str], seeds: list[int]) -> dict[str, float]:
    """Seed means of :func:`missed_fractions` (objects without a proposal at IoU 0.3 in the top
    1,000; experiment 2 registered them by size and aspect), NaN where a run has no stats."""
    found = []
    sub, name = run_study(study, row) if row else (study, row)
    for seed in seeds:
        path = sub.run_dir(name, seed) / "proposal_stats.npz"
        if path.is_file():
            found.append(missed_fractions(load_stats(path)))
    return {column: statistics.fmean(f[key] for f in found) if found else math.nan
            for column, key in MISSED.items()}


def causes_table(study: Study) -> pd.DataFrame:
    """One line per arm of :data:`ARMS` from the cached runs of ``study`` (nothing is trained)."""
    runs_of = experiment_runs(study)
    verdicts = experiment_verdicts(runs_of)
    lines, counted = [], set()
    for arm in ARMS:
        runs, arm_study = runs_of(arm), runs_of.study_of(arm)
        pending = arm_study is None             # its profile (a function of the runs) names none yet
        arm_study = arm_study or study
        measured = metric(runs, arm.metric)
        line = {"experiment": arm.experiment, "claim": arm.claim, "arm": arm.arm, "variant": arm.variant,
                "dataset": arm.dataset or "synthshapes", "row": arm.row or "", "reference": arm.reference,
                "metric": arm.metric}
        records = runs(arm.row) if arm.row else []
        line["seeds"] = len(records)
        for key in METRICS:
            values = metric(runs, key)(arm.row) if arm.row else []
            line[f"{key}_mean"] = statistics.fmean(values) if values else math.nan
            line[f"{key}_sd"] = sample_sd(values)
        # the arm's Δ in its own metric; the other delta column stays empty (se and resolved
        # belong to whichever is filled; one-seed rows against one-seed rows have no se)
        ours, ref = measured(arm.row) if arm.row else [], measured(arm.reference)
        if arm.reference_seeds is not None:      # the reference's seeds 0 .. n-1 only
            ref = [r[arm.metric] for r in runs(arm.reference)
                   if int(r["seed"]) < arm.reference_seeds and r.get(arm.metric) is not None]
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
        # (keyed by the runs a row names, so experiment 10's `s8x_rpn` on its curve and `rpn` at
        # the converged profile of its Table I count once)
        keys = {row: (arm.experiment, *_run_key(arm_study, row)) for row in arm.cost_rows}
        new_rows = [row for row in arm.cost_rows if keys[row] not in counted]
        counted.update(keys[row] for row in new_rows)
        costed = [r for row in new_rows for r in runs(row)]
        line["machine_hours"] = sum(run_cost(r)[0] for r in costed) / 3600
        line["cpu_hours"] = sum(run_cost(r)[1] for r in costed) / 3600
        line["verdict"] = verdicts.get(arm.experiment, "pending")
        wanted = REGISTRY[arm.experiment].seeds_of(arm, line["verdict"])
        line["status"] = _status(arm, runs, min(wanted, len(study.seeds)),
                                 decided=not line["verdict"].startswith("pending"))
        if pending or schedule_waiting(arm_study):    # experiment 10's arms before their rung is chosen
            line["status"] = WAITING
        line["figures"] = ";".join(figure_names(arm))
        lines.append(line)
    return pd.DataFrame(lines)


def _run_key(study: Study, row: str) -> tuple:
    """The runs ``row`` names in ``study``, whatever the name: ``(dataset, rung or profile, row)``;
    a run name at a rung (``s8x_rpn``) and the row at a profile that is that rung (``rpn`` at
    ``converged`` = 8x) give one key."""
    sub, name = run_study(study, row)
    rung = None if schedule_waiting(sub) else sub.schedule_rung()
    return (sub.dataset or "synthshapes", rung or sub.profile, name)


def _status(arm: Arm, runs: Runs, wanted: int, decided: bool) -> str:
    """"done", "<n> of <wanted> seeds", "not run", "not needed (verdict read)" or "not built";
    ``wanted``: the seeds its experiment registered for it (:meth:`Experiment.seeds_of`). An arm
    is as far as the least complete of the rows it trains (:attr:`Arm.cost_rows`; its row for the
    first study's arms): experiment 5's L2 and experiment 6's P0 compare a first-study row against
    a new reference, and are not run until that reference is. An arm whose missing rows have no
    run once its experiment has a verdict was dropped (an earlier arm answered its question; the
    REPORT says so): experiment 4's R+S1 shares its complete reference with S1."""
    if arm.row is None:
        return "not built"
    rows = arm.cost_rows or (arm.row,)
    counts = ((len(runs(row)), wanted, row) for row in rows)
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
            if line["status"] in ("not built", "not run", "not needed (verdict read)", WAITING):
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
