"""Fields of the REPORT's cause experiments ("Why it does not reproduce: the verdicts so far").

The verdict paragraphs quote, beside Δ [se] (the general fields), what each run's record says
about *why*: the stage-1 diagnostic (``verdicts.stage1_margin``), the objects a run misses
outright (``proposal_stats.missed_fractions``), the experiments' costs (``results/tables/causes.csv``),
experiment 7's pair reading (``e7_geometry.experiment7_pairs``), ranges over seeds and rounded
counts. Each one calls the package code that computes the number; nothing is re-derived here.
``tests/test_report_fields_verdicts.py`` pins them on hand-made records.
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Optional, Sequence

from scrpn.evaluation.proposal_stats import load_stats, missed_fractions

from ..experiments.e2_ga_rpn import equal_schedule
from ..experiments.e7_geometry import experiment7_pairs
from ..verdicts import STAGE1_MARGIN
from ..verdicts import stage1_margin as _margin
from .fields import Num, Results, _dig, field, fmt

__all__ = ["causes_hours", "e2_equal_schedule", "e7_pair_count", "missed", "nearest", "record_mean", "span", "stage1_crossing",
           "stage1_margin"]


def _records(r: Results, run: str, seeds: Optional[Sequence[int]]) -> list[dict]:
    return r.records(run, seeds)


def _per_seed(r: Results, run: str, key: str, seeds: Optional[Sequence[int]], iteration: Optional[int]) -> list[float]:
    """One number per seed: ``key`` of ``metrics.json`` (dotted; ``"stage1_margin"`` is the
    seed's last decoded-positives IoU minus the priors'), or of ``log.jsonl`` at ``iteration``."""
    out = []
    for record in _records(r, run, seeds):
        seed = int(record["seed"])
        if iteration is not None:
            relative = f"results/runs/{run}/seed{seed}/log.jsonl"
            hits = [e for e in r.log_entries(relative) if e.get("iter") == iteration and key in e]
            if not hits:
                raise KeyError(f"{relative}: no {key!r} at iteration {iteration}")
            out.append(float(hits[-1][key]))
        elif key == "stage1_margin":
            found = _margin([record])
            if found is None:
                raise KeyError(f"results/runs/{run}/seed{seed}: no stage-1 diagnostic")
            out.append(found)
        else:
            found = _dig(record, key, f"results/runs/{run}/seed{seed}/metrics.json")
            if isinstance(found, bool) or not isinstance(found, (int, float)):
                raise KeyError(f"results/runs/{run}/seed{seed}: {key!r} is not a number")
            out.append(float(found))
    return out


def _text(value: float, digits: int, step: Optional[float], comma: bool) -> str:
    if step:
        value = round(value / step) * step
    return f"{value:,.{digits}f}" if comma else f"{value:.{digits}f}"


@field
def stage1_margin(r: Results, *runs: str, seeds: Optional[Sequence[int]] = None, **style: Any) -> Num:
    """"Stage 1 learns (margin)": ``verdicts.stage1_margin`` of each run (seed mean of the last
    decoded-positives IoU minus the priors'), averaged over the runs named (a step's two rows)."""
    found = []
    for run in runs:
        value = _margin(_records(r, run, seeds))
        if value is None:
            raise KeyError(f"results/runs/{run}: no stage-1 diagnostic")
        found.append(value)
    if not found:
        raise ValueError("stage1_margin: name at least one run")
    style.setdefault("digits", 2)
    return fmt(statistics.fmean(found), **style)


@field
def record_mean(r: Results, run: str, key: str, seeds: Optional[Sequence[int]] = None,
                iteration: Optional[int] = None, **style: Any) -> Num:
    """The seed mean of one number of each seed's record: a dotted ``metrics.json`` key
    (``"diagnostics.diag_s1_pos_iou.last"``, ``"stage1_margin"``) or a ``log.jsonl`` key at ``iteration``."""
    return fmt(statistics.fmean(_per_seed(r, run, key, seeds, iteration)), **style)


@field
def span(r: Results, run: str, key: str, seeds: Optional[Sequence[int]] = None, iteration: Optional[int] = None,
         digits: int = 2, scale: float = 1.0, step: Optional[float] = None, comma: bool = False,
         unit: str = "", also: Sequence[tuple] = ()) -> str:
    """``"lo-hi"``: the smallest and largest of one number over a run's seeds (keys as
    :func:`record_mean`), times ``scale``, rounded to ``step`` if given, each printed with
    ``digits``; one value when both print the same. ``also``: more ``(run, seeds)`` pairs whose
    seeds join the range (one sentence's "L1 and L2's seed 0")."""
    values = _per_seed(r, run, key, seeds, iteration)
    for other, other_seeds in also:
        values += _per_seed(r, other, key, other_seeds, iteration)
    lo, hi = (_text(v * scale, digits, step, comma) for v in (min(values), max(values)))
    return (lo if lo == hi else f"{lo}-{hi}") + unit


@field
def missed(r: Results, run: str, group: str = "aspect>=4", seeds: Optional[Sequence[int]] = None,
           **style: Any) -> Num:
    """The share of objects ``run`` misses outright (no proposal at IoU 0.3 among the top 1,000),
    seed mean of ``proposal_stats.missed_fractions`` (``group``: all, S, M, L, aspect>=4);
    printed in percent with no decimals unless told."""
    found = []
    for record in _records(r, run, seeds):
        relative = f"results/runs/{run}/seed{int(record['seed'])}/proposal_stats.npz"
        fractions = missed_fractions(load_stats(r._path(relative)))
        if group not in fractions:
            raise KeyError(f"{relative}: no group {group!r} (have: {', '.join(fractions)})")
        found.append(fractions[group])
    style.setdefault("scale", 100.0)
    style.setdefault("digits", 0)
    style.setdefault("unit", " %")
    return fmt(statistics.fmean(found), **style)


@field
def causes_hours(r: Results, experiment: int, column: str = "machine_hours", arms: Optional[Sequence[str]] = None,
                 **style: Any) -> Num:
    """An experiment's cost: the sum of ``column`` (machine_hours / cpu_hours) of its arms in
    ``results/tables/causes.csv`` (``scrpn.study.causes``: each run counted once), or of ``arms``."""
    frame = r.csv_file("results/tables/causes.csv")
    if column not in frame.columns:
        raise KeyError(f"results/tables/causes.csv: no column {column!r}")
    rows = frame[frame["experiment"] == str(experiment)]
    if arms is not None:
        unknown = sorted(set(arms) - set(rows["arm"]))
        if unknown:
            raise KeyError(f"results/tables/causes.csv: experiment {experiment} has no arm {unknown}")
        rows = rows[rows["arm"].isin(list(arms))]
    if rows.empty:
        raise KeyError(f"results/tables/causes.csv: no arm of experiment {experiment}")
    return fmt(sum(float(v) for v in rows[column] if v != ""), **style)


@field
def nearest(r: Results, value: float, step: float = 1.0, comma: bool = False, unit: str = "") -> str:
    """``value`` rounded to a multiple of ``step`` ("about 850 s"), ``comma``: thousands separated."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"not a number: {value!r}")
    digits = max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0
    return _text(float(value), digits, step, comma) + unit


@field
def e7_pair_count(r: Results, status: str) -> int:
    """How many pairs of Table I's methods experiment 7's amendment reads as ``status``
    (kept / changed / unresolved / pending; ``e7_geometry.experiment7_pairs`` on AR1000)."""
    out = experiment7_pairs(lambda run: _values_or_none(r, run))
    if status not in ("kept", "changed", "unresolved", "pending"):
        raise KeyError(f"no pair status {status!r}")
    return len(out[status])


@field
def e2_equal_schedule(r: Results, key: str = "se", **style: Any) -> Num:
    """Experiment 2's control: G2 minus RPN, both at 4x, one seed each, and its se from the two
    rows' mini seed sds (``e2_ga_rpn.equal_schedule``); ``key``: delta or se."""
    out = equal_schedule(lambda run: _values_or_none(r, run))
    if out is None:
        raise FileNotFoundError("experiment 2's control: runs missing (e2_ga_rpn.equal_schedule)")
    if key not in ("delta", "se"):
        raise KeyError(f"no key {key!r} (delta, se)")
    return fmt(out[key], **style)


def _values_or_none(r: Results, run: str) -> list[float]:
    try:
        return r.values(run, "AR1000")
    except FileNotFoundError:
        return []


@field
def stage1_crossing(r: Results, *runs: str, which: str = "first", threshold: Optional[float] = None) -> int:
    """The iteration at which a row's stage-1 margin (seed mean of ``diag_s1_pos_iou -
    diag_s1_prior_iou`` in each seed's ``log.jsonl``, at the iterations every seed logged; the
    curve of ``results/figures/causes_stage1_<n>.png`` before smoothing) first reaches
    ``threshold`` (default: the registered ``verdicts.STAGE1_MARGIN``); over several rows, the
    ``first`` or ``last`` of their crossings."""
    limit = STAGE1_MARGIN if threshold is None else float(threshold)
    crossings = []
    for run in runs:
        series = []
        for record in _records(r, run, None):
            relative = f"results/runs/{run}/seed{int(record['seed'])}/log.jsonl"
            series.append({e["iter"]: e["diag_s1_pos_iou"] - e["diag_s1_prior_iou"] for e in r.log_entries(relative)
                           if e.get("type") == "train" and "diag_s1_pos_iou" in e and "diag_s1_prior_iou" in e})
        if not series or not all(series):
            raise KeyError(f"results/runs/{run}: no stage-1 diagnostic in its logs")
        common = sorted(set.intersection(*(set(s) for s in series)))
        found = next((i for i in common if statistics.fmean(s[i] for s in series) >= limit), None)
        if found is None:
            raise ValueError(f"results/runs/{run}: the stage-1 margin never reaches {limit}")
        crossings.append(int(found))
    if not crossings or which not in ("first", "last"):
        raise ValueError("stage1_crossing: name at least one run; which is 'first' or 'last'")
    return min(crossings) if which == "first" else max(crossings)
