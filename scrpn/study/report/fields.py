"""The REPORT's fields: every number of its prose, read from a committed record.

Each field is a function of literal arguments (:mod:`.template`) that reads the repository's
committed results through one :class:`Results` (rooted at the repository, memoised). Where a
number comes from decides the field:

=================  ==========================================================================
field              reads
=================  ==========================================================================
``value``          one seed's metric: ``results/runs/<run>/seed<k>/metrics.json``
``seeds``          every committed seed's value of a metric, ``" / "``-joined, in seed order
``mean`` / ``sd``  the seed mean / sample sd of a metric (``scrpn.study.stats``)
``n``              how many seeds a run has committed
``delta`` / ``se`` Δ = mean(a) - mean(b) / its standard error (``stats.difference``)
``diff``           ``"+7.8 [0.5]"``: Δ and its se as every REPORT comparison prints them
(``commit=``)      each of the above as the runs' records were at an earlier commit (a text
                   written then: a pre-registration quoting "today's" numbers)
``log``            a training log value at an iteration (``log.jsonl``)
``json`` / ``csv`` any committed JSON value (dotted key) / one cell of a committed CSV
``table``          one cell of a rendered paper table (``results/tables/<name>.csv``)
``paper``          one cell of the paper's table (``results/paper/<name>.csv``)
``at``             a JSON value as committed at an earlier commit (history: a run since replaced)
``const``          a rule constant or a pinned version, by name (:mod:`.constants`)
``fmt``            re-formats a number (digits, sign, scale, unit, absolute value)
``row``            a compact table's row by config, optionally relabelled (:mod:`.compact`)
``commits``        a compact table's "Code: runs from commits ..." line
``block``          a whole rendered block (passed in by the caller: :mod:`.blocks`)
=================  ==========================================================================

A field is a function ``f(results, *args, **kwargs)`` registered with :func:`field`; the
general ones are here, those of one topic (proposal statistics, benches, ...) in a
``fields_<topic>.py`` module beside this one. Numbers are :class:`Num`: a float that prints with its own digits (default 1), optional sign and
unit; arithmetic on them gives plain floats, printed with one decimal unless wrapped in ``fmt``.
Every formatting keyword (``digits``, ``sign``, ``scale``, ``unit``, ``absolute``) is accepted by
every numeric field. ``tests/test_report.py`` pins each field on hand-made records.
"""
from __future__ import annotations

import fnmatch
import importlib
import json as _json
import math
import pkgutil
import statistics
import subprocess
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import pandas as pd

from ..stats import difference, difference_change, sample_sd

__all__ = ["FIELDS", "Num", "Results", "field", "fields", "fmt", "load_field_modules"]


class Num(float):
    """A float that prints itself: ``digits`` after the point, ``+`` when ``sign``, then ``unit``."""

    digits: int
    sign: bool
    unit: str

    def __new__(cls, value: float, digits: int = 1, sign: bool = False, unit: str = "") -> "Num":
        self = super().__new__(cls, value)
        self.digits, self.sign, self.unit = int(digits), bool(sign), str(unit)
        return self

    def __str__(self) -> str:
        if math.isnan(self):
            return "n/a"
        return f"{float(self):{'+' if self.sign else ''}.{self.digits}f}{self.unit}"

    __repr__ = __str__


def fmt(value: Any, digits: int = 1, sign: bool = False, scale: float = 1.0, unit: str = "",
        absolute: bool = False) -> Num:
    """``value`` (a number) as a :class:`Num`: times ``scale``, made positive if ``absolute``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    number = float(value) * float(scale)
    return Num(abs(number) if absolute else number, digits, sign, unit)


def _dig(tree: Any, key: str, where: str) -> Any:
    """``tree[key]`` for a dotted key whose integer parts index lists (``runs.0.AR1000``)."""
    node = tree
    for part in key.split(".") if key else []:
        if isinstance(node, list) and part.lstrip("-").isdigit():
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(f"{where}: no key {key!r} (stopped at {part!r})")
    return node


class Results:
    """The committed records under one repository root, read once each."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.json_file = lru_cache(maxsize=None)(self._read_json)
        self.csv_file = lru_cache(maxsize=None)(self._read_csv)
        self.log_entries = lru_cache(maxsize=None)(self._read_log)
        self._study: Any = None
        self._tables: dict[tuple, tuple[dict[str, list[str]], list[str]]] = {}
        self._frames: dict[str, Any] = {}

    # -- readers ------------------------------------------------------------------------------
    def _path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"{relative}: outside the repository")
        if not path.is_file():
            raise FileNotFoundError(f"{relative}: no such committed file")
        return path

    def _read_json(self, relative: str) -> Any:
        return _json.loads(self._path(relative).read_text(encoding="utf-8"))

    def _read_csv(self, relative: str) -> pd.DataFrame:
        return pd.read_csv(self._path(relative), dtype=str, keep_default_na=False)

    def _read_log(self, relative: str) -> tuple[dict, ...]:
        lines = self._path(relative).read_text(encoding="utf-8").splitlines()
        return tuple(_json.loads(line) for line in lines if line.strip())

    def records(self, run: str, seeds: Optional[Sequence[int]] = None) -> list[dict]:
        """The committed ``metrics.json`` of ``run``, in seed order (``seeds``: only those)."""
        folder = self.root / "results" / "runs" / run
        found = sorted((int(p.name[4:]), p) for p in folder.glob("seed*") if p.name[4:].isdigit()
                       and (p / "metrics.json").is_file())
        if seeds is not None:
            wanted = [int(s) for s in seeds]
            missing = sorted(set(wanted) - {s for s, _ in found})
            if missing:
                raise FileNotFoundError(f"results/runs/{run}: no committed seed {missing}")
            found = [(s, p) for s, p in found if s in wanted]
        if not found:
            raise FileNotFoundError(f"results/runs/{run}: no committed run")
        return [self.json_file(str((p / "metrics.json").relative_to(self.root))) for _, p in found]

    def records_at(self, commit: str, run: str, seeds: Optional[Sequence[int]] = None) -> list[dict]:
        """``run``'s ``metrics.json`` as committed at ``commit``, in seed order (``seeds``: only
        those; default: every seed folder of that commit's tree)."""
        folder = f"results/runs/{run}"
        if seeds is None:
            done = subprocess.run(["git", "-C", str(self.root), "ls-tree", "--name-only", f"{commit}:{folder}"],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise FileNotFoundError(f"{commit}:{folder}: not in this checkout's history "
                                        f"({done.stderr.strip() or 'git failed'})")
            seeds = sorted(int(name[4:]) for name in done.stdout.split()
                           if name.startswith("seed") and name[4:].isdigit())
            if not seeds:
                raise FileNotFoundError(f"{commit}:{folder}: no committed run")
        return [dict(self.git_json(commit, f"{folder}/seed{int(seed)}/metrics.json"), seed=int(seed)) for seed in seeds]

    def runs_matching(self, patterns: str | Sequence[str], names_need_runs: bool = True) -> list[str]:
        """The committed runs (folders of ``results/runs``) that ``patterns`` name: each entry a
        run's name or an :mod:`fnmatch` pattern (``*``, ``?``, ``[..]``), expanded in the order
        given, a pattern's matches in name order, each run once. An entry that matches no committed
        run is an error naming it, so a mistyped pattern never silently narrows a count or a span
        (``tests/test_report_fields_fidelity.py``). ``names_need_runs=False`` passes a plain name
        through uncommitted (a reader of the paper's tables, whose configs need no run of ours)."""
        entries = [patterns] if isinstance(patterns, str) else list(patterns)
        if not entries:
            raise ValueError("results/runs: no run pattern given")
        folder = self.root / "results" / "runs"
        names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        out: list[str] = []
        for entry in entries:
            if any(c in entry for c in "*?["):
                hits = fnmatch.filter(names, entry)
            else:
                hits = [entry] if entry in names or not names_need_runs else []
            if not hits:
                raise FileNotFoundError(f"results/runs: no committed run matches {entry!r}")
            out += [hit for hit in hits if hit not in out]
        return out

    def values(self, run: str, metric: str, seeds: Optional[Sequence[int]] = None,
               commit: Optional[str] = None) -> list[float]:
        """``metric`` of ``run``'s committed seeds (``commit``: as they were at that commit)."""
        out = []
        records = self.records(run, seeds) if commit is None else self.records_at(commit, run, seeds)
        where = f"{commit}:" if commit else ""
        for record in records:
            value = record.get(metric)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise KeyError(f"{where}results/runs/{run}/seed{record.get('seed')}: no number {metric!r}")
            out.append(float(value))
        return out

    def study(self) -> Any:
        """The mini study over the committed runs (seeds 0-2; trains nothing)."""
        if self._study is None:
            from ..runs import Study
            self._study = Study(profile="mini", seeds=[0, 1, 2], train_missing=False, log=lambda message: None,
                                results_dir=self.root / "results", config_root=self.root / "configs",
                                work_dir=self.root / "work_dirs")
        return self._study

    def compact(self, name: str,
                stand_ins: tuple[tuple[str, str], ...] = ()) -> tuple[dict[str, list[str]], list[str]]:
        """A compact table's rows (:func:`.compact.rows`; ``stand_ins``: ``(paper row's config,
        stand-in config)`` pairs), the table built once however many stand-ins are asked for."""
        key = (name, tuple(stand_ins))
        if key not in self._tables:
            from . import compact
            if name not in self._frames:
                self._frames[name] = compact.table_frame(name, self.study())
            self._tables[key] = compact.rows(name, self.study(), dict(stand_ins), built=self._frames[name])
        return self._tables[key]

    def git_json(self, commit: str, relative: str) -> Any:
        return self._git_json(commit, relative)

    @lru_cache(maxsize=None)
    def _git_json(self, commit: str, relative: str) -> Any:
        done = subprocess.run(["git", "-C", str(self.root), "show", f"{commit}:{relative}"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise FileNotFoundError(f"{commit}:{relative}: not in this checkout's history "
                                    f"({done.stderr.strip() or 'git failed'})")
        return _json.loads(done.stdout)

    # -- the fields ---------------------------------------------------------------------------
    def fields(self) -> dict[str, Callable[..., Any]]:
        """``name -> function`` for :func:`scrpn.study.report.template.render_text`: every
        registered field (:data:`FIELDS`) bound to these records."""
        load_field_modules()
        return {name: partial(function, self) for name, function in FIELDS.items()}


FIELDS: dict[str, Callable[..., Any]] = {}


def load_field_modules() -> None:
    """Import every ``fields_<topic>.py`` module beside this one, registering its fields."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name.startswith("fields_"):
            importlib.import_module(f"{__package__}.{module.name}")


def field(function: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``function(results, *args, **kwargs)`` as the field of its name. Fields of one
    topic live in a ``fields_<topic>.py`` module of this package (loaded by
    :func:`scrpn.study.report.load_field_modules`); a name registered twice is an error."""
    if function.__name__ in FIELDS:
        raise ValueError(f"field {function.__name__!r} is registered twice")
    FIELDS[function.__name__] = function
    return function


def _number_or_text(found: Any, style: dict) -> Any:
    return fmt(found, **style) if isinstance(found, (int, float)) and not isinstance(found, bool) else found


@field
def value(r: Results, run: str, metric: str = "AR1000", seed: int = 0, commit: Optional[str] = None,
          **style: Any) -> Num:
    return fmt(r.values(run, metric, [seed], commit)[0], **style)


@field
def seeds(r: Results, run: str, metric: str = "AR1000", seeds: Optional[Sequence[int]] = None, sep: str = " / ",
          commit: Optional[str] = None, **style: Any) -> str:
    return sep.join(str(fmt(v, **style)) for v in r.values(run, metric, seeds, commit))


@field
def mean(r: Results, run: str, metric: str = "AR1000", seeds: Optional[Sequence[int]] = None,
         commit: Optional[str] = None, **style: Any) -> Num:
    return fmt(statistics.fmean(r.values(run, metric, seeds, commit)), **style)


@field
def sd(r: Results, run: str, metric: str = "AR1000", seeds: Optional[Sequence[int]] = None,
       commit: Optional[str] = None, **style: Any) -> Num:
    return fmt(sample_sd(r.values(run, metric, seeds, commit)), **style)


@field
def n(r: Results, run: str, metric: str = "AR1000") -> int:
    return len(r.values(run, metric))


def _difference(r: Results, a: str, b: str, metric: str, paired: bool, seeds: Optional[Sequence[int]],
                commit: Optional[str] = None):
    return difference(r.values(a, metric, seeds, commit), r.values(b, metric, seeds, commit), paired=paired)


@field
def delta(r: Results, a: str, b: str, metric: str = "AR1000", paired: bool = False,
          seeds: Optional[Sequence[int]] = None, sign: bool = True, commit: Optional[str] = None,
          **style: Any) -> Num:
    return fmt(_difference(r, a, b, metric, paired, seeds, commit).delta, sign=sign, **style)


@field
def se(r: Results, a: str, b: str, metric: str = "AR1000", paired: bool = False,
       seeds: Optional[Sequence[int]] = None, commit: Optional[str] = None, **style: Any) -> Num:
    return fmt(_difference(r, a, b, metric, paired, seeds, commit).se, **style)


@field
def diff(r: Results, a: str, b: str, metric: str = "AR1000", paired: bool = False,
         seeds: Optional[Sequence[int]] = None, digits: int = 1, sep: str = " ",
         commit: Optional[str] = None) -> str:
    """``"+7.8 [0.5]"`` (``sep`` between the two: a line break where the prose breaks its line)."""
    d = _difference(r, a, b, metric, paired, seeds, commit)
    return f"{Num(d.delta, digits, sign=True)}{sep}[{Num(d.se, digits)}]"


@field
def diff_change(r: Results, a: str, b: str, earlier_a: str, earlier_b: str, metric: str = "AR1000",
                digits: int = 1, mark: bool = True, commit: Optional[str] = None) -> str:
    """How far ``a - b`` moved from ``earlier_a - earlier_b`` (e.g. ``s8x_sc_rpn - s8x_rpn``
    against ``sc_rpn - rpn``): ``"-4.0 [0.6]"`` (:func:`..stats.difference_change`), with
    ``mark`` followed by ``", resolved"`` or ``", not resolved"`` so the prose never reads more
    into a change than its standard error allows."""
    change = difference_change(_difference(r, a, b, metric, False, None, commit),
                               _difference(r, earlier_a, earlier_b, metric, False, None, commit))
    text = f"{Num(change.delta, digits, sign=True)} [{Num(change.se, digits)}]"
    return text + ((", resolved" if change.resolved else ", not resolved") if mark else "")


@field
def log(r: Results, run: str, key: str, iteration: int, seed: int = 0, **style: Any) -> Num:
    relative = f"results/runs/{run}/seed{seed}/log.jsonl"
    hits = [e for e in r.log_entries(relative) if e.get("iter") == iteration and key in e]
    if not hits:
        raise KeyError(f"{relative}: no {key!r} at iteration {iteration}")
    return fmt(hits[-1][key], **style)


@field
def json(r: Results, path: str, key: str = "", **style: Any) -> Any:
    return _number_or_text(_dig(r.json_file(path), key, path), style)


@field
def csv(r: Results, path: str, column: str, where: Optional[dict] = None, **style: Any) -> Any:
    frame = r.csv_file(path)
    for col, wanted in (where or {}).items():
        if col not in frame.columns:
            raise KeyError(f"{path}: no column {col!r}")
        frame = frame[frame[col] == str(wanted)]
    if column not in frame.columns:
        raise KeyError(f"{path}: no column {column!r}")
    if len(frame) != 1:
        raise ValueError(f"{path}: {len(frame)} rows match {where!r}, need exactly one")
    cell = frame[column].iloc[0]
    try:
        return fmt(float(cell), **style)
    except ValueError:
        return cell


@field
def table(r: Results, name: str, row: str, column: str, **style: Any) -> Any:
    frame = r.csv_file(f"results/tables/{name}.csv")
    key = "config" if "config" in frame.columns and row in set(frame["config"]) else "method"
    return csv(r, f"results/tables/{name}.csv", column, {key: row}, **style)


@field
def paper(r: Results, name: str, method: str, column: str, **style: Any) -> Any:
    return csv(r, f"results/paper/{name}.csv", column, {"method": method}, **style)


@field
def at(r: Results, commit: str, path: str, key: str, **style: Any) -> Any:
    return _number_or_text(_dig(r.git_json(commit, path), key, f"{commit}:{path}"), style)


@field
def row(r: Results, name: str, config: str, label: Optional[str] = None, stands_for: Optional[str] = None) -> str:
    """``stands_for``: the config of the paper row whose place ``config`` takes (a diagnostic
    row beside it: that row's paper values and reference; :mod:`.compact`)."""
    done, _ = r.compact(name, ((stands_for, config),) if stands_for is not None else ())
    if config not in done:
        raise KeyError(f"results/tables/{name}: no computed row {config!r} (have: {', '.join(done)})")
    cells = done[config]
    return "| " + " | ".join([label if label is not None else cells[0], *cells[1:]]) + " |"


@field
def commits(r: Results, name: str) -> str:
    from . import compact
    return compact.commits(name, r.study())


@field
def const(r: Results, name: str, **style: Any) -> Any:
    from .constants import const as lookup
    found = lookup(name)
    return fmt(found, **style) if style else found


FIELDS["fmt"] = lambda r, *args, **kwargs: fmt(*args, **kwargs)   # reads no record


def fields(root: str | Path) -> dict[str, Callable[..., Any]]:
    """The fields reading the repository at ``root``."""
    return Results(root).fields()
