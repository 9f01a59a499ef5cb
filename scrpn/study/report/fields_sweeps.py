"""Fields of the REPORT's one-seed ablation tables (Tables V-VIII): changes against a table's
reference row, ours and the paper's, and the ranges and counts the prose names.

========================  ========================================================================
field                     reads
========================  ========================================================================
``paper_delta``           the paper's change of a table row against another, from the committed
                          ``results/tables/<name>.csv`` (``<metric>_paper``; a config that stands
                          in several rows, like Table V's default, must have one paper value)
``ablation_bound``        the largest / smallest of several runs' (names or patterns like
                          ``"t6_with_sads_*"``) changes against a reference
                          (one seed), or of their own values (``reference=None``); with
                          ``paper_table`` the same over the paper's values
``largest_pair_change``   the largest |a - b| over pairs of runs (one seed): e.g. every
                          test-with / test-without pair of Tables VI-VII
``table_size``            how many rows of a compact table are computed (``"rows"``), or how
                          many distinct trainings they use (``"trainings"``, minus ``exclude``)
``pooled_seed_sd``        the seed sd of a metric pooled over runs (root of the mean variance)
``single_seed_resolution``  the pilot section's smallest difference one seed resolves: the rule's
                          ``RESOLVED_SE`` times ``pooled_seed_sd`` (RPN and SC-RPN by default)
========================  ========================================================================

Every field is pinned on hand-made records in ``tests/test_report_fields_sweeps.py``.
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Optional, Sequence

from ..stats import RESOLVED_SE, sample_sd
from .fields import Num, Results, field, fmt

__all__: list[str] = []


def _paper_value(r: Results, names: str | Sequence[str], config: str, metric: str) -> float:
    """The paper's ``metric`` of ``config``'s rows in the tables ``names`` (one name or several:
    a config in several tables, like a shared reference row, must have one paper value)."""
    found: set[float] = set()
    where = []
    for name in [names] if isinstance(names, str) else list(names):
        path = f"results/tables/{name}.csv"
        frame = r.csv_file(path)
        column = f"{metric}_paper"
        if column not in frame.columns:
            raise KeyError(f"{path}: no column {column!r}")
        found |= {float(v) for v in frame.loc[frame["config"] == config, column] if v != ""}
        where.append(path)
    if len(found) != 1:
        raise ValueError(f"{', '.join(where)}: config {config!r} has {len(found)} paper values of {metric} "
                         f"({sorted(found)}), need exactly one")
    return found.pop()


def _seed_value(r: Results, run: str, metric: str, seed: int) -> float:
    return r.values(run, metric, [seed])[0]


@field
def paper_delta(r: Results, name: str, config: str, reference: str, metric: str = "AR1000", sign: bool = True,
                **style: Any) -> Num:
    """The paper's ``metric`` of ``config``'s row minus that of ``reference``'s row, in table ``name``."""
    return fmt(_paper_value(r, name, config, metric) - _paper_value(r, name, reference, metric), sign=sign, **style)


@field
def ablation_bound(r: Results, runs: Sequence[str], reference: Optional[str] = None, metric: str = "AR1000",
                   seed: int = 0, bound: str = "max", paper_table: Optional[str | Sequence[str]] = None,
                   **style: Any) -> Num:
    """The ``bound`` ("max" or "min") over ``runs`` (names or :mod:`fnmatch` patterns of committed
    runs, e.g. ``"t6_with_sads_*"``) of run - ``reference`` (or of the runs' own
    values when ``reference`` is None), on seed ``seed``; with ``paper_table`` (a table's name or
    several), the paper's values of those configs in ``results/tables/<paper_table>.csv`` instead."""
    if bound not in ("max", "min"):
        raise ValueError(f"bound must be 'max' or 'min', not {bound!r}")
    if paper_table is not None:
        def read(run: str) -> float:
            return _paper_value(r, paper_table, run, metric)
    else:
        def read(run: str) -> float:
            return _seed_value(r, run, metric, seed)
    base = 0.0 if reference is None else read(reference)
    values = [read(run) - base for run in r.runs_matching(runs, names_need_runs=paper_table is None)]
    return fmt(max(values) if bound == "max" else min(values), **style)


@field
def largest_pair_change(r: Results, pairs: Sequence[Sequence[str]], metric: str = "AR1000", seed: int = 0,
                        **style: Any) -> Num:
    """max |a - b| of ``metric`` on seed ``seed`` over ``pairs`` of runs ``[a, b]``."""
    if not pairs:
        raise ValueError("no pairs")
    changes = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"a pair is two runs, not {pair!r}")
        changes.append(abs(_seed_value(r, pair[0], metric, seed) - _seed_value(r, pair[1], metric, seed)))
    return fmt(max(changes), **style)


@field
def table_size(r: Results, name: str, what: str = "rows", exclude: Sequence[str] = ()) -> int:
    """How many rows of compact table ``name`` are computed (``what="rows"``), or how many distinct
    configs (trainings) they use, leaving out ``exclude`` (``what="trainings"``)."""
    done, _ = r.compact(name)
    if what == "rows":
        return len(done)
    if what == "trainings":
        return len({key.split("#", 1)[0] for key in done} - set(exclude))
    raise ValueError(f"what must be 'rows' or 'trainings', not {what!r}")


def _pooled_sd(r: Results, runs: Sequence[str], metric: str) -> float:
    variances = []
    for run in runs:
        sd = sample_sd(r.values(run, metric))
        if math.isnan(sd):
            raise ValueError(f"results/runs/{run}: one seed of {metric}, no spread")
        variances.append(sd ** 2)
    if not variances:
        raise ValueError("no runs to pool")
    return math.sqrt(statistics.fmean(variances))


@field
def pooled_seed_sd(r: Results, runs: Sequence[str] = ("rpn", "sc_rpn"), metric: str = "AR1000", **style: Any) -> Num:
    """The seed standard deviation of ``metric`` pooled over ``runs`` (the root of their mean
    sample variance): the pilot section's "seed standard deviation" (RPN and SC-RPN, three seeds)."""
    return fmt(_pooled_sd(r, runs, metric), **style)


@field
def single_seed_resolution(r: Results, runs: Sequence[str] = ("rpn", "sc_rpn"), metric: str = "AR1000",
                           **style: Any) -> Num:
    """The pilot section's reading of what one seed resolves: ``RESOLVED_SE`` (2.5) times
    :func:`pooled_seed_sd`."""
    return fmt(RESOLVED_SE * _pooled_sd(r, runs, metric), **style)
