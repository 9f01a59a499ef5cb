"""Experiment 10's learning-curve figure (issue 38): AR against training length, and the losses.

:func:`curve_points` gathers, for each method, the runs of every schedule rung that exists (the
mini run at 1x, ``s<n>x_<row>`` at n x, and any registered extra run such as experiment 2's
``x2g2c_rpn_4x``) as ``{iterations: metrics}``; :func:`learning_curve` draws AR100, AR1000 and
AR_S against iterations (log-2 axis: one step per doubling), with the band of the rule that
chooses S* (±1.0 AR1000 around each point, :data:`scrpn.study.experiments.e10_converged.CURVE_TOLERANCE`) on the
AR1000 panel, and each method's total training loss of its longest run. Not in the paper.
``tests/test_learning_curve.py`` pins the gathering and the panels.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..study.experiments.e10_converged import CURVE_RUNGS, CURVE_TOLERANCE, rung_prefix
from .style import MAX_WIDTH_IN, SMALL, SUPTITLE, TITLE, legible

__all__ = ["METRICS", "curve_points", "learning_curve"]

METRICS = ("AR100", "AR1000", "AR_S")
COLORS = {"rpn": "tab:blue", "sc_rpn": "tab:red", "ga_rpn": "tab:green", "cascade_rpn": "tab:purple",
          "iterative_rpn": "tab:orange"}
NAMES = {"rpn": "RPN", "sc_rpn": "SC-RPN", "ga_rpn": "GA-RPN", "cascade_rpn": "Cascade RPN",
         "iterative_rpn": "Iterative RPN"}


def curve_points(methods: Sequence[str], record: Callable[[str], Optional[Mapping[str, Any]]],
                 extra: Optional[Mapping[str, Sequence[str]]] = None) -> dict[str, dict[int, dict]]:
    """``{method: {iterations: record}}`` for every rung whose run exists.

    ``record(run_name)`` returns seed 0's ``metrics.json`` of a run, or None when it has none;
    ``extra[method]`` lists further runs of the same method at another schedule (read by their
    own ``iterations``). A rung's run and an extra run of the same length: the rung's wins."""
    out: dict[str, dict[int, dict]] = {}
    for method in methods:
        points: dict[int, dict] = {}
        for name in (extra or {}).get(method, ()):
            rec = record(name)
            if rec is not None and rec.get("iterations"):
                points[int(rec["iterations"])] = dict(rec, run=name)
        for factor in CURVE_RUNGS:
            name = rung_prefix(factor) + method
            rec = record(name)
            if rec is not None and rec.get("iterations"):
                points[int(rec["iterations"])] = dict(rec, run=name)
        if points:
            out[method] = dict(sorted(points.items()))
    return out


def _total_loss(records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    rows = [(r["iter"], float(r["loss"])) for r in records
            if r.get("type") == "train" and "iter" in r and r.get("loss") is not None]
    if not rows:
        return np.zeros(0), np.zeros(0)
    it, loss = np.array(rows, dtype=np.float64).T
    return it, loss


@legible
def learning_curve(points: Mapping[str, Mapping[int, Mapping[str, Any]]],
                   logs: Optional[Mapping[str, Sequence[Mapping[str, Any]]]] = None,
                   paper: Optional[Mapping[str, Mapping[str, float]]] = None) -> Figure:
    """Four panels: AR100, AR1000 (with the ±1.0 band of S*'s rule), AR_S against training
    iterations, and the total training loss of each method's longest run (``logs[method]``, the
    records of its ``log.jsonl``). ``paper[method][metric]``, when given, is drawn as a dotted
    horizontal line (the paper's COCO value: a reference for the direction, not the level)."""
    if not points:
        raise ValueError("no runs to draw: train a rung first (scrpn study rpn --profile 2x)")
    fig = Figure(figsize=(MAX_WIDTH_IN, 6.8), layout="constrained")    # 2 x 2: the browser's width
    axes = fig.subplots(2, 2).reshape(-1)
    all_iters = sorted({it for per in points.values() for it in per})
    for ax, metric in zip(axes[:3], METRICS):
        for method, per in points.items():
            its = np.array(list(per), dtype=np.float64)
            ys = np.array([per[i].get(metric, np.nan) for i in per], dtype=np.float64)
            color = COLORS.get(method, "black")
            ax.plot(its, ys, "o-", color=color, lw=1.5, ms=4, label=NAMES.get(method, method))
            if metric == "AR1000":
                ax.fill_between(its, ys - CURVE_TOLERANCE, ys + CURVE_TOLERANCE, color=color, alpha=0.12,
                                lw=0)
            if paper and method in paper and metric in paper[method]:
                ax.axhline(paper[method][metric], color=color, ls=":", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_iters, [f"{i:,}" for i in all_iters], fontsize=SMALL)
        ax.minorticks_off()
        ax.set_xlabel("training iterations (batch 4)")
        ax.set_ylabel(f"{metric} (%)")
        ax.set_title(metric + (" (band: ±1.0, S*'s rule)" if metric == "AR1000" else ""), fontsize=TITLE)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=SMALL, loc="lower right")
    ax = axes[3]
    for method, records in (logs or {}).items():
        it, loss = _total_loss(records)
        if it.size:
            ax.plot(it, loss, color=COLORS.get(method, "black"), lw=1, label=NAMES.get(method, method))
    if not logs:
        ax.text(0.5, 0.5, "no training logs", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=SMALL)
    ax.set_xlabel("iteration")
    ax.set_yscale("log")   # RPN's loss and SC-RPN's (two stages and the mask) differ tenfold
    ax.set_ylabel("total training loss (log)")
    ax.set_title("training loss (longest run)", fontsize=TITLE)
    ax.grid(alpha=0.3)
    fig.suptitle("Experiment 10, phase 1: AR against training length (seed 0, SynthShapes val)", fontsize=SUPTITLE)
    return fig
