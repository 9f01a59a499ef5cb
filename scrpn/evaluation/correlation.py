"""Rank and linear correlation of a score with the true IoU (Fig. 7, the IoU mask diagnostics).

One implementation for the teaching figures (``viz/teaching.py``) and the evaluator's
``iou_mask_spearman`` (``engine/evaluator.py``). Spearman's rho is Pearson's r of the ranks, ties
sharing their average rank (scipy's ``rankdata(method='average')``); pinned by
``tests/test_teaching.py`` on hand-made inputs.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["correlation", "rankdata"]


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1, ties sharing their average rank (what Spearman's rho needs)."""
    ranks = np.empty(len(x), np.float64)
    ranks[np.argsort(x, kind="mergesort")] = np.arange(len(x))
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=ranks) / counts)[inverse]


def correlation(score: Any, iou: Any) -> dict[str, float]:
    """Pearson and Spearman correlation of ``score`` with ``iou``; NaN when undefined.

    Undefined means fewer than 2 values or a constant input (no variation to correlate).
    """
    s, t = np.asarray(score, np.float64).ravel(), np.asarray(iou, np.float64).ravel()
    if s.shape != t.shape:
        raise ValueError(f"score and iou differ in length: {s.shape} vs {t.shape}")
    out = {"pearson": math.nan, "spearman": math.nan, "n": int(s.size)}
    if s.size < 2:
        return out
    for key, (a, b) in (("pearson", (s, t)), ("spearman", (rankdata(s), rankdata(t)))):
        if np.ptp(a) > 0 and np.ptp(b) > 0:
            out[key] = float(np.clip(np.corrcoef(a, b)[0, 1], -1.0, 1.0))
    return out
