"""The cause experiments' figures (issue 18; notebook 12), drawn from the causes table and the runs.

Each experiment's record (``scrpn/study/experiments/``) names the figures of its arms
(``Experiment.figures``); this module draws them, from the frame of
:func:`scrpn.study.causes.causes_table` and the logs it reads. Every function returns a bare
:class:`matplotlib.figure.Figure`, as :mod:`scrpn.viz.figures` does for the paper's figures (whose
palette and smoothing these share). ``tests/test_figures.py`` pins what each draws.
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from .figures import _COLORS, _color, _smooth
from .style import MAX_WIDTH_IN, SMALL, TEXT, TITLE, legible

__all__ = ["causes_ar1000", "causes_detectors", "causes_missed", "causes_regime", "stage1_margin_curves"]


@legible
def causes_ar1000(frame: Any) -> Figure:
    """The cause experiments (``scrpn.study.causes.causes_table``): per experiment, each arm's Δ
    AR1000 against its reference row with ±2.5 standard errors (the registered "resolved" band);
    arms without runs are listed on the axis as "not run" / "not built"; one-seed arms show Δ only.
    """
    if "metric" in frame:                 # experiment 8's detector arms measure box AP: causes_detectors
        frame = frame[frame["metric"] == "AR1000"]
    experiments = sorted(set(int(e) for e in frame["experiment"]))
    cols = 1          # one panel a row: the arms' labels and the browser's width (scrpn.viz.style)
    rows = math.ceil(len(experiments) / cols)
    # a row of panels as tall as its longest experiment needs (experiment 10 has 24 arms)
    arms = [int((frame["experiment"] == number).sum()) for number in experiments]
    heights = [max(1.9, 0.8 + 0.2 * max(arms[r * cols:(r + 1) * cols])) for r in range(rows)]
    fig = Figure(figsize=(MAX_WIDTH_IN, sum(heights)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, gridspec_kw={"height_ratios": heights})).reshape(-1)
    for ax in axes[len(experiments):]:
        ax.set_visible(False)
    for ax, number in zip(axes, experiments):
        sub = frame[frame["experiment"] == number].reset_index(drop=True)
        y = np.arange(len(sub))
        for i, line in sub.iterrows():
            delta, se = float(line["delta_AR1000"]), float(line["se"])
            if not math.isfinite(delta):
                status = str(line["status"])
                text = (status if status in ("not built", "not run", "not needed (verdict read)")
                        or status.startswith("pending") else "reference not run")   # pending: S* not chosen
                ax.text(0.02, i, text, va="center", fontsize=SMALL, color="0.45",
                        transform=ax.get_yaxis_transform())
                continue
            err = 2.5 * se if math.isfinite(se) else None
            ax.errorbar(delta, i, xerr=err, fmt="o", color=_color(0 if line["arm"] == "today" else 1),
                        capsize=3, ms=4)
        ax.axvline(0.0, color="0.3", lw=0.8)
        ax.set_yticks(y, [f"{a}: {v}" for a, v in zip(sub["arm"], sub["variant"])], fontsize=SMALL)
        ax.set_ylim(len(sub) - 0.5, -0.5)  # first arm on top, room for the labels
        ax.set_xlabel("Δ AR1000 vs reference (±2.5 se)", fontsize=SMALL)
        ax.set_title(f"exp. {number}: {sub['claim'].iloc[0]}", fontsize=SMALL)
        ax.grid(alpha=0.3, axis="x")
    from matplotlib.lines import Line2D

    fig.legend(handles=[Line2D([], [], ls="", marker="o", color=_color(0), label="today's row (arm \"today\")"),
                        Line2D([], [], ls="", marker="o", color=_color(1), label="a cause arm"),
                        Line2D([], [], color="0.3", label="bar: ±2.5 se (resolved when it misses 0)")],
               loc="outside lower center", ncols=3, fontsize=SMALL, frameon=False)
    fig.suptitle("Cause experiments (pre-registered in results/REPORT.md)", fontsize=TITLE)
    return fig


def _rcnn_loss(records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(iterations, ``loss_rcnn_cls + loss_rcnn_reg``) of one detector run's train records."""
    rows = [(float(r["iter"]), float(r["loss_rcnn_cls"]) + float(r["loss_rcnn_reg"])) for r in records
            if r.get("type") == "train" and "iter" in r and r.get("loss_rcnn_cls") is not None
            and r.get("loss_rcnn_reg") is not None]
    if not rows:
        return np.zeros(0), np.zeros(0)
    iters, loss = np.array(rows).T
    return iters, loss


@legible
def causes_detectors(frame: Any, logs_by_row: Mapping[str, Sequence[Mapping[str, Any]]],
                     paper_gap: float = 4.0, experiment: int = 8, smooth: int = 5) -> Figure:
    """Experiment 8 (do the detectors converge, and does SC-RPN's gap shrink toward the paper's?).
    Left: each arm's box AP for the detector on RPN's proposals (the arm's ``reference``: AP_mean -
    delta_AP) and on SC-RPN's (its ``row``), the gap written above the pair, the paper's gap
    (``paper_gap``, Table II) in the title; arms whose runs are missing are named "not run". Right:
    the R-CNN head's loss (classification + regression, trailing mean over ``smooth`` records)
    through training for every row of ``logs_by_row`` (``row -> train records of seed 0``): a curve
    still falling at its last iteration is a detector that has not converged."""
    sub = frame[frame["experiment"] == experiment].reset_index(drop=True)
    fig = Figure(figsize=(9.6, 3.6), layout="constrained")
    bars, curves = fig.subplots(1, 2)
    x = np.arange(len(sub))
    top = 1.0
    for i, line in sub.iterrows():
        ap, gap = float(line["AP_mean"]), float(line["delta_AP"])
        if not (math.isfinite(ap) and math.isfinite(gap)):
            bars.text(i, 0.5, "not run", ha="center", va="bottom", fontsize=SMALL, color="0.45")
            continue
        pair = (ap - gap, ap)
        for j, (value, label) in enumerate(zip(pair, ("on RPN", "on SC-RPN"))):
            bars.bar(i + (j - 0.5) * 0.38, value, 0.36, color=_color(j), label=label if i == 0 else None)
        bars.text(i, max(pair) * 1.02, f"gap {gap:+.1f}", ha="center", va="bottom", fontsize=SMALL)
        top = max(top, *pair)
    bars.set_xlim(-0.6, len(sub) - 0.4)
    bars.set_ylim(0.0, top * 1.3)              # headroom for the gap labels and the legend
    bars.set_xticks(x, [f"{a}:\n{v}" for a, v in zip(sub["arm"], sub["variant"])], fontsize=SMALL)
    bars.set_ylabel("box AP (seed 0)")
    bars.set_title(f"exp. {experiment}: Faster R-CNN, 300 proposals (paper's gap {paper_gap:+.1f})", fontsize=TEXT)
    bars.grid(alpha=0.3, axis="y")
    if bars.get_legend_handles_labels()[0]:
        bars.legend(fontsize=SMALL, loc="upper center", ncols=2)
    drawn = 0
    for row, records in logs_by_row.items():
        iters, loss = _rcnn_loss(records)
        if iters.size:
            curves.plot(iters, _smooth(loss, smooth), color=_color(drawn), lw=1.2, label=row)
            drawn += 1
    if drawn:
        curves.legend(fontsize=SMALL)
    else:
        curves.text(0.5, 0.5, "no detector log yet", ha="center", va="center", transform=curves.transAxes,
                    color="0.45")
    curves.set_xlabel("iteration")
    curves.set_ylabel("R-CNN loss (cls + reg)")
    curves.set_title("do the detectors converge?", fontsize=TEXT)
    curves.grid(alpha=0.3)
    return fig


@legible
def causes_regime(mini: Mapping[str, Sequence[float]], paper: Mapping[str, Sequence[float]],
                  margin: float = 1.5, reference: str = "rpn", peers: Sequence[str] = ("cascade_rpn", "ga_rpn"),
                  experiment: int = 7) -> Figure:
    """Experiment 7 (does the peers' ranking depend on our geometry?). ``mini`` and ``paper`` map
    each of Table I's methods to its AR1000 per seed in the mini profile (256 px, anchor scale 4)
    and in the paper's geometry (512 px, anchor scale 8). Left: one line per method from its mini
    mean to its paper-geometry mean, the seeds' range as a bar at each end and its rank (1 = best)
    beside each end; a crossing line is a changed order. Right: each method's AR1000 minus
    ``reference``'s in each geometry (means), with the registered band ±``margin``
    (``verdicts.GEOMETRY_MARGIN``): ``peers`` (Cascade RPN, GA-RPN) drawn past its top in the
    paper's geometry make the rule read "regime-dependent". Methods without runs are named "not run".
    """
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    lines, gaps = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1.0]})
    methods = list(mini)
    means = {name: {m: statistics.fmean(v[m]) if v.get(m) else math.nan for m in methods}
             for name, v in (("mini", mini), ("paper", paper))}

    def ranks(table: Mapping[str, float]) -> dict[str, int]:
        done = sorted((m for m in table if math.isfinite(table[m])), key=table.get, reverse=True)
        return {m: i + 1 for i, m in enumerate(done)}

    rank = {name: ranks(means[name]) for name in means}
    missing = []
    for i, m in enumerate(methods):
        c = _color(i)
        ends = [(x, means[name][m], values.get(m) or [])
                for x, (name, values) in enumerate((("mini", mini), ("paper", paper)))]
        drawn = [(x, y, v) for x, y, v in ends if math.isfinite(y)]
        if len(drawn) < 2:
            missing.append(m)
        if not drawn:
            continue
        lines.plot([x for x, _, _ in drawn], [y for _, y, _ in drawn], "o-", color=c, lw=1.4, ms=4, label=m)
        for x, y, v in drawn:
            if len(v) > 1:
                lines.vlines(x, min(v), max(v), color=c, lw=3, alpha=0.35)
            name = "mini" if x == 0 else "paper"
            lines.text(x + (-0.06 if x == 0 else 0.06), y, f"{rank[name][m]}", color=c, fontsize=SMALL,
                       ha="right" if x == 0 else "left", va="center")
    lines.set_xticks([0, 1], ["mini\n256 px, anchor scale 4", "paper geometry\n512 px, anchor scale 8"],
                     fontsize=SMALL)
    lines.set_xlim(-0.4, 1.4)
    lines.set_ylabel("AR1000 (seed mean; bar: seeds' range)")
    lines.set_title(f"exp. {experiment}: Table I's methods in two geometries (numbers: rank)", fontsize=TEXT)
    lines.grid(alpha=0.3, axis="y")
    if lines.get_legend_handles_labels()[0]:
        lines.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.0, 1.0))   # beside the lines
    if missing:
        lines.set_xlabel(f"not run in both: {', '.join(missing)}", fontsize=SMALL, color="0.45")
    others = [m for m in methods if m != reference]
    x = np.arange(len(others))
    for j, name in enumerate(("mini", "paper")):
        base = means[name].get(reference, math.nan)
        label: Optional[str] = "mini" if j == 0 else "paper geometry"   # on the first bar drawn
        for k, m in enumerate(others):
            gap = means[name][m] - base
            if math.isfinite(gap):
                gaps.bar(k + (j - 0.5) * 0.38, gap, 0.36, color=_color(j), label=label,
                         hatch="//" if m in peers else None, edgecolor="white")
                label = None
            else:
                gaps.text(k + (j - 0.5) * 0.38, 0.0, "not run", rotation=90, ha="center", va="bottom",
                          fontsize=SMALL, color="0.45")
    gaps.axhspan(-margin, margin, color="0.85", zorder=0, label=f"±{margin:g} (registered margin)")
    gaps.axhline(0.0, color="0.3", lw=0.8)
    gaps.set_xticks(x, [m + (" *" if m in peers else "") for m in others], fontsize=SMALL, rotation=20,
                    ha="right", rotation_mode="anchor")
    gaps.set_ylabel(f"AR1000 minus {reference}'s")
    gaps.set_xlim(-0.6, len(others) - 0.4)
    gaps.set_title(f"rule: * above {reference} by > {margin:g} in the paper's geometry?", fontsize=TEXT)
    gaps.text(0.01, 0.01, f"* and hatched: the peers the registered\nrule reads ({', '.join(peers)})",
              transform=gaps.transAxes, fontsize=SMALL, color="0.3", va="bottom")
    gaps.grid(alpha=0.3, axis="y")
    gaps.legend(fontsize=SMALL)
    return fig


@legible
@legible
def causes_missed(frame: Any, experiment: int = 2) -> Figure:
    """Objects missed outright (no proposal at IoU 0.3 in the top 1,000) by each row an arm of one
    cause experiment trained, overall, by COCO size and for slender objects (aspect >= 4): the
    columns ``missed_*`` of :func:`scrpn.study.causes.causes_table`, seed means. Experiment 2
    registered this view ("which objects each variant recovers"); arms without stats are left out.

    One bar group per distinct ``row``: arms that compare the same row against different references
    (experiment 10's Table I pairs) carry the same stats, and are named together. The legend sits
    under the axes and the figure grows with it, so the axes keep their size however many rows the
    experiment has (issue 38: 19 arms collapsed the axes and matplotlib warned into notebook 12).
    """
    groups = (("missed_all", "all"), ("missed_S", "small"), ("missed_M", "medium"), ("missed_L", "large"),
              ("missed_slender", "aspect ≥ 4"))
    sub = frame[(frame["experiment"] == experiment) & frame["missed_all"].notna()].reset_index(drop=True)
    bars = _bars_by_row(sub)
    fig = Figure(figsize=(6.4, 2.9 + 0.21 * len(bars)), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(bars), 1)
    x = np.arange(len(groups))
    for j, (label, line) in enumerate(bars):
        values = [100 * float(line[column]) for column, _ in groups]
        ax.bar(x + (j - (len(bars) - 1) / 2) * width, values, width, color=_color(j), label=label,
               hatch="///" if j >= len(_COLORS) else None, edgecolor="white", linewidth=0)   # palette reused: hatched
    ax.set_xticks(x, [label for _, label in groups])
    ax.set_ylabel("objects missed (%),\nIoU < 0.3 in top 1000")
    if bars:
        fig.legend(loc="outside lower center", ncols=1, fontsize=SMALL, frameon=False)
    else:
        ax.text(0.5, 0.5, "no arm has run yet", ha="center", va="center", transform=ax.transAxes, color="0.45")
    ax.set_title(f"exp. {experiment}: which objects each arm misses", fontsize=TEXT)
    ax.grid(alpha=0.3, axis="y")
    return fig


def _bars_by_row(sub: Any) -> list[tuple[str, Any]]:
    """(legend label, the first arm's line) per distinct ``row`` of ``sub``, in arm order: an arm
    alone on its row is ``"arm: variant"``; a row several arms share is named with its arms."""
    if "row" not in sub:
        return [(f"{line['arm']}: {line['variant']}", line) for _, line in sub.iterrows()]
    out = []
    for row, lines in sub.groupby("row", sort=False):
        first = lines.iloc[0]
        if len(lines) == 1:
            out.append((f"{first['arm']}: {first['variant']}", first))
        else:
            out.append((f"{row}: the row of {len(lines)} arms ({first['arm']}, …)", first))
    return out


def _stage1_series(records: Sequence[Mapping[str, Any]]) -> dict[int, float]:
    """iteration -> ``diag_s1_pos_iou - diag_s1_prior_iou`` of one run's train records."""
    return {int(r["iter"]): float(r["diag_s1_pos_iou"]) - float(r["diag_s1_prior_iou"])
            for r in records if r.get("type") == "train" and "iter" in r
            and r.get("diag_s1_pos_iou") is not None and r.get("diag_s1_prior_iou") is not None}


@legible
def stage1_margin_curves(logs_by_row: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
                         margin: float, title: str = "", smooth: int = 5) -> Figure:
    """Does stage 1 learn, and when: per row, the decoded stage-1 positives' mean IoU with their
    gts minus the undecoded priors' (``diag_s1_pos_iou - diag_s1_prior_iou``, the train records of
    each seed's ``log.jsonl``) against iteration. The line is the seed mean at the iterations every
    seed logged (``smooth`` > 1: trailing moving average), the band the seeds' range, and the dashed
    line ``margin``, the registered "stage 1 learns" threshold (``verdicts.STAGE1_MARGIN``; the rule
    reads each seed's last record). ``logs_by_row`` maps a row to its seeds' records; rows without
    stage-1 diagnostics (no stage 1, or trained before the diagnostics existed) are named under
    the axis label instead. Not in the paper."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    drawn, without = 0, []
    for row, seeds in logs_by_row.items():
        series = [_stage1_series(records) for records in seeds]
        series = [s for s in series if s]
        if not series:
            without.append(row)
            continue
        iters = np.array(sorted(set.intersection(*(set(s) for s in series))), dtype=np.float64)
        values = np.array([[s[int(i)] for i in iters] for s in series])   # (seeds, iterations)
        c = _color(drawn)
        ax.plot(iters, _smooth(values.mean(axis=0), smooth), color=c, lw=1.4,
                label=f"{row} ({len(series)} seed{'s' if len(series) > 1 else ''})")
        if len(series) > 1:
            ax.fill_between(iters, _smooth(values.min(axis=0), smooth), _smooth(values.max(axis=0), smooth),
                            color=c, alpha=0.15, lw=0)
        drawn += 1
    ax.axhline(margin, color="0.3", ls="--", lw=0.9, label=f"registered margin {margin:g}")
    ax.axhline(0.0, color="0.6", lw=0.6)
    # rows without diagnostics go under the axis label, where the layout keeps them clear of the ticks
    ax.set_xlabel("iteration" + (f"\n(no stage-1 diagnostics: {', '.join(without)})" if without else ""),
                  fontsize=SMALL if without else None)
    ax.set_ylabel("IoU: decoded positives - priors")
    if not drawn:
        ax.text(0.5, 0.5, "no run with stage-1 diagnostics yet", ha="center", va="center",
                transform=ax.transAxes, color="0.45")
    ax.legend(fontsize=SMALL)
    ax.grid(alpha=0.3)
    ax.set_title(title or "stage 1: decoded positives' IoU minus the priors'", fontsize=TEXT)
    return fig
