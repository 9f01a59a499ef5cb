"""``results/REPORT.md``, rendered from its sources: ``results/report/NN_<section>.md``.

The REPORT is the study's record: pre-registrations, verdicts, the paper's tables beside ours,
costs. Every number in it is a field of the template language (:mod:`.template`) that reads a
committed record (:mod:`.fields`, and ``fields_<topic>.py`` beside it; the paper tables' compact
rows: :mod:`.compact`), so the REPORT
cannot drift from the runs, and a reader can see in the source where each number comes from.

One source file per top-level section, in file-name order; the REPORT is their rendered texts,
each ending in one newline, separated by one blank line. ``python -m scrpn.study.prose --readme``
(and ``scrpn reproduce --no-train``) writes it; ``tests/test_report.py`` re-renders it, compares,
and scans the sources for numbers typed by hand.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from .fields import Num, Results, load_field_modules
from .template import TemplateError, render_text

__all__ = ["Num", "Results", "SOURCES", "TemplateError", "load_field_modules", "render_report", "sources",
           "write_report"]

SOURCES = Path("results") / "report"


def sources(root: str | Path) -> list[Path]:
    """The REPORT's source files, in order."""
    found = sorted((Path(root) / SOURCES).glob("*.md"))
    if not found:
        raise FileNotFoundError(f"{Path(root) / SOURCES}: no REPORT sources (*.md)")
    return found


def render_report(root: str | Path, extra: Optional[Mapping[str, Callable[..., Any]]] = None) -> str:
    """The REPORT's text: every source rendered, joined by one blank line."""
    root = Path(root)
    fields = {**Results(root).fields(), **(extra or {})}
    parts = [render_text(path.read_text(encoding="utf-8"), fields, str(path.relative_to(root))).rstrip("\n") + "\n"
             for path in sources(root)]
    return "\n".join(parts)


def write_report(root: str | Path, extra: Optional[Mapping[str, Callable[..., Any]]] = None) -> Path:
    """Render the REPORT and write ``results/REPORT.md`` (nothing is written when a field fails)."""
    text = render_report(root, extra)
    path = Path(root) / "results" / "REPORT.md"
    path.write_text(text, encoding="utf-8")
    return path
