"""Print results/REPORT.md's compact tables from the committed runs (nothing is trained).

Usage: .venv/bin/python scripts/report_tables.py [table_name ...]   (default: every table)

Each line: the paper's row, our value as "mean ± std (n seeds)" and the paper's, for the table's
headline metrics, and the change against the table's reference row (its first line with a
result in the same group: same first key, or for detector tables the RPN row of the same detector
and number of proposals), ours and the paper's: at this scale only signs and rough sizes of such
changes are comparable with the paper. Where both rows have two or more seeds the change carries
its standard error in brackets, sqrt(s1²/n1 + s2²/n2) (sample standard deviations s, seed counts
n): a change of two to three standard errors or more is told from seed noise. Rows without a run
say "pending".
"""
from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrpn.study import Study  # noqa: E402
from scrpn.study.provenance import commits_line  # noqa: E402
from scrpn.study.tables import TABLES, build_table, study_rows  # noqa: E402
from scrpn.study.stats import difference_se  # noqa: E402,F401  (one formula, also for the verdicts)

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


def markdown(name: str, study: Study) -> str:
    spec = TABLES[name]
    frame = build_table(spec, study, Path(study.results_dir) / "paper")
    metrics = [m for m in HEADLINE["AP" if "AP" in spec.metrics else "AR"] if m in spec.metrics]
    key = metrics[1] if metrics[0] == "AR100" else metrics[0]
    head = [" / ".join(spec.keys)] + [f"{m} ours (paper)" for m in metrics] + [f"Δ{key} vs reference: ours [se] (paper)"]
    lines = [f"**{spec.title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    pending = []
    for _, row in frame.iterrows():
        if row["config"] == "":
            continue  # cited-only rows (Table I's non-RPN methods)
        if math.isnan(row[f"{key}_mean"]):
            pending.append(" / ".join(str(row[k]) for k in spec.keys) + f" (`{row['config']}`)")
            continue
        ref = _reference(name, frame, row, spec.keys, key)
        cells = [" / ".join(str(row[k]) for k in spec.keys)]
        for m in metrics:
            cells.append(f"{_cell(row[f'{m}_mean'], row[f'{m}_std'], row['seeds'])} ({row[f'{m}_paper']:.1f})")
        cells.append(_change(row, ref, key))
        lines.append("| " + " | ".join(cells) + " |")
    if pending:
        lines += ["", "Pending: " + "; ".join(pending) + "."]
    lines += ["", f"Code: runs from commits {commits_line(_records(spec, study))} "
                  "(\"unknown\": trained before runs recorded their commit)."]
    return "\n".join(lines) + "\n"


def _records(spec, study: Study) -> list[dict]:
    """Every computed run of the table (the seeds its rows use)."""
    sub = study if spec.dataset is None else dataclasses.replace(study, dataset=spec.dataset)
    seeds = list(study.seeds) if spec.all_seeds else list(study.seeds)[:1]
    return [r for r in sub.runs(study_rows(spec), seeds) if not r.get("missing")]


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        sys.exit(f"report_tables.py: unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}")
    study = Study(profile="mini", seeds=[0, 1, 2], train_missing=False, log=lambda message: None)
    for name in names or list(TABLES):
        print(markdown(name, study))


if __name__ == "__main__":
    main(sys.argv[1:])
