"""Print the pre-registered cause experiments' comparisons and verdicts from the committed runs.

Usage: .venv/bin/python scripts/cause_report.py

Reads results/runs/ only (nothing is trained; missing runs are reported as pending), applies the
rules registered in results/REPORT.md ("Pre-registered: tracing each non-reproduction to a
cause"), each experiment's ``report`` in the registry (``scrpn/study/experiments/``), and prints
Markdown for the REPORT.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrpn.study import Study  # noqa: E402
from scrpn.study.experiments import REGISTRY, experiment_runs  # noqa: E402

SEEDS = (0, 1, 2)


def main() -> None:
    runs_of = experiment_runs(Study(profile="mini", seeds=SEEDS, train_missing=False))
    for number, experiment in sorted(REGISTRY.items()):
        print(f"\n### {experiment.title}\n")
        print("\n".join(experiment.report(runs_of(experiment))))
        for amendment in experiment.amendments:     # as registered, with its date
            print(f"\n*Amendment ({amendment.date}):* {amendment.text}.")


if __name__ == "__main__":
    main()
