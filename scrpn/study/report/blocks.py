"""The REPORT's rendered blocks (``{{ block("name") }}`` in its sources): ``cost``, the "CPU time"
table (:mod:`.cost`), and ``converged``, experiment 10's curve, Table I at S* and each claim's
verdicts at mini and at S*, read by the registered rules from the committed runs. Also
:func:`write_report_blocks`, which renders the whole REPORT with them
(``python -m scrpn.study.prose --readme``); ``tests/test_prose_numbers.py`` and
``tests/test_report.py`` re-render and compare."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..prose.table1 import TABLE_I, table1_at_s, table1_view
from ..runs import Study
from ..stats import RESOLVED_SE
from ..tables import markdown_table
from . import write_report
from .cost import cost_table

__all__ = ["REPORT_BLOCKS", "report_block", "write_report_blocks"]

REPORT_BLOCKS = ("cost", "converged")


def _converged(results_dir: Path, config_root: str | Path = "configs") -> str:
    """REPORT's experiment 10 block (issue 38): phase 1's curve and S*, Table I at S* beside the
    mini AR1000, then each claim's mini and S* verdicts (Δ [se]) and whether it is
    schedule-robust, all read by the registered rules from the committed runs (pending where a
    claim's rows lack their seeds); nothing trains."""
    from ..experiments import REGISTRY, experiment_runs
    from ..experiments.e10_converged import report_sections

    study = Study(profile="mini", seeds=(0, 1, 2), results_dir=results_dir, config_root=config_root,
                  train_missing=False, log=lambda message: None)
    experiment = REGISTRY[10]
    parts = report_sections(experiment_runs(study)(experiment))
    at_s = table1_at_s(results_dir / "tables", config_root)
    table = ("Table I at S\\* has no run yet." if at_s is None else
             f"**Table I at S\\* = {at_s[0]}** (SynthShapes val, mean ± sample sd over the seeds so far; "
             "the mini schedule's AR1000 in the last column):\n\n"
             + markdown_table(table1_view(at_s[1], pd.read_csv(results_dir / "tables" / f"{TABLE_I}.csv"))))
    return "\n".join([
        "**Phase 1, the learning curve** (seed 0's AR1000 at each rung; 1x is the mini run; figure "
        "`results/figures/learning_curve_10.png`):", "", *parts["curve"], "", table, "",
        f"**Each claim, at mini and at S\\*** (Δ [se] over seeds 0-2, resolved at {RESOLVED_SE:g} se; a claim "
        "reads pending until both its rows have their seeds at the rung):", "", *parts["claims"], "",
        *parts["verdict"]])


def report_block(name: str, results_dir: str | Path = "results") -> str:
    """The text of REPORT's ``<!-- name-start -->`` block, rendered from the committed runs."""
    if name == "cost":
        return cost_table(Path(results_dir))
    if name == "converged":
        return _converged(Path(results_dir), Path(results_dir).parent / "configs")
    raise KeyError(name)


def write_report_blocks(report: str | Path = "results/REPORT.md", results_dir: str | Path = "results") -> None:
    """Render the whole REPORT from its sources (``results/report/``, :mod:`scrpn.study.report`), its
    rendered blocks included (``python -m scrpn.study.prose --readme``)."""
    root = Path(results_dir).resolve().parent
    written = write_report(root, {"block": lambda name: report_block(name, results_dir)})
    if written.resolve() != Path(report).resolve():
        raise ValueError(f"{report}: the REPORT is written to {written}")
