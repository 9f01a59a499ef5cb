"""Issue 37's pre-registered equivalence rule: does bfloat16 training give the same AR1000?

The rule, registered in ``results/REPORT.md`` ("Pre-registered: bfloat16 against float32") before
any of its runs: for each method (RPN, SC-RPN), Δ = mean AR1000 of the bf16 seeds − mean AR1000 of
the committed fp32 seeds, with the REPORT's standard error of a difference of two independent
means (:func:`scrpn.study.stats.difference_se`, sqrt(s_a²/n_a + s_b²/n_b), sample sds). Its 90 %
interval is Δ ± 1.645 se (the normal quantile: the REPORT reads every difference in multiples of
se, without a t correction). bf16 is **equivalent** for a method when that interval lies inside
±1.5 AR1000 (two one-sided tests at 5 % each); **equivalent** overall when it is for both methods.
A method with fewer than two seeds on a side has no se: its verdict is ``None`` (not decided).

``tests/test_equivalence.py`` pins the arithmetic on hand-computed numbers.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

from .stats import difference_se

__all__ = ["BF16_ARMS", "EQUIVALENCE_MARGIN", "INTERVAL_Z", "Equivalence", "bf16_equivalence",
           "equivalence", "registered_ar1000"]

EQUIVALENCE_MARGIN = 1.5   # AR1000 points either side of 0
INTERVAL_Z = 1.645         # the 90 % two-sided normal quantile (z_0.95)
# method -> (bf16 row, fp32 row): the registered arms
BF16_ARMS = {"RPN": ("bf16_rpn", "rpn"), "SC-RPN": ("bf16_sc_rpn", "sc_rpn")}


@dataclass(frozen=True)
class Equivalence:
    delta: float          # mean(bf16) - mean(fp32)
    se: float             # its standard error (NaN with one seed on a side)
    low: float            # delta - 1.645 se
    high: float           # delta + 1.645 se
    seeds: tuple[int, int]

    @property
    def equivalent(self) -> Optional[bool]:
        """Inside ±1.5 (None when the se is undefined)."""
        if not math.isfinite(self.se):
            return None
        return -EQUIVALENCE_MARGIN < self.low and self.high < EQUIVALENCE_MARGIN

    def text(self) -> str:
        if not math.isfinite(self.se):
            return f"{self.delta:+.2f} (se n/a, seeds {self.seeds[0]} / {self.seeds[1]})"
        return (f"{self.delta:+.2f} [{self.se:.2f}], 90 % interval [{self.low:+.2f}, {self.high:+.2f}]"
                f" ({self.seeds[0]} / {self.seeds[1]} seeds)")


def equivalence(bf16: Sequence[float], fp32: Sequence[float]) -> Equivalence:
    """The registered interval of one method's AR1000 difference (bf16 − fp32)."""
    if not bf16 or not fp32:
        raise ValueError("both arms need at least one seed")
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else math.nan
    delta = statistics.fmean(bf16) - statistics.fmean(fp32)
    se = difference_se(sd(bf16), len(bf16), sd(fp32), len(fp32))
    return Equivalence(delta, se, delta - INTERVAL_Z * se, delta + INTERVAL_Z * se,
                       (len(bf16), len(fp32)))


def bf16_equivalence(ar1000: Mapping[str, Sequence[float]]) -> tuple[dict[str, Equivalence], Optional[bool]]:
    """Each method's :class:`Equivalence` and the verdict (True: equivalent for both methods;
    False: not equivalent for at least one; None: not decided yet). ``ar1000`` maps a row name to
    its AR1000 per seed (seeds with a result only)."""
    per = {method: equivalence(ar1000[b], ar1000[f]) for method, (b, f) in BF16_ARMS.items()
           if ar1000.get(b) and ar1000.get(f)}
    verdicts = [per[m].equivalent if m in per else None for m in BF16_ARMS]
    if any(v is False for v in verdicts):
        return per, False
    if all(v is True for v in verdicts):
        return per, True
    return per, None


def registered_ar1000(results_dir: str | Path, seeds: Sequence[int] = (0, 1, 2)) -> dict[str, list[float]]:
    """AR1000 per seed of the registered arms' rows, read from ``<results_dir>/runs/<row>/seed<k>/
    metrics.json`` (seeds without a result are left out)."""
    out: dict[str, list[float]] = {}
    for rows in BF16_ARMS.values():
        for row in rows:
            values = []
            for seed in seeds:
                path = Path(results_dir) / "runs" / row / f"seed{seed}" / "metrics.json"
                if path.is_file():
                    values.append(float(json.loads(path.read_text(encoding="utf-8"))["AR1000"]))
            out[row] = values
    return out
