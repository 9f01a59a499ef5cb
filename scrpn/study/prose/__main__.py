"""``python -m scrpn.study.prose --readme``: rewrite README's rendered blocks and render the whole
``results/REPORT.md`` from its sources (``results/report/``), from the committed runs and tables."""
from __future__ import annotations

import sys

from ..report.blocks import write_report_blocks
from .readme import write_readme_blocks


def main(argv: list[str]) -> int:
    if argv != ["--readme"]:
        print("usage: python -m scrpn.study.prose --readme   (rewrites the rendered blocks of README.md "
              "and renders results/REPORT.md)", file=sys.stderr)
        return 2
    write_readme_blocks()
    write_report_blocks()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
