"""The REPORT's compact tables: a paper table's rows as "ours (paper)" cells and the change
against the row's reference, from the committed runs (nothing is trained).

Each line: the paper's row, our value as "mean ± std (n seeds)" and the paper's, for the table's
headline metrics, and the change against the table's reference row (its first line with a
result in the same group: same first key, or for detector tables the RPN row of the same detector
and number of proposals), ours and the paper's: at this scale only signs and rough sizes of such
changes are comparable with the paper. Where both rows have two or more seeds the change carries
its standard error in brackets, sqrt(s1²/n1 + s2²/n2) (sample standard deviations s, seed counts
n): a change of two to three standard errors or more is told from seed noise. Rows without a run
say "pending".

:func:`markdown` prints a whole table (``scripts/report_tables.py``); :func:`rows` gives each
computed row's line by config, which the REPORT's ``row`` field prints under a shorter label
(``scrpn.study.report.fields``). ``tests/test_report_tables.py`` pins both on hand-made runs.

A diagnostic row the REPORT shows beside a paper row (Table II's "Cascade RPN (first study)":
the ``diag_det_*_paper_norm`` runs) is a *stand-in*: :func:`rows`' ``stand_ins`` maps the paper
row's config to the stand-in's, which gets that paper row's values and reference and is keyed by
its own config; :func:`markdown` shows none (``tests/test_report_fields_detectors.py``).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping, Optional

import pandas as pd

from ..provenance import commits_line
from ..stats import difference_se
from ..tables import TABLES, build_table, study_rows

__all__ = ["GROUP_BY", "HEADLINE", "REFERENCE_CONFIG", "commits", "markdown", "rows", "table_frame"]

HEADLINE = {"AR": ("AR100", "AR1000", "AR_S"), "AP": ("AP", "AP50", "AP_S")}
GROUP_BY = {"table05_sads_hyperparameters": "hyperparameter",  # each sweep against the default
            "table06_iou_mask_training_samples": "train_with_sads",
            "table07_iou_mask_feature_map": "train_with_sads"}
REFERENCE_CONFIG = {"table05_sads_hyperparameters": "t3_sads"}  # the paper's defaults


def _cell(mean: float, std: float, seeds: int) -> str:
    if math.isnan(mean):
        return "pending"
    return f"{mean:.1f}" + ("" if math.isnan(std) else f" ± {std:.1f}") + f" ({seeds})"


def _change(row, ref, key: str) -> str:
    """"ours [se] (paper)" for row minus its reference row; "" for the reference itself."""
    if ref is None or ref["config"] == row["config"]:
        return ""
    se = difference_se(row[f"{key}_std"], row["seeds"], ref[f"{key}_std"], ref["seeds"])
    return (f"{row[f'{key}_mean'] - ref[f'{key}_mean']:+.1f}" + ("" if math.isnan(se) else f" [{se:.1f}]")
            + f" ({row[f'{key}_paper'] - ref[f'{key}_paper']:+.1f})")


def _reference(name, frame, row, keys, key):
    """The row this one is compared with (None: nothing computed yet)."""
    same = frame["config"] != ""
    if "proposal_method" in keys:  # detectors: the RPN row of the same detector and k
        same &= frame["proposal_method"] == "RPN"
        for k in keys:
            if k != "proposal_method":
                same &= frame[k] == row[k]
    elif name in GROUP_BY:
        same &= frame[GROUP_BY[name]] == row[GROUP_BY[name]]
    if name in REFERENCE_CONFIG:
        same &= frame["config"] == REFERENCE_CONFIG[name]
    done = frame[same & ~frame[f"{key}_mean"].isna()]
    return done.iloc[0] if len(done) else None


def table_frame(name: str, study: Any) -> pd.DataFrame:
    """Table ``name`` as :func:`scrpn.study.tables.build_table` builds it (the slow part of
    :func:`rows`: a caller printing several rows of one table builds it once and passes it)."""
    return build_table(TABLES[name], study, Path(study.results_dir) / "paper")


def _frame(name: str, study: Any, built: Optional[pd.DataFrame] = None,
           stand_ins: Optional[Mapping[str, str]] = None):
    spec = TABLES[name]
    table = table_frame(name, study) if built is None else built
    if stand_ins:
        unknown = sorted(set(stand_ins) - {row for _, row in spec.rows if row is not None})
        if unknown:
            raise KeyError(f"results/tables/{name}: no paper row of config {', '.join(map(repr, unknown))} "
                           "to stand in for")
        swapped = tuple((values, stand_ins[row]) for values, row in spec.rows if row in stand_ins)
        table = pd.concat([table, build_table(dataclasses.replace(spec, rows=swapped), study,
                                              Path(study.results_dir) / "paper")], ignore_index=True)
    metrics = [m for m in HEADLINE["AP" if "AP" in spec.metrics else "AR"] if m in spec.metrics]
    key = metrics[1] if metrics[0] == "AR100" else metrics[0]
    return spec, table, metrics, key


def rows(name: str, study: Any, stand_ins: Optional[Mapping[str, str]] = None,
         built: Optional[pd.DataFrame] = None) -> tuple[dict[str, list[str]], list[str]]:
    """``(config -> the row's cells, pending rows)``: cells are the label (the table's keys,
    " / "-joined), "ours (paper)" per headline metric and the change against the reference.
    ``stand_ins``: paper row's config -> a stand-in config, added after the table's rows (module
    docstring); ``built``: the table's :func:`table_frame`, when the caller has it already."""
    spec, frame, metrics, key = _frame(name, study, built, stand_ins)
    done: dict[str, list[str]] = {}
    pending = []
    for _, row in frame.iterrows():
        if row["config"] == "":
            continue  # cited-only rows (Table I's non-RPN methods)
        label = " / ".join(str(row[k]) for k in spec.keys)
        if math.isnan(row[f"{key}_mean"]):
            pending.append(f"{label} (`{row['config']}`)")
            continue
        ref = _reference(name, frame, row, spec.keys, key)
        cells = [label] + [f"{_cell(row[f'{m}_mean'], row[f'{m}_std'], row['seeds'])} ({row[f'{m}_paper']:.1f})"
                           for m in metrics]
        # a config that stands in two rows of a table (detector tables) keeps its first
        done.setdefault(row["config"] if row["config"] not in done else f"{row['config']}#{label}",
                        cells + [_change(row, ref, key)])
    return done, pending


def commits(name: str, study: Any) -> str:
    """The line naming the commits that trained the table's runs."""
    return (f"Code: runs from commits {commits_line(_records(TABLES[name], study))} "
            "(\"unknown\": trained before runs recorded their commit).")


def markdown(name: str, study: Any) -> str:
    """The whole compact table, its pending rows and its commits line."""
    spec, _, metrics, key = _frame(name, study)
    head = [" / ".join(spec.keys)] + [f"{m} ours (paper)" for m in metrics] + [f"Δ{key} vs reference: ours [se] (paper)"]
    lines = [f"**{spec.title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    done, pending = rows(name, study)
    lines += ["| " + " | ".join(cells) + " |" for cells in done.values()]
    if pending:
        lines += ["", "Pending: " + "; ".join(pending) + "."]
    lines += ["", commits(name, study)]
    return "\n".join(lines) + "\n"


def _records(spec: Any, study: Any) -> list[dict]:
    """Every computed run of the table (the seeds its rows use)."""
    sub = study if spec.dataset is None else dataclasses.replace(study, dataset=spec.dataset)
    seeds = list(study.seeds) if spec.all_seeds else list(study.seeds)[:1]
    return [r for r in sub.runs(study_rows(spec), seeds) if not r.get("missing")]

