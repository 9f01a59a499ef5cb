"""Table I at experiment 10's converged schedule S*, as README and the REPORT show it: the
frame of the committed runs at S* (:func:`table1_at_s`) and its view beside the mini schedule's
AR1000 (:func:`table1_view`). ``tests/test_schedules.py`` pins both states (before S* is chosen,
and after)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from ..runs import CONVERGED, Study
from ..tables import TABLES, build_table

__all__ = ["MINI_AR1000", "TABLE_I", "mean_sd", "table1_at_s", "table1_view"]

TABLE_I = "table01_proposals_coco"


def table1_at_s(tables_dir: Path, config_root: str | Path) -> Optional[tuple[str, pd.DataFrame]]:
    """(S*'s rung, Table I at S* as :func:`build_table` returns it) from the committed runs
    (``tables_dir``'s parent) at experiment 10's ``converged`` profile, seeds 0-2; None while S*
    is not chosen or none of its Table I runs exists. Reads cached runs only, trains nothing."""
    from ..schedules import chosen_rung, profile_study

    rung = chosen_rung(config_root)
    if rung is None:
        return None
    results = Path(tables_dir).parent
    study = profile_study(Study(seeds=(0, 1, 2), results_dir=results, config_root=config_root), CONVERGED)
    frame = build_table(TABLES[TABLE_I], study, results / "paper")
    return (rung, frame) if int(frame["seeds"].sum()) > 0 else None


def mean_sd(row: Any, metric: str) -> str:
    mean, std = float(row[f"{metric}_mean"]), float(row[f"{metric}_std"])
    return "pending" if not math.isfinite(mean) else f"{mean:.1f}" + (f" ± {std:.1f}" if math.isfinite(std) else "")


MINI_AR1000 = "AR1000 at mini (seeds)"


def table1_view(frame: pd.DataFrame, mini: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Table I (a :func:`build_table` frame) as README shows it: one line per method of ours
    ("mean ± sd", "pending"), then the paper's RPN and SC-RPN. With ``mini`` (Table I at the
    mini schedule, ``frame`` being S*'s): one more column, the mini AR1000 and its seed count."""
    metrics = ("AR100", "AR300", "AR1000", "AR_S", "AR_M", "AR_L")
    at_mini = {} if mini is None else {r["config"]: r for _, r in mini.iterrows() if str(r["config"]) != "nan"}
    rows = []
    for _, row in frame[frame["config"].fillna("") != ""].iterrows():
        cells = {"method (config)": f"{row['method']} (`{row['config']}`)", "seeds": int(row["seeds"]),
                 **{m: mean_sd(row, m) for m in metrics}}
        if mini is not None:
            other = at_mini.get(row["config"])
            cells[MINI_AR1000] = "" if other is None else f"{mean_sd(other, 'AR1000')} ({int(other['seeds'])})"
        rows.append(cells)
    paper = {r["method"]: r for _, r in frame.iterrows()}
    if "RPN" in paper and "SC-RPN" in paper:
        both = {m: f"{float(paper['RPN'][f'{m}_paper']):.1f} / {float(paper['SC-RPN'][f'{m}_paper']):.1f}"
                for m in metrics}
        rows.append({"method (config)": "paper, COCO, ResNet50-FPN: RPN / SC-RPN", "seeds": "", **both,
                     **({} if mini is None else {MINI_AR1000: both["AR1000"]})})
    return pd.DataFrame(rows)
