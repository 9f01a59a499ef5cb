"""Fields of the REPORT's pre-registered sections (causes, the converged regime, bf16) and of its
throughput section: numbers computed from committed records that the general fields
(:mod:`.fields`) print only one at a time.

=====================  =====================================================================
field                  reads
=====================  =====================================================================
``bf16_interval``      issue 37's registered interval of one method's AR1000 difference, bf16 −
                       fp32 (``scrpn.study.equivalence.equivalence``): its Δ, se, low or high
                       end; ``paired=True``: the same over seeds paired by number (not the
                       registered reading)
``bf16_planned``       what the registration expected before the runs: the fp32 arm's sd in
                       both arms gives se, the interval's half width and the room left for |Δ|
``seed_delta``         one seed's a − b of a metric, signed, with the REPORT's ``−`` for minus
``seed_deltas``        every seed's a − b, joined (``"+0.22, +0.32, +0.89"``)
``bench_cell``         one cell of a ``scrpn bench --precisions fp32 bf16`` table:
                       ``"232 -> 195 ms (x1.19)"`` (fp32 -> bf16, and bf16's speed-up)
``rounds_spread``      the largest max / min of one kind of a bench's timed rounds, over its
                       methods and precisions (how much the rounds of one method varied)
``json_max`` /         the largest / smallest value of a committed JSON over keys matched with
``json_min``           ``*`` (``bits_2_threads_vs_1.*.max_weight_diff_rel_to_scale``)
``sci``                a number in short scientific notation (``1.5e-6``)
``floor_gap``          the largest / smallest time-to-floor minus FLOP-to-floor ratio of a bench
=====================  =====================================================================

Every field reads committed files through :class:`~.fields.Results` and is pinned on hand-made
records in ``tests/test_report_fields_prereg.py``.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Optional, Sequence

from ..stats import difference, sample_sd
from .fields import Num, Results, _dig, field, fmt

__all__: list[str] = []

MINUS = "−"   # the REPORT's minus sign in its per-seed lists


@field
def bf16_interval(r: Results, method: str, part: str = "delta", paired: bool = False, digits: int = 2,
                  sign: Optional[bool] = None, **style: Any) -> Num:
    """``part`` (delta, se, low, high) of issue 37's interval for ``method`` ("RPN", "SC-RPN").
    Unpaired (the registered rule): :func:`scrpn.study.equivalence.equivalence`. Paired: Δ and se
    of the per-seed differences (:func:`scrpn.study.stats.difference`), the interval Δ ± z se with
    the rule's z (``INTERVAL_Z``)."""
    from ..equivalence import BF16_ARMS, INTERVAL_Z, equivalence
    if method not in BF16_ARMS:
        raise KeyError(f"no bf16 arm {method!r} (known: {', '.join(BF16_ARMS)})")
    bf16_row, fp32_row = BF16_ARMS[method]
    bf16, fp32 = r.values(bf16_row, "AR1000"), r.values(fp32_row, "AR1000")
    if paired:
        d = difference(bf16, fp32, paired=True)
        parts = {"delta": d.delta, "se": d.se, "low": d.delta - INTERVAL_Z * d.se, "high": d.delta + INTERVAL_Z * d.se}
    else:
        e = equivalence(bf16, fp32)
        parts = {"delta": e.delta, "se": e.se, "low": e.low, "high": e.high}
    if part not in parts:
        raise KeyError(f"no part {part!r} of an interval (known: {', '.join(parts)})")
    return fmt(parts[part], digits=digits, sign=part != "se" if sign is None else sign, **style)


def _signed(value: float, digits: int, minus: str) -> str:
    text = f"{value:+.{digits}f}"
    return minus + text[1:] if text.startswith("-") else text


@field
def seed_delta(r: Results, a: str, b: str, metric: str = "AR1000", seed: int = 0, digits: int = 2,
               minus: str = MINUS) -> str:
    """Seed ``seed``'s ``a`` − ``b`` of ``metric``, always signed."""
    return _signed(r.values(a, metric, [seed])[0] - r.values(b, metric, [seed])[0], digits, minus)


@field
def seed_deltas(r: Results, a: str, b: str, metric: str = "AR1000", seeds: Optional[Sequence[int]] = None,
                sep: str = ", ", digits: int = 2, minus: str = MINUS) -> str:
    """Every seed's ``a`` − ``b`` (both runs must have the same seeds), in seed order."""
    va, vb = r.values(a, metric, seeds), r.values(b, metric, seeds)
    if len(va) != len(vb):
        raise ValueError(f"{a} has {len(va)} seeds and {b} {len(vb)}: name the seeds")
    return sep.join(_signed(x - y, digits, minus) for x, y in zip(va, vb))


# what -> (the fp32 key, the bf16 speed-up key, scale to print, digits, unit)
_BENCH = {"train": ("train_seconds_per_iter", "train_speedup", 1000.0, 0, " ms"),
          "infer": ("infer_seconds_per_image", "infer_speedup", 1000.0, 1, " ms"),
          "floor": ("floor_seconds_per_iter", "floor_speedup", 1000.0, 0, " ms")}


@field
def bench_cell(r: Results, path: str, method: str, what: str = "train", digits: Optional[int] = None,
               ratio_only: Optional[bool] = None) -> str:
    """``"<fp32> -> <bf16> ms (x<speed-up>)"`` of ``method`` in a ``scrpn bench --precisions fp32
    bf16`` JSON; ``what``: train (per iteration), infer (per image), floor; the floor prints only
    ``"x<speed-up>"`` unless ``ratio_only=False``."""
    if what not in _BENCH:
        raise KeyError(f"no bench timing {what!r} (known: {', '.join(_BENCH)})")
    key, speedup, scale, default_digits, unit = _BENCH[what]
    record = _dig(r.json_file(path), f"methods.{method}", path)
    bf16 = _dig(record, "precisions.bf16", f"{path}: {method}")
    ratio = f"x{float(_dig(bf16, speedup, path)):.2f}"
    if ratio_only if ratio_only is not None else what == "floor":
        return ratio
    d = default_digits if digits is None else digits
    return (f"{float(_dig(record, key, path)) * scale:.{d}f} -> {float(_dig(bf16, key, path)) * scale:.{d}f}"
            f"{unit} ({ratio})")


@field
def rounds_spread(r: Results, path: str, kind: str = "train", methods: Optional[Sequence[str]] = None,
                  precisions: Optional[Sequence[str]] = None, **style: Any) -> Num:
    """The largest max / min of the ``<kind>_rounds`` of a bench JSON, over ``methods`` (all) and
    ``precisions`` (fp32, the method's own entry, and every ``precisions.<p>`` entry)."""
    spreads = []
    for name, record in _dig(r.json_file(path), "methods", path).items():
        if methods is not None and name not in methods:
            continue
        arms = {record.get("precision", "fp32"): record, **record.get("precisions", {})}
        for precision, arm in arms.items():
            rounds = arm.get(f"{kind}_rounds")
            if (precisions is None or precision in precisions) and rounds:
                spreads.append(max(rounds) / min(rounds))
    if not spreads:
        raise KeyError(f"{path}: no {kind}_rounds for {methods or 'any method'}")
    return fmt(max(spreads), **style)


def _matching(tree: Any, parts: list[str], where: str) -> list[Any]:
    if not parts:
        return [tree]
    head, rest = parts[0], parts[1:]
    if isinstance(tree, dict):
        keys = [k for k in tree if fnmatch.fnmatchcase(k, head)] if "*" in head else [head] * (head in tree)
        return [v for k in keys for v in _matching(tree[k], rest, where)]
    if isinstance(tree, list):
        if head == "*":
            return [v for item in tree for v in _matching(item, rest, where)]
        if head.lstrip("-").isdigit() and -len(tree) <= int(head) < len(tree):
            return _matching(tree[int(head)], rest, where)
    return []


def _numbers(r: Results, path: str, pattern: str) -> list[float]:
    found = [float(v) for v in _matching(r.json_file(path), pattern.split("."), path)
             if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not found:
        raise KeyError(f"{path}: no number matches {pattern!r}")
    return found


@field
def json_max(r: Results, path: str, pattern: str, **style: Any) -> Num:
    """The largest number of ``path`` at the dotted ``pattern`` (``*`` matches any key or index)."""
    return fmt(max(_numbers(r, path, pattern)), **style)


@field
def json_min(r: Results, path: str, pattern: str, **style: Any) -> Num:
    """The smallest number of ``path`` at the dotted ``pattern`` (``*`` matches any key or index)."""
    return fmt(min(_numbers(r, path, pattern)), **style)


@field
def sci(r: Results, value: Any, digits: int = 1) -> str:   # noqa: ARG001  (reads no record)
    """``value`` as ``<mantissa>e<exponent>`` with ``digits`` after the point: ``1.5e-6``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    mantissa, exponent = f"{float(value):.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


@field
def bf16_planned(r: Results, method: str, part: str = "se", digits: int = 2, **style: Any) -> Num:
    """What issue 37's registration expected for ``method`` before its runs: the fp32 arm's AR1000
    seed sd in both arms, as many seeds each: ``se`` (:func:`scrpn.study.stats.difference_se`),
    ``half`` the interval's half width (z se) and ``room`` how large |Δ| may be for the interval to
    stay inside the margin (margin − z se)."""
    from ..equivalence import BF16_ARMS, EQUIVALENCE_MARGIN, INTERVAL_Z
    from ..stats import difference_se
    if method not in BF16_ARMS:
        raise KeyError(f"no bf16 arm {method!r} (known: {', '.join(BF16_ARMS)})")
    fp32 = r.values(BF16_ARMS[method][1], "AR1000")
    se = difference_se(sample_sd(fp32), len(fp32), sample_sd(fp32), len(fp32))
    parts = {"se": se, "half": INTERVAL_Z * se, "room": EQUIVALENCE_MARGIN - INTERVAL_Z * se}
    if part not in parts:
        raise KeyError(f"no part {part!r} (known: {', '.join(parts)})")
    return fmt(parts[part], digits=digits, **style)


@field
def floor_gap(r: Results, path: str, which: str = "max", sign: bool = True, **style: Any) -> Num:
    """The largest (``which="max"``) or smallest (``"min"``) difference, over a bench JSON's
    methods, of the step's time ratio to its floor minus its forward-FLOP ratio to its floor
    (``train_ratio_to_floor - flops_ratio_to_floor``): how far the time lies from the arithmetic."""
    if which not in ("max", "min"):
        raise KeyError(f"which must be 'max' or 'min', not {which!r}")
    gaps = [float(m["train_ratio_to_floor"]) - float(m["flops_ratio_to_floor"])
            for m in _dig(r.json_file(path), "methods", path).values()]
    if not gaps:
        raise KeyError(f"{path}: no methods")
    return fmt(max(gaps) if which == "max" else min(gaps), sign=sign, **style)
