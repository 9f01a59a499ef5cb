"""REPORT fields of the detector tables (Tables II and IX, ``results/report/07_*``): a difference
of two cells of a rendered table, and spans ("lo-hi") of a metric or of a run's cost over rows.

=================  ==========================================================================
field              reads
=================  ==========================================================================
``table_delta``    cell(a) - cell(b) of one column of ``results/tables/<name>.csv`` (rows by
                   config): the paper's change between two rows (``AP_paper``), or ours
``runs_span``      ``"lo-hi"``: the smallest and largest value of a metric over the runs whose
                   folder names match the patterns (``fnmatch``), one seed
``minutes_span``   ``"lo-hi"`` minutes: what the rows of a rendered table cost, each its run's
                   machine seconds (:func:`scrpn.study.runs.run_cost`), rows picked by columns
=================  ==========================================================================

A span prints one number when both ends print the same (``"33"``). ``tests/test_report_fields_detectors.py``
pins each field on hand-made records.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from ..runs import run_cost
from .fields import Num, Results, field, fmt, table

__all__ = ["minutes_span", "runs_span", "table_delta"]


def _span(values: Sequence[float], digits: int, what: str) -> str:
    if not values:
        raise ValueError(f"{what}: no value to span")
    low, high = str(fmt(min(values), digits)), str(fmt(max(values), digits))
    return low if low == high else f"{low}-{high}"


@field
def table_delta(r: Results, name: str, a: str, b: str, column: str, sign: bool = True, **style: Any) -> Num:
    """Row ``a`` minus row ``b`` (configs, or methods where the table has no such config) in
    ``column`` of ``results/tables/<name>.csv``, signed unless ``sign=False``."""
    first, second = table(r, name, a, column), table(r, name, b, column)
    if not isinstance(first, float) or not isinstance(second, float):
        raise ValueError(f"results/tables/{name}.csv: {column!r} of {a!r} / {b!r} is not a number")
    return fmt(float(first) - float(second), sign=sign, **style)


@field
def runs_span(r: Results, patterns: Sequence[str], metric: str, seed: int = 0, digits: int = 0) -> str:
    """``"lo-hi"`` of ``metric`` over the committed runs that ``patterns`` name (seed ``seed``;
    :meth:`Results.runs_matching`: each pattern must match a committed run)."""
    names = r.runs_matching(patterns)
    return _span([r.values(name, metric, [seed])[0] for name in names], digits, f"{list(patterns)!r} {metric}")


@field
def minutes_span(r: Results, name: str, where: Optional[dict] = None, seed: int = 0, digits: int = 0) -> str:
    """``"lo-hi"`` minutes over the rows of ``results/tables/<name>.csv`` whose columns equal
    ``where``: each row's run (its config, seed ``seed``) costs its machine seconds."""
    relative = f"results/tables/{name}.csv"
    frame = r.csv_file(relative)
    for column, wanted in (where or {}).items():
        if column not in frame.columns:
            raise KeyError(f"{relative}: no column {column!r}")
        frame = frame[frame[column] == str(wanted)]
    configs = [c for c in frame["config"] if c]
    if not configs:
        raise ValueError(f"{relative}: no row with a run matches {where!r}")
    minutes = [run_cost(r.records(config, [seed])[0])[0] / 60.0 for config in configs]
    return _span(minutes, digits, f"{relative} {where!r}")
