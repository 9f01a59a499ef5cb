"""Pictures that open a table notebook (issue 39, item 3: "a picture before the table"), drawn from
what the committed runs store, so they render the same bytes on any machine and thread count: no
model runs here, only the ``proposal_stats.npz`` arrays (see :mod:`scrpn.viz.figures` for their
layout; ``stats_by_label`` maps a legend label to one run's arrays).

* :func:`detector_inputs` (notebook 02, Tables II and IX): the proposals a Fast R-CNN receives are a
  proposal network's top 300 or 1000 per image; its R-CNN head trains on those with IoU >= 0.65
  (``detector.pos_iou_thr``). The picture plots, per proposal method, the share of objects that
  have a proposal at each IoU: what the R-CNN head can learn from and refine, before any detector
  is trained. Paper reading: Section IV-B, "better proposals, better detector".
* :func:`object_shapes` (notebook 08, Table X): the objects of two datasets side by side: their
  size (with eq. (1)'s FPN levels marked), aspect ratio and number per image. Paper reading:
  Section IV-D repeats Table I on a second dataset; a gain can belong to one dataset's objects.

Pinned by ``tests/test_lessons.py`` (hand-counted recalls, level edges, per-image counts, the legends).
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from ..pyramid import FPN_STRIDES
from .figures import ASPECT_BINS, recall_at_iou
from .style import MAX_WIDTH_IN, SMALL, SUPTITLE, TEXT, TITLE, legible

__all__ = ["COVERAGE_THRESHOLDS", "detector_inputs", "level_edges", "object_shapes", "objects_per_image"]

COVERAGE_THRESHOLDS: np.ndarray = np.round(np.linspace(0.3, 0.95, 14), 10)   # 0.3:0.05:0.95
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _colour(j: int) -> str:
    return _COLOURS[j % len(_COLOURS)]


@legible
def detector_inputs(stats_by_label: Mapping[str, Mapping[str, np.ndarray]],
                    budgets: Sequence[int] = (300, 1000), pos_iou: float = 0.65,
                    thresholds: Sequence[float] | np.ndarray = COVERAGE_THRESHOLDS) -> Figure:
    """One panel per proposal budget k: for each method (legend label), the share of validation
    objects whose best top-k proposal reaches IoU t, against t (:func:`recall_at_iou` of
    ``best_iou_<k>``). The band right of ``pos_iou`` is where the R-CNN head takes its positives;
    the legend gives each method's share at ``pos_iou`` (the objects the head can learn from).
    """
    thr = np.asarray(thresholds, dtype=np.float64)
    fig = Figure(figsize=(MAX_WIDTH_IN, 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(budgets), sharey=True))
    for ax, k, tag in zip(axes, budgets, "abcdefgh"):
        ax.axvspan(pos_iou, 1.0, color="0.85", zorder=0,
                   label=f"IoU >= {pos_iou:g}: the R-CNN head's positives")
        for j, (label, stats) in enumerate(stats_by_label.items()):
            best = np.asarray(stats[f"best_iou_{k}"])
            share = recall_at_iou(best, [pos_iou])[0]
            ax.plot(thr, 100 * recall_at_iou(best, thr), marker="o", ms=4, color=_colour(j),
                    label=f"{label}: {100 * share:.0f} % at IoU {pos_iou:g}")
        ax.set_xlim(float(thr[0]), 1.0)
        ax.set_ylim(0, 100)
        ax.set_xlabel("IoU threshold t", fontsize=TEXT)
        ax.set_title(f"({tag}) the top {k} proposals of each image", fontsize=TITLE)
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL, loc="lower left")
    axes[0].set_ylabel("objects with a proposal of IoU >= t (%)", fontsize=TEXT)
    fig.suptitle("What a detector receives: how many objects some proposal already covers, by IoU",
                 fontsize=SUPTITLE)
    return fig


def level_edges(base_scale: float, num_levels: int = len(FPN_STRIDES)) -> np.ndarray:
    """The object sizes sqrt(w h) (px) at which eq. (1) (:func:`scrpn.pyramid.fpn_level`) moves an
    object to the next level: ``base_scale * 2**l * sqrt(2)`` for l = 0 .. num_levels - 2."""
    return np.asarray([base_scale * 2.0 ** level * math.sqrt(2.0) for level in range(num_levels - 1)])


def objects_per_image(gt_image: np.ndarray) -> np.ndarray:
    """How many objects each image holds, over the images that hold at least one (``gt_image`` is
    each object's image id), in the order of the ids."""
    _, counts = np.unique(np.asarray(gt_image).reshape(-1), return_counts=True)
    return counts


@legible
def object_shapes(stats_by_label: Mapping[str, Mapping[str, np.ndarray]], base_scale: float,
                  strides: Sequence[int] = FPN_STRIDES, aspect_bins: Sequence[float] = ASPECT_BINS,
                  image_size: Optional[int] = None) -> Figure:
    """Three panels comparing the datasets' objects (``gt_wh``, ``gt_image`` of one run each):
    (a) the share of objects by size sqrt(w h), the FPN level eq. (1) gives them marked (dotted
    lines at :func:`level_edges`); (b) by aspect ratio max(w/h, h/w), in ``aspect_bins``; (c) the
    share of images by the number of objects they hold (images without one are not counted).
    ``image_size`` (px), when given, is named in the title: sizes in px compare only at one scale."""
    fig = Figure(figsize=(MAX_WIDTH_IN, 4.4), layout="constrained")
    ax_size, ax_aspect, ax_count = fig.subplots(1, 3)
    size_bins = 2.0 ** np.arange(1.0, 8.26, 0.25)   # 2 .. 256 px, a quarter octave a bin
    edges = level_edges(base_scale, len(strides))
    names = [f"P{int(math.log2(s))}" for s in strides]
    aspect_edges = np.asarray(aspect_bins, dtype=np.float64)
    width = 0.8 / max(len(stats_by_label), 1)
    counts_all = [objects_per_image(s["gt_image"]) for s in stats_by_label.values()]
    count_edges = np.arange(0.5, max((c.max() for c in counts_all if c.size), default=1) + 1.5)
    for j, ((label, stats), counts) in enumerate(zip(stats_by_label.items(), counts_all)):
        wh = np.asarray(stats["gt_wh"], dtype=np.float64).reshape(-1, 2)
        size = np.sqrt(wh[:, 0] * wh[:, 1])
        ax_size.hist(size, bins=size_bins, weights=np.full(len(size), 100.0 / max(len(size), 1)),
                     histtype="step", lw=2, color=_colour(j), label=f"{label} ({len(size)} objects)")
        longer, shorter = wh.max(axis=1), wh.min(axis=1)
        aspect = np.where(shorter > 0, longer / np.maximum(shorter, 1e-9), np.inf)
        share, _ = np.histogram(np.minimum(aspect, 1e9), bins=np.minimum(aspect_edges, 1e10))
        ax_aspect.bar(np.arange(len(share)) - 0.4 + width * (j + 0.5), 100 * share / max(len(aspect), 1),
                      width=width, color=_colour(j), label=label)
        ax_count.hist(counts, bins=count_edges, weights=np.full(len(counts), 100.0 / max(len(counts), 1)),
                      histtype="step", lw=2, color=_colour(j), label=f"{label} ({len(counts)} images)")
    ax_size.set_xscale("log", base=2)
    ax_size.set_xticks([4, 8, 16, 32, 64, 128, 256])
    ax_size.xaxis.set_major_formatter(ScalarFormatter())
    for edge in edges:
        ax_size.axvline(edge, color="0.3", ls=":", lw=1)
    bounds = np.concatenate([[size_bins[0]], edges, [size_bins[-1]]])
    top = ax_size.get_ylim()[1] * 1.6     # room above the curves for the level names and the legend
    ax_size.set_ylim(0, top)
    for name, lo, hi in zip(names, bounds[:-1], bounds[1:]):
        ax_size.text(math.sqrt(lo * hi), top * 0.97, name, ha="center", va="top", fontsize=SMALL)
    ax_size.set_xlabel("object size sqrt(w h) (px)\ndotted: eq. (1)'s level edges", fontsize=TEXT)
    ax_size.set_ylabel("objects (%)", fontsize=TEXT)
    ax_size.set_title("(a) size, and the FPN\nlevel it is trained on", fontsize=TITLE)
    fmt = lambda v: "inf" if math.isinf(v) else f"{v:g}"
    ax_aspect.set_xticks(np.arange(len(aspect_edges) - 1))
    ax_aspect.set_xticklabels([f"{fmt(lo)}-{fmt(hi)}" for lo, hi in zip(aspect_edges[:-1], aspect_edges[1:])])
    ax_aspect.set_xlabel("aspect ratio max(w/h, h/w)", fontsize=TEXT)
    ax_aspect.set_ylabel("objects (%)", fontsize=TEXT)
    ax_aspect.set_title("(b) shape: 1 is square,\n5 and more is slender", fontsize=TITLE)
    ax_count.set_xlabel("objects in one image", fontsize=TEXT)
    ax_count.set_ylabel("images (%)", fontsize=TEXT)
    ax_count.set_title("(c) crowding\n", fontsize=TITLE)
    for ax in (ax_size, ax_aspect, ax_count):
        ax.tick_params(labelsize=SMALL)
    ax_count.set_ylim(0, ax_count.get_ylim()[1] * 1.35)
    ax_size.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(0.0, 0.9))
    ax_aspect.legend(fontsize=SMALL)
    ax_count.legend(fontsize=SMALL, loc="upper right")
    scale = f", {image_size}-px images" if image_size else ""
    fig.suptitle(f"The objects of the datasets (validation sets{scale})", fontsize=SUPTITLE)
    return fig
