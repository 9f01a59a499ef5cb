"""Print results/REPORT.md's compact tables from the committed runs (nothing is trained).

Usage: .venv/bin/python scripts/report_tables.py [table_name ...]   (default: every table)

The tables are :mod:`scrpn.study.report.compact`'s (its docstring says what each cell is); the
REPORT prints their rows through its ``row`` field (``results/report/``).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrpn.study import Study  # noqa: E402
from scrpn.study.report.compact import markdown  # noqa: E402,F401
from scrpn.study.stats import difference_se  # noqa: E402,F401  (one formula, also for the verdicts)
from scrpn.study.tables import TABLES  # noqa: E402


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        sys.exit(f"report_tables.py: unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}")
    study = Study(profile="mini", seeds=[0, 1, 2], train_missing=False, log=lambda message: None)
    for name in names or list(TABLES):
        print(markdown(name, study))


if __name__ == "__main__":
    main(sys.argv[1:])
