"""What the study cost: every committed run's machine and CPU hours per group of runs, from the
runs' records (:func:`scrpn.study.tables.runs_summary`, :func:`scrpn.study.runs.run_cost`): the
REPORT's "CPU time" table (:func:`cost_table`) and README's one line (:func:`cost_line`).
``tests/test_prose_numbers.py`` pins the groups and the sums on hand-made records."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from ..experiments import REGISTRY
from ..tables import TABLES, markdown_table

__all__ = ["BF16_PREFIX", "COST_GROUPS", "cost_group", "cost_line", "cost_table", "run_names"]

BF16_PREFIX = "bf16_"


def cost_group(run: str, table_runs: set[str], cause_runs: set[str]) -> str:
    """The CPU-time table's group of a committed run directory ``results/runs/<run>``, by name, first
    match wins: ``s<rung>_*`` experiment 10 (issue 38); ``bf16_*`` issue 37; a row that one of
    experiments 1-9 added (:attr:`Arm.cost_rows`, as ``causes.csv`` counts it: Table X's corrected
    DeepForest rows included) issue 18; a row of the paper's tables (:data:`TABLES`) the study;
    anything else (superseded first-study rows kept under a ``diag_*`` name, diagnostics) "other".
    ``tests/test_prose_numbers.py::test_cost_groups`` pins it on hand-picked names."""
    from ..runs import SCHEDULE_RUNGS

    if any(run.startswith(f"s{rung}_") for rung in SCHEDULE_RUNGS):
        return "converged"
    if run.startswith(BF16_PREFIX):
        return "bf16"
    if run in cause_runs:
        return "causes"
    if run in table_runs:
        return "tables"
    return "other"


COST_GROUPS = {
    "tables": "the paper's Tables I-X, their rows as committed now (rows retrained after a verdict of "
              "issue 18 included, except those below)",
    "causes": "issue 18's cause experiments 1-9 (`x*`, `sc_rpn_notest`, `ga_rpn_nofilter`, ...; and Table X's "
              "DeepForest rows that experiment 9 retrained; per arm in `results/tables/causes.csv`)",
    "other": "superseded first-study rows kept under a `diag_*` name, and diagnostics outside the tables",
    "bf16": "issue 37's bfloat16 rows (`bf16_*`)",
    "converged": "issue 38's converged regime (experiment 10, `s<n>x_*`)",
}


def run_names() -> tuple[set[str], set[str]]:
    """(run names of the paper's tables' rows, run names the cause experiments 1-9 added)."""
    from ..experiments import all_arms

    def name(row: str, dataset: Optional[str]) -> str:
        return row if dataset in (None, "synthshapes") else f"{dataset}_{row}"

    tables = {name(row, spec.dataset) for spec in TABLES.values() for _, row in spec.rows if row}
    causes = {name(row, arm.dataset or REGISTRY[arm.experiment].dataset)
              for arm in all_arms() if arm.experiment != 10 and arm.profile is None for row in arm.cost_rows}
    return tables, causes


def cost_table(results_dir: Path) -> str:
    """REPORT's "CPU time" table: every committed run's machine and CPU hours
    (:func:`scrpn.study.tables.runs_summary`, :func:`scrpn.study.runs.run_cost`), per
    :func:`cost_group`, and the detector rows' minutes per run."""
    from ..tables import runs_summary

    summary = runs_summary(results_dir)
    if summary.empty:
        return "No committed runs."
    # the run directories in runs_summary's order (its ``name`` is the record's row, not the directory)
    summary["run"] = [p.parent.parent.name for p in sorted(Path(results_dir, "runs").glob("*/seed*/metrics.json"))]
    tables, causes = run_names()
    summary["group"] = [cost_group(run, tables, causes) for run in summary["run"]]
    rows = []

    def line(label: str, part: pd.DataFrame) -> dict:
        unrecorded = part["cpu_seconds"].isna()
        return {"what": label, "runs": len(part), "machine hours (wall)": f"{part.cost_seconds.sum() / 3600:.1f}",
                "CPU-hours (recorded)": f"{part.cost_cpu_seconds.sum() / 3600:.1f}",
                "runs without a CPU record (their machine hours)":
                    f"{int(unrecorded.sum())} ({part.cost_seconds[unrecorded].sum() / 3600:.1f})"}

    for key, label in COST_GROUPS.items():
        part = summary[summary["group"] == key]
        if len(part):
            rows.append(line(label, part))
    total = line("**in all**", summary)
    rows.append({k: (v if k == "what" else f"**{v}**") for k, v in total.items()})
    detectors = summary[summary["run"].str.startswith(("det_double_head_", "det_cascade_rcnn_"))]
    minutes = (f" A Double-Head or Cascade R-CNN detector row took {detectors.cost_seconds.min() / 60:.0f}-"
               f"{detectors.cost_seconds.max() / 60:.0f} minutes." if len(detectors) else "")
    return (markdown_table(pd.DataFrame(rows)) + "\n\n"
            f"{len(summary)} committed runs in `results/runs/` ({summary['run'].nunique()} rows). A run without a "
            "CPU record predates the trainer's CPU count and counts 0 CPU-hours here; at most it used both "
            "cores for its wall time." + minutes)


def cost_line(results_dir: Path) -> str:
    """README's one line on cost: a Table row's run in minutes (median and range) and the whole
    study's hours, from the runs' records (:func:`cost_table`'s groups)."""
    from ..tables import runs_summary

    summary = runs_summary(results_dir)
    if summary.empty:
        return "No committed runs yet."
    summary["run"] = [p.parent.parent.name for p in sorted(Path(results_dir, "runs").glob("*/seed*/metrics.json"))]
    tables, causes = run_names()
    rows = summary[[cost_group(run, tables, causes) == "tables" for run in summary["run"]]].cost_seconds / 60
    return (f"A run of one of the paper's tables' rows took {rows.median():.0f} minutes of wall time on the "
            f"2-core machine (median over {len(rows)} runs; {rows.min():.0f} to {rows.max():.0f}); the "
            f"{len(summary)} committed runs took {summary.cost_seconds.sum() / 3600:.1f} machine hours in all.")
