"""A paper table at the converged schedule S* beside the same table at the mini schedule (issue 38).

Experiment 10 re-reads Tables I, III and IV at the schedule rung S* that its phase 1 chooses
(``configs/converged/_base.yaml``, the ``converged`` profile of :mod:`scrpn.study.runs`).
Notebooks 01, 03 and 04 show, beside each mini table, one compact table per paper row:

* for AR100, AR1000 and AR_S (those the table has): the mean ± sample sd over the seeds at mini
  and at S*, the paper's value, and Δ(S* − mini) with its standard error
  sqrt(s_S*²/n_S* + s_mini²/n_mini) (:func:`scrpn.study.stats.difference_se`), marked
  "resolved" only at |Δ| >= 2.5 se (:data:`scrpn.study.stats.RESOLVED_SE`);
* the seeds each side has.

Both sides are built by :func:`scrpn.study.tables.build_table` from the cached runs only
(``train_missing=False``): rendering never trains, and a run not trained yet reads "pending".
Until S* is chosen there is no S* side: :func:`chosen_rung` is None and the notebooks print one
line saying so (with phase 1's learning curve so far, :func:`phase1_text`).

This module is part of the study's core: it imports no cause experiment (experiment 10's rule,
which decides S*, is read by the caller; ``tests/test_architecture.py``).
``tests/test_schedules.py`` pins the table and the lines on hand-made runs.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pandas as pd

from .runs import CONVERGED, ScheduleNotChosen, Study
from .stats import RESOLVED_SE, Difference, difference_se
from .tables import TABLES, build_table

__all__ = ["SCHEDULE_METRICS", "chosen_rung", "phase1_text", "profile_study", "schedule_frames",
           "schedule_status", "schedule_table"]

SCHEDULE_METRICS = ("AR100", "AR1000", "AR_S")
MINI = "mini"


def chosen_rung(config_root: str | Path = "configs", dataset: Optional[str] = None) -> Optional[str]:
    """The rung the ``converged`` profile names ("4x" ...), or None while S* is not chosen."""
    try:
        return Study(profile=CONVERGED, config_root=config_root, dataset=dataset).schedule_rung()
    except ScheduleNotChosen:
        return None


def profile_study(study: Study, profile: str) -> Study:
    """``study`` at another profile, reading cached runs only: never trains, never retrains, and
    keeps its messages to itself (a rendering's outputs must not depend on the checkout's history)."""
    return replace(study, profile=profile, train_missing=False, retrain=False, log=lambda message: None)


def schedule_frames(name: str, study: Study, profile: str = CONVERGED,
                    paper_dir: str | Path = "results/paper") -> tuple[pd.DataFrame, Optional[pd.DataFrame]]:
    """(table ``name`` at mini, the same at ``profile``; None while that profile's rung is not
    chosen), both :func:`build_table` frames of the cached runs of ``study``'s seeds and dataset."""
    spec = TABLES[name]
    mini = build_table(spec, profile_study(study, MINI), paper_dir)
    other = profile_study(study, profile)
    try:
        other.schedule_rung()
    except ScheduleNotChosen:
        return mini, None
    return mini, build_table(spec, other, paper_dir)


def _mean_sd(mean: float, sd: float) -> str:
    if not math.isfinite(mean):
        return "pending"
    return f"{mean:.1f}" + (f" ± {sd:.1f}" if math.isfinite(sd) else "")


def schedule_table(name: str, mini: pd.DataFrame, at_s: pd.DataFrame, rung: str,
                   metrics: Sequence[str] = SCHEDULE_METRICS) -> pd.DataFrame:
    """One line per row of ours of table ``name``: the row, its config, per metric mini, S*
    (``rung``), the paper and Δ(S* − mini) [se] (module docstring), then the seeds of each side.
    ``mini`` and ``at_s`` are :func:`build_table` frames (or their CSVs read back)."""
    spec = TABLES[name]
    shown = [m for m in metrics if m in spec.metrics]
    lines = []
    for i, (values, config) in enumerate(spec.rows):
        if config is None:
            continue
        a, b = at_s.iloc[i], mini.iloc[i]
        n_s, n_mini = int(a["seeds"]), int(b["seeds"])
        line = {"row": " / ".join(str(v) for v in values), "config": config}
        for m in shown:
            mean_s, sd_s = float(a[f"{m}_mean"]), float(a[f"{m}_std"])
            mean_mini, sd_mini = float(b[f"{m}_mean"]), float(b[f"{m}_std"])
            paper = float(b[f"{m}_paper"])
            line[f"{m} mini"] = _mean_sd(mean_mini, sd_mini)
            line[f"{m} {rung} (S*)"] = _mean_sd(mean_s, sd_s)
            line[f"{m} paper"] = f"{paper:.1f}" if math.isfinite(paper) else ""
            if n_s and n_mini and math.isfinite(mean_s) and math.isfinite(mean_mini):
                step = Difference(mean_s - mean_mini, difference_se(sd_s, n_s, sd_mini, n_mini), min(n_s, n_mini))
                line[f"Δ {m} {rung} − mini [se]"] = step.text()
            else:
                line[f"Δ {m} {rung} − mini [se]"] = ""
        line["seeds mini"], line[f"seeds {rung}"] = n_mini, n_s
        lines.append(line)
    return pd.DataFrame(lines)


def schedule_status(name: str, at_s: pd.DataFrame, rung: str, profile: str = CONVERGED) -> str:
    """One line: which rung the S* side reads and how many of its (row, seed) runs exist."""
    spec = TABLES[name]
    ours = [i for i, (_, config) in enumerate(spec.rows) if config is not None]
    done = int(sum(int(at_s.iloc[i]["seeds"]) for i in ours))
    wanted = done + int(sum(int(at_s.iloc[i]["pending"]) for i in ours))
    where = ("`configs/converged/_base.yaml`" if profile == CONVERGED else
             f"the `{profile}` profile, experiment 10's registered rung for this table")
    return (f"**S\\* = {rung}** ({where}): {done} of the {wanted} (row, seed) runs of "
            f"{spec.title.split(':')[0]} at {rung} exist so far; the others read \"pending\". Δ is "
            f"S\\* minus mini, resolved at {RESOLVED_SE:g} standard errors of the difference.")


def phase1_text(curve: Mapping[str, Mapping[int, float]], next_rung: Optional[int],
                names: Mapping[str, str], rungs: Sequence[int] = (1, 2, 4, 8, 16), read_as: str = "") -> str:
    """The line shown while S* is not chosen: phase 1's AR1000 (seed 0) per method and rung so far
    (``curve[method][factor]``, 1 = the mini run), and the rung experiment 10's rule asks for
    next (``next_rung``; None when the rule is decided but ``_base.yaml`` not yet written);
    ``read_as`` names runs the rule reads for a rung under another name (experiment 2's control)."""
    per_method = "; ".join(
        f"{names.get(m, m)} " + ", ".join(f"{f}x {points[f]:.1f}" for f in rungs if f in points)
        for m, points in curve.items() if points)
    if next_rung is None:
        following = "The registered rule has decided; `configs/converged/_base.yaml` is not written yet."
    elif next_rung == 1:
        following = "The registered rule reads the mini runs (1x) first."
    else:
        following = f"The registered rule asks for the {next_rung}x rung next."
    return (f"**S\\* not chosen yet** (no `configs/converged/_base.yaml`): experiment 10's phase 1 reads "
            f"seed 0's AR1000 at each rung (1x: the mini runs{read_as}); so far {per_method or 'no run'}. {following} "
            f"The table at S\\* appears here once S\\* is chosen and its runs exist.")
