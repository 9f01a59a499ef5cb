"""The statistics every comparison of the study rests on, and reading cached runs by row.

The REPORT's conventions (``results/REPORT.md``, "Pre-registered: tracing each non-reproduction
to a cause"), in one place for the paper's tables, their prose and the cause experiments:

* :func:`difference`: Δ = mean(a) - mean(b) over seeds, with its standard error
  sqrt(s_a²/n_a + s_b²/n_b) (sample standard deviations, :func:`difference_se`), or, ``paired``
  (both arms scored from the same checkpoints, seed by seed), the standard error of the per-seed
  differences, sd/√n. A difference is **resolved** when |Δ| ≥ ``RESOLVED_SE`` se.
* :func:`difference_change`: how much a difference moved between two sets of trainings (the
  same pair of rows at two schedules), Δ_later - Δ_earlier with se sqrt(se_later² + se_earlier²).
* :func:`arm_difference`: one-seed arms against a reference's seed mean and sd.
* :func:`cached_runs` / :func:`metric`: ``row -> [metrics.json records]`` of a study's cached
  seeds, and one metric of them (trains nothing).

This module is the study's core: it imports no cause experiment (``tests/test_architecture.py``).
``tests/test_verdicts.py`` pins the arithmetic on hand-computed numbers.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Sequence

__all__ = ["Difference", "Metric", "RESOLVED_SE", "Runs", "arm_difference", "cached_runs", "difference",
           "difference_change", "difference_se", "metric", "sample_sd"]

RESOLVED_SE = 2.5          # a difference is resolved at |Δ| >= 2.5 standard errors

Runs = Callable[[str], list]     # row -> the cached metrics.json records of its seeds
Metric = Callable[[str], list]   # row -> one metric's value per seed (seeds with a result only)


def sample_sd(values: Sequence[float]) -> float:
    """The sample standard deviation (ddof = 1); NaN with fewer than two values."""
    return statistics.stdev(values) if len(values) > 1 else math.nan


def difference_se(std_a: float, seeds_a: int, std_b: float, seeds_b: int) -> float:
    """Standard error of a difference of two independent means, sqrt(s_a²/n_a + s_b²/n_b); NaN
    when either side has one seed (no spread to estimate)."""
    if seeds_a < 2 or seeds_b < 2 or math.isnan(std_a) or math.isnan(std_b):
        return math.nan
    return math.sqrt(std_a ** 2 / seeds_a + std_b ** 2 / seeds_b)


@dataclass(frozen=True)
class Difference:
    delta: float          # mean(a) - mean(b)
    se: float             # its standard error (NaN with one seed on a side)
    n: int                # seeds used (the smaller side, or the pairs)

    @property
    def resolved(self) -> bool:
        return math.isfinite(self.se) and abs(self.delta) >= RESOLVED_SE * self.se

    def text(self, digits: int = 1) -> str:
        se = "n/a" if not math.isfinite(self.se) else f"{self.se:.{digits}f}"
        return f"{self.delta:+.{digits}f} [{se}]{' resolved' if self.resolved else ''}"


def difference(a: Sequence[float], b: Sequence[float], paired: bool = False) -> Difference:
    """Δ = mean(a) - mean(b) with its standard error (see the module docstring)."""
    if not a or not b:
        raise ValueError("both arms need at least one seed")
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired arms need the same seeds, got {len(a)} and {len(b)}")
        d = [x - y for x, y in zip(a, b)]
        return Difference(statistics.fmean(d), sample_sd(d) / math.sqrt(len(d)), len(d))
    se = difference_se(sample_sd(a), len(a), sample_sd(b), len(b))
    return Difference(statistics.fmean(a) - statistics.fmean(b), se, min(len(a), len(b)))


def difference_change(later: Difference, earlier: Difference) -> Difference:
    """How far a difference moved: ``later.delta - earlier.delta``, se sqrt(se_l² + se_e²).

    The two differences come from separate trainings (e.g. a pair of rows at the mini schedule
    and the same pair at 8x), so their errors add as independent ones. Runs of one seed number
    at two schedules start from the same initialisation, which can only correlate the two
    differences positively; treating them as independent then overstates the se, so a change
    called resolved here is resolved at least as strongly (``tests/test_verdicts.py``)."""
    return Difference(later.delta - earlier.delta, math.hypot(later.se, earlier.se), min(later.n, earlier.n))


def arm_difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """Δ of an arm against its reference under the REPORT's conventions: :func:`difference` when
    both have at least two seeds; a one-seed arm against a reference of several seeds is compared
    with the reference's seed mean, and its "se" is the reference's seed sd, so that it is resolved
    when it exceeds 2.5 times that sd (the registered rule for one-seed arms)."""
    if len(a) == 1 and len(b) >= 2:
        return Difference(a[0] - statistics.fmean(b), sample_sd(b), 1)
    return difference(a, b)


def cached_runs(study: Any) -> Runs:
    """``row -> [metrics.json records]`` of the study's seeds that are cached (memoised; trains
    nothing)."""
    cache: dict[str, list[dict]] = {}

    def runs(row: str) -> list[dict]:
        if row not in cache:
            found = [study.cached(row, s) for s in study.seeds]
            cache[row] = [r for r in found if r is not None]
        return cache[row]

    return runs


def metric(runs: Runs, key: str) -> Metric:
    """``row -> [records[key] per seed]`` from ``runs`` (seeds without the key left out)."""
    return lambda row: [r[key] for r in runs(row) if r.get(key) is not None]
