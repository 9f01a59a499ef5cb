"""Print the pre-registered cause experiments' comparisons and verdicts from the committed runs.

Usage: .venv/bin/python scripts/cause_report.py [--posr-rounded-row]
(``--posr-rounded-row`` prints only the row experiment 4 trains last, R under the S arm in which
stage 1 learns with the larger margin, or nothing while that is not decided.)

Reads results/runs/ only (nothing is trained; missing runs are reported as pending), applies the
rules registered in results/REPORT.md ("Pre-registered: tracing each non-reproduction to a
cause") through scrpn/study/verdicts.py, and prints Markdown for the REPORT.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrpn.study import Study  # noqa: E402
from scrpn.study.causes import cached_runs, metric, posr_rounded_row  # noqa: E402
from scrpn.study.verdicts import (GA_SCHEDULE_CONTROL, MASK_READINGS, experiment1, experiment2,  # noqa: E402
                                  experiment3, experiment4, experiment5, experiment6, experiment7,
                                  experiment7_pairs, experiment8, experiment9, stage1_learns)

SEEDS = (0, 1, 2)


def cached(dataset: str | None = None):
    """``row -> its cached runs' records`` (seeds 0-2) of the mini study on ``dataset``."""
    return cached_runs(Study(profile="mini", seeds=SEEDS, dataset=dataset, train_missing=False))


def main() -> None:
    if sys.argv[1:] == ["--posr-rounded-row"]:   # for run_causes.sh: the R row experiment 4 needs next
        print(posr_rounded_row(cached()) or "")
        return
    runs, forest = cached(), cached("deepforest")

    print("### Experiment 3: the IoU mask's readings\n")
    out = experiment3(metric(runs, "AR1000"), metric(runs, "iou_mask_spearman"))
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

    ar = metric(runs, "AR1000")
    out1 = experiment1(ar, runs)
    print("\n### Experiment 1: Cascade RPN\n")
    for name, arm in {**out1["arms"], "E": out1["E"]}.items():
        if arm.get("pending"):
            print(f"- {name} `{arm['row']}`: pending ({len(runs(arm['row']))} seeds)")
        else:
            extra = f", seed sd {arm['sd']:.1f}" if "sd" in arm else ""
            print(f"- {name} `{arm['row']}`: AR1000 vs RPN {arm['vs_rpn'].text()}{extra}, "
                  f"stage 1 learns: {arm['stage1_learns']}, works: {'yes' if arm['works'] else 'no'}")
    print(f"\nVerdict (registered rule): **{out1['verdict']}**.")

    out2 = experiment2(ar)
    print("\n### Experiment 2: GA-RPN\n")
    for name, arm in out2["arms"].items():
        print(f"- {name} `{arm['row']}`: " + ("pending" if arm.get("pending") else
              f"AR1000 vs RPN {arm['vs_rpn'].text()}, recovers: {'yes' if arm['recovers'] else 'no'}"))
    control = out2["equal_schedule"]
    print(f"- G2 against its control `{GA_SCHEDULE_CONTROL}` (amendment; both 4x, one seed each): "
          + ("pending" if control is None else
             f"{control['delta']:+.1f} [{control['se']:.1f}], {control['reading']}"))
    print(f"\nVerdict (registered rule): **{out2['verdict']}**.")

    for title, out, key in (("Experiment 4: PosR steps", experiment4(ar, runs), "reproduces"),
                            ("Experiment 5: alignment steps", experiment5(ar), "reproduces"),
                            ("Experiment 6: points minus anchors", experiment6(ar), "reproduces")):
        print(f"\n### {title}\n")
        for name, step in out["steps"].items():
            rows = " - ".join(f"`{r}`" for r in step["rows"])
            if step.get("pending"):
                print(f"- {name} {rows}: pending")
                continue
            learns = f", stage 1 learns: {step['stage1_learns']}" if "stage1_learns" in step else ""
            print(f"- {name} {rows}: {step['step'].text()}{learns}, reproduces: {'yes' if step[key] else 'no'}")
        print(f"\nVerdict (registered rule): **{out['verdict']}**.")

    out7 = experiment7(ar)
    print("\n### Experiment 7: the peers in the paper's geometry (seed 0)\n")
    if out7["verdict"] != "pending":
        print("- mini order: " + " > ".join(out7["order_mini"]))
        print("- paper-geometry order: " + " > ".join(out7["order_paper"]))
        print("- minus RPN in the paper's geometry: " + ", ".join(
            f"{peer} {gap:+.1f}" for peer, gap in out7["peer_minus_rpn"].items()))
    print(f"\nVerdict (registered rule): **{out7['verdict']}**.")
    pairs = experiment7_pairs(ar)
    print("\nThree-seed follow-up (amendment of 2026-12-02), pair by pair:")
    for (a, b), pair in pairs["pairs"].items():
        sides = ", ".join(f"{name} {pair[name].text()}" for name in ("mini", "paper")
                          if pair[name] is not None)
        print(f"- {a} - {b}: {sides or 'fewer than two seeds'}: {pair['status']}")
    print(f"\nReading: **{pairs['reading']}**.")

    out8 = experiment8(metric(runs, "AP"))
    print("\n### Experiment 8: the detector gap at 3x (seed 0)\n")
    if out8["verdict"] != "pending":
        print(f"- gap today {out8['gap_today']:+.1f} AP, at 3x {out8['gap_3x']:+.1f} AP "
              f"(paper +4.0): {out8['closer_by']:+.1f} AP closer")
    print(f"\nVerdict (registered rule): **{out8['verdict']}**.")

    out9 = experiment9(metric(forest, "AR1000"), forest)
    print("\n### Experiment 9: the corrections on DeepForest\n")
    for claim, c in out9["corrections"].items():
        if c.get("pending"):
            print(f"- {claim} (`{c['row']}`): pending ({c['seeds']} seeds)")
            continue
        values = " / ".join(f"{v:.1f}" for v in metric(forest, "AR1000")(c["row"]))
        first = "n/a" if c["vs_first_study"] is None else c["vs_first_study"].text()
        print(f"- {claim} (`{c['row']}`): AR1000 {values}, seed sd {c['sd']:.1f}; vs `{c['reference']}` "
              f"{c['vs_reference'].text()}; vs the first study's row {first}; stage 1 learns: "
              f"{c['stage1_learns']}; criterion: {c['criterion']}; carries over: {'yes' if c['carries_over'] else 'no'}")
    print(f"\nVerdict (registered rule): **{out9['verdict']}**.")


if __name__ == "__main__":
    main()
