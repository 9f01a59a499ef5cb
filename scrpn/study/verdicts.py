"""The vocabulary the pre-registered rules share (issue 18): "stage 1 learns", "first faithful step".

Each experiment's own rule lives with its record in ``scrpn/study/experiments/e<n>_*.py``; the
statistics they rest on (Δ, its standard error, "resolved") are the study's core,
:mod:`scrpn.study.stats`. Here, what several rules read the same way (the conventions are written
in ``results/REPORT.md``, "Pre-registered: tracing each non-reproduction to a cause"):

* :func:`stage1_learns`: the last logged ``diag_s1_pos_iou`` exceeds the last logged
  ``diag_s1_prior_iou`` by at least ``STAGE1_MARGIN`` (0.05) in the seed mean (experiments 1, 4,
  9 and 10).
* ``SD_LIMIT``: a working arm's AR1000 seed sd is below 2.0 (experiments 1 and 9).
* :func:`steps_of`, :func:`read_off`, :func:`first_in_order`: a "first faithful step that
  reproduces" rule (experiments 2, 4-6), and :func:`steps_report`, its lines in
  ``scripts/cause_report.py``.

``tests/test_verdicts.py`` pins them on hand-computed numbers.
"""
from __future__ import annotations

import statistics
from typing import Callable, Mapping, Optional, Sequence

from .stats import Difference, Metric, difference

__all__ = ["SD_LIMIT", "STAGE1_MARGIN", "first_in_order", "read_off", "stage1_learns", "stage1_margin",
           "steps_of", "steps_report"]

SD_LIMIT = 2.0             # experiments 1 and 9: a working arm's AR1000 seed sd is below this
STAGE1_MARGIN = 0.05       # "stage 1 learns": decoded positives' IoU - priors' IoU >= 0.05


def stage1_margin(records: Sequence[Mapping]) -> Optional[float]:
    """Seed mean of the last ``diag_s1_pos_iou`` minus the last ``diag_s1_prior_iou`` (each seed's
    ``metrics.json``); ``None`` when the runs carry no diagnostics (runs trained before issue 17)."""
    gaps = []
    for record in records:
        diag = record.get("diagnostics", {})
        if "diag_s1_pos_iou" not in diag or "diag_s1_prior_iou" not in diag:
            return None
        gaps.append(diag["diag_s1_pos_iou"]["last"] - diag["diag_s1_prior_iou"]["last"])
    return statistics.fmean(gaps) if gaps else None


def stage1_learns(records: Sequence[Mapping]) -> Optional[bool]:
    """Does stage 1 move its positives closer to their gts: :func:`stage1_margin` at least
    ``STAGE1_MARGIN``; ``None`` without diagnostics."""
    margin = stage1_margin(records)
    return None if margin is None else margin >= STAGE1_MARGIN


def first_in_order(arms: dict, order: Sequence[str], key: str) -> tuple[Optional[str], bool]:
    """The first arm in ``order`` whose ``key`` is true, and whether every arm before it is done
    (then the verdict need not wait for the arms after it)."""
    for name in order:
        arm = arms[name]
        if arm.get("pending"):
            return None, False
        if arm.get(key):
            return name, True
    return None, True


def steps_of(values: Metric, table: Sequence[tuple[str, str, str, str]], seeds: int,
             reproduces: Callable[[Difference], bool]) -> dict:
    """Each step ``(name, row, reference, what)`` of ``table``: Δ AR1000 of ``row`` against
    ``reference`` and whether that Δ ``reproduces`` the claim; pending until both have ``seeds``."""
    steps: dict = {}
    for name, row, reference, what in table:
        a, b = values(row), values(reference)
        if len(a) < seeds or len(b) < seeds:
            steps[name] = {"rows": (row, reference), "pending": True}
            continue
        step = difference(a, b)
        steps[name] = {"rows": (row, reference), "what": what, "step": step, "reproduces": reproduces(step)}
    return steps


def read_off(steps: dict, order: Sequence[str], robust: str) -> str:
    """The verdict of a "first faithful step that reproduces" rule (experiments 4-6)."""
    first, settled = first_in_order(steps, order, "reproduces")
    if first is not None:
        return f"reproduces once faithful: {steps[first]['what']} ({first})"
    return "pending" if not settled else robust


def steps_report(out: dict) -> list[str]:
    """``scripts/cause_report.py``'s lines for a "first faithful step" rule's result ``out``."""
    lines = []
    for name, step in out["steps"].items():
        rows = " - ".join(f"`{r}`" for r in step["rows"])
        if step.get("pending"):
            lines.append(f"- {name} {rows}: pending")
            continue
        learns = f", stage 1 learns: {step['stage1_learns']}" if "stage1_learns" in step else ""
        lines.append(f"- {name} {rows}: {step['step'].text()}{learns}, "
                     f"reproduces: {'yes' if step['reproduces'] else 'no'}")
    return lines + ["", f"Verdict (registered rule): **{out['verdict']}**."]
