"""Fields of the REPORT's fidelity, pilot and observation sections (``results/report/04_fidelity.md``,
``05_pilot.md``, ``13_observations.md``): numbers that a registered rule, a run's diagnostics or
the history of the committed runs computes, not one metric of one run.

=========================  ======================================================================
field                      reads
=========================  ======================================================================
``rule_result``            a value of an experiment's registered rule, applied to the committed
                           runs (``scrpn.study.experiments.REGISTRY[n].rule``; a Δ prints as
                           ``"+1.4 [1.1]"``, as ``scripts/cause_report.py`` prints it)
``iteration_seconds``      the median logged ``sec_per_iter`` (``log.jsonl``) over runs' seeds, or
                           with ``each=True`` the (min, max) of each run-seed's median
``committed_runs``         how many runs (``results/runs/*/seed*/metrics.json``) a commit held, or
                           how many of them named no ``key`` (``code_commit``: no commit)
``seed_runs``              how many seed runs some rows have committed together
=========================  ======================================================================

Their neighbours in ``fields_verdicts.py`` (``stage1_margin``, ``record_mean``, ``span``,
``nearest``, ``e7_pair_count``) serve these sections too.
``tests/test_report_fields_fidelity.py`` pins each on hand-made records with hand-derived values.
"""
from __future__ import annotations

import json as _json
import math
import statistics
import subprocess
from typing import Any, Optional, Sequence

from ..stats import Difference
from .fields import Num, Results, field, fmt

__all__ = ["committed_runs", "experiment_runs", "iteration_seconds", "rule_result", "rule_value", "seed_runs"]


def _rule_output(r: Results, experiment: int) -> dict:
    """Experiment ``experiment``'s registered rule on the committed runs (memoised per records)."""
    memo = r.__dict__.setdefault("_rule_outputs", {})
    if experiment not in memo:
        from ..experiments import REGISTRY, experiment_runs
        if experiment not in REGISTRY:
            raise KeyError(f"no registered experiment {experiment!r} (known: {sorted(REGISTRY)})")
        record = REGISTRY[experiment]
        memo[experiment] = record.rule(experiment_runs(r.study())(record))
    return memo[experiment]


def _dig_rule(node: Any, key: str, where: str) -> Any:
    """``node[key]`` along a dotted key; a :class:`Difference`'s parts are ``delta``, ``se``, ``n``.
    A key that itself holds dots (experiment 10's claim "... lr 0.005") is matched whole: at each
    level the longest run of parts that names a key wins (``tests/test_report_fields_fidelity.py``)."""
    parts = key.split(".") if key else []
    i = 0
    while i < len(parts):
        if isinstance(node, Difference) and parts[i] in ("delta", "se", "n"):
            node, i = getattr(node, parts[i]), i + 1
            continue
        step = next((j for j in range(len(parts), i, -1)
                     if isinstance(node, dict) and ".".join(parts[i:j]) in node), None)
        if step is None:
            raise KeyError(f"{where}: no key {key!r} (stopped at {parts[i]!r})")
        node, i = node[".".join(parts[i:step])], step
    return node


def rule_value(output: dict, key: str, where: str = "rule", digits: int = 1, **style: Any) -> Any:
    """The value at ``key`` of a rule's output, printed: a Δ as ``"+Δ [se]"``, a number as a
    :class:`Num`, text as it is."""
    found = _dig_rule(output, key, where)
    if isinstance(found, Difference):
        se = "n/a" if not math.isfinite(found.se) else str(Num(found.se, digits))
        return f"{Num(found.delta, digits, sign=True)} [{se}]"
    if isinstance(found, bool) or found is None:
        raise ValueError(f"{where}: {key!r} is {found!r}, not a number or text")
    if isinstance(found, (int, float)):
        return fmt(found, digits=digits, **style)
    if isinstance(found, str):
        return found
    raise ValueError(f"{where}: {key!r} is a {type(found).__name__}, not a number or text")


@field
def rule_result(r: Results, experiment: int, key: str, digits: int = 1, **style: Any) -> Any:
    """A value of experiment ``experiment``'s registered rule on the committed runs (e.g.
    ``rule_result(8, "closer_by", sign=True)``, ``rule_result(2, "arms.G2.vs_rpn")``)."""
    return rule_value(_rule_output(r, experiment), key, f"experiment {experiment}'s rule", digits, **style)


@field
def seed_runs(r: Results, runs: Sequence[str]) -> int:
    """How many seed runs (``metrics.json``) ``runs`` have committed, all together."""
    return sum(len(r.records(run)) for run in ([runs] if isinstance(runs, str) else runs))


@field
def experiment_runs(r: Results, patterns: Sequence[str], what: str = "seeds") -> int:
    """The committed runs that ``patterns`` name (:meth:`Results.runs_matching`, e.g. ``"x4*"``, an
    experiment's new rows; each pattern must match one): how many seed runs (``what="seeds"``) or
    rows (``"rows"``)."""
    if what not in ("seeds", "rows"):
        raise ValueError(f"what must be 'seeds' or 'rows', not {what!r}")
    rows = r.runs_matching(patterns)
    return len(rows) if what == "rows" else seed_runs(r, rows)


def _seed_folders(r: Results, run: str, seeds: Optional[Sequence[int]]) -> list[str]:
    folder = r.root / "results" / "runs" / run
    found = sorted(int(p.name[4:]) for p in folder.glob("seed*") if p.name[4:].isdigit())
    if seeds is not None:
        missing = sorted(set(int(s) for s in seeds) - set(found))
        if missing:
            raise FileNotFoundError(f"results/runs/{run}: no committed seed {missing}")
        found = [s for s in found if s in set(int(s) for s in seeds)]
    if not found:
        raise FileNotFoundError(f"results/runs/{run}: no committed run")
    return [f"results/runs/{run}/seed{s}/log.jsonl" for s in found]


@field
def iteration_seconds(r: Results, runs: Sequence[str], seeds: Optional[Sequence[int]] = None, each: bool = False,
                      sep: str = "-", digits: int = 2, **style: Any) -> Any:
    """Training seconds per iteration, as logged (``sec_per_iter`` of each ``log.jsonl`` record):
    the median over every record of ``runs``' seeds, or with ``each`` the lowest and highest of
    the run-seeds' own medians, ``sep``-joined (``"1.2-1.4"``)."""
    medians, pooled = [], []
    for run in ([runs] if isinstance(runs, str) else runs):
        for relative in _seed_folders(r, run, seeds):
            times = [float(e["sec_per_iter"]) for e in r.log_entries(relative) if "sec_per_iter" in e]
            if not times:
                raise KeyError(f"{relative}: no sec_per_iter")
            medians.append(statistics.median(times))
            pooled += times
    if each:
        return f"{fmt(min(medians), digits=digits, **style)}{sep}{fmt(max(medians), digits=digits, **style)}"
    return fmt(statistics.median(pooled), digits=digits, **style)


def _git(r: Results, *args: str, stdin: Optional[bytes] = None) -> bytes:
    done = subprocess.run(["git", "-C", str(r.root), *args], input=stdin, capture_output=True)
    if done.returncode != 0:
        raise FileNotFoundError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip() or 'failed'}")
    return done.stdout


def _records_at(r: Results, commit: str) -> tuple[dict, ...]:
    """Every run record (``results/runs/<run>/seed<k>/metrics.json``) as ``commit`` held them."""
    memo = r.__dict__.setdefault("_records_at", {})
    if commit not in memo:
        names = [n for n in _git(r, "ls-tree", "-r", "--name-only", commit, "results/runs").decode().splitlines()
                 if n.count("/") == 4 and n.endswith("/metrics.json") and n.split("/")[3].startswith("seed")]
        batch = _git(r, "cat-file", "--batch", stdin="".join(f"{commit}:{n}\n" for n in names).encode())
        records, at = [], 0
        for _ in names:
            end = batch.index(b"\n", at)
            size = int(batch[at:end].split()[2])
            records.append(_json.loads(batch[end + 1:end + 1 + size]))
            at = end + 1 + size + 1
        memo[commit] = tuple(records)
    return memo[commit]


@field
def committed_runs(r: Results, commit: str, without: Optional[str] = None) -> int:
    """How many run records ``commit`` held; with ``without``, how many of them had no value
    for that key (absent, null or empty: ``code_commit`` -> the runs that name no commit)."""
    records = _records_at(r, commit)
    return len(records) if without is None else sum(1 for d in records if not d.get(without))
