"""Print the pre-registered cause experiments' comparisons and verdicts from the committed runs.

Usage: .venv/bin/python scripts/cause_report.py

Reads results/runs/ only (nothing is trained; missing runs are reported as pending), applies the
rules registered in results/REPORT.md ("Pre-registered: tracing each non-reproduction to a
cause") through scrpn/study/verdicts.py, and prints Markdown for the REPORT.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrpn.study import Study  # noqa: E402
from scrpn.study.verdicts import MASK_READINGS, difference, experiment3, stage1_learns  # noqa: E402

SEEDS = (0, 1, 2)


def main() -> None:
    study = Study(profile="mini", seeds=SEEDS, train_missing=False)
    records = {}

    def runs(row: str) -> list[dict]:
        if row not in records:
            found = [study.run(row, s) for s in SEEDS]
            records[row] = [r for r in found if not r.get("missing")]
        return records[row]

    def metric(key: str):
        return lambda row: [r[key] for r in runs(row) if r.get(key) is not None]

    print("### Experiment 3: the IoU mask's readings\n")
    out = experiment3(metric("AR1000"), metric("iou_mask_spearman"))
    print("| reading | row | AR1000 IoU-aware - classification only (paired) | AR1000 - t3_sads | Spearman ρ | works |")
    print("|---|---|---|---|---|---|")
    rows = {name: aware for name, (aware, _) in MASK_READINGS.items()}
    for name, result in out["readings"].items():
        if result.get("pending"):
            print(f"| {name} | `{rows[name]}` | pending ({len(runs(rows[name]))} seeds) | | | |")
            continue
        print(f"| {name} | `{rows[name]}` | {result['iou_aware_vs_cls_only'].text(2)} | "
              f"{result['vs_t3_sads'].text(1)} | {result['spearman']:.2f} | "
              f"{'yes' if result['works'] else 'no'} |")
    print(f"\nVerdict (registered rule): **{out['verdict']}**.\n")
    for row in (*rows.values(), "t3_sads"):
        learns = stage1_learns(runs(row))
        if learns is not None:
            print(f"- `{row}`: stage 1 learns (decoded positives vs priors, last window): {learns}")

    print("\n### Experiment 1: Cascade RPN\n")
    rpn = metric("AR1000")("rpn")
    for row in ("x1a_cascade_mmdet_norm", "x1b_cascade_lr0005", "x1c_cascade_norm_lr", "x1d_cascade_faithful"):
        values = metric("AR1000")(row)
        if len(values) < 2:
            print(f"- `{row}`: pending ({len(values)} seeds)")
            continue
        d = difference(values, rpn)
        print(f"- `{row}`: AR1000 vs RPN {d.text()}, stage 1 learns: {stage1_learns(runs(row))}")


if __name__ == "__main__":
    main()
