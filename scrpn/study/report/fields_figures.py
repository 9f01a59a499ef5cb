"""Fields of the REPORT's figures section: the numbers behind Figs. 6-8, read from a run's committed
``proposal_stats.npz`` through the same functions that draw the figures.

==========================  ======================================================================
field                       reads (``results/runs/<run>/seed<k>/proposal_stats.npz``)
==========================  ======================================================================
``proposal_iou_share``      Fig. 6: the share of the top-k proposals whose best IoU with an
                            object is >= t, in per cent
                            (:func:`scrpn.evaluation.proposal_stats.proposal_share_at_least`)
``object_recall``           Fig. 7: the share of objects whose best top-k proposal has IoU >= t,
                            in per cent (:func:`scrpn.viz.figures.recall_at_iou`)
``aspect_recall``           Fig. 8: that share per aspect-ratio bin, ``" / "``-joined
                            (:func:`scrpn.viz.figures.recall_by_aspect_ratio`)
``aspect_counts``           Fig. 8: the objects per aspect-ratio bin, ``"2,521 / 395 / ..."``
``aspect_bins``             Fig. 8: the bins' labels, ``"[1, 1.5) / ... / >= 5"``
==========================  ======================================================================

Every field is pinned on hand-made statistics in ``tests/test_report_fields_figures.py``.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from .fields import Num, Results, field, fmt

__all__: list[str] = []


def _stats(r: Results, run: str, seed: int) -> dict:
    from ...evaluation.proposal_stats import load_stats
    relative = f"results/runs/{run}/seed{seed}/proposal_stats.npz"
    return load_stats(r._path(relative))


def _aspect(r: Results, run: str, threshold: float, budget: int, seed: int) -> tuple:
    from ...viz.figures import recall_by_aspect_ratio
    return recall_by_aspect_ratio(_stats(r, run, seed), threshold, budget)


@field
def proposal_iou_share(r: Results, run: str, threshold: float, budget: int = 300, seed: int = 0,
                       scale: float = 100.0, **style: Any) -> Num:
    """Fig. 6: per cent of ``run``'s top-``budget`` proposals (all images) at IoU >= ``threshold``."""
    from ...evaluation.proposal_stats import proposal_share_at_least
    return fmt(proposal_share_at_least(_stats(r, run, seed), threshold, budget), scale=scale, **style)


@field
def object_recall(r: Results, run: str, threshold: float, budget: int = 300, seed: int = 0,
                  scale: float = 100.0, **style: Any) -> Num:
    """Fig. 7: per cent of objects whose best top-``budget`` proposal reaches IoU ``threshold``."""
    from ...viz.figures import recall_at_iou
    best = _stats(r, run, seed)[f"best_iou_{budget}"]
    return fmt(float(recall_at_iou(best, [threshold])[0]), scale=scale, **style)


@field
def aspect_recall(r: Results, run: str, threshold: float, budget: int = 1000, seed: int = 0, sep: str = " / ",
                  bins: Optional[Sequence[int]] = None, scale: float = 100.0, **style: Any) -> str:
    """Fig. 8: per cent of each aspect-ratio bin's objects found at IoU ``threshold``, joined
    (``bins``: only those bins, by index, so that a long list can break across lines)."""
    _, recall, _ = _aspect(r, run, threshold, budget, seed)
    return sep.join(str(fmt(float(v), scale=scale, **style)) for v in _pick(recall, bins))


def _pick(values: Any, bins: Optional[Sequence[int]]) -> list:
    values = list(values)
    if bins is None:
        return values
    for i in bins:
        if not 0 <= int(i) < len(values):
            raise IndexError(f"no aspect-ratio bin {i} (there are {len(values)})")
    return [values[int(i)] for i in bins]


@field
def aspect_counts(r: Results, run: str, seed: int = 0, sep: str = " / ") -> str:
    """Fig. 8: the number of objects in each aspect-ratio bin (thousands with a comma), joined."""
    _, _, counts = _aspect(r, run, 0.5, 1000, seed)
    return sep.join(f"{int(c):,}" for c in counts)


@field
def aspect_bins(r: Results, sep: str = " / ") -> str:  # noqa: ARG001  (reads no record: the figure's bins)
    """Fig. 8's aspect-ratio bins as the REPORT names them; the open last bin is ``">= lo"``."""
    from ...viz.figures import ASPECT_BINS

    def edge(v: float) -> str:
        return f"{v:g}"

    return sep.join(f">= {edge(lo)}" if math.isinf(hi) else f"[{edge(lo)}, {edge(hi)})"
                    for lo, hi in zip(ASPECT_BINS[:-1], ASPECT_BINS[1:]))
