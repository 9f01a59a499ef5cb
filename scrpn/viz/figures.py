"""The paper's figures (Figs. 3-8) and training curves, as functions the notebooks call (the cause
experiments' figures are in :mod:`scrpn.viz.cause_figures`).

Every figure function returns a bare :class:`matplotlib.figure.Figure` (no pyplot state, no
``show``), so it works headless with any backend and leaks no open figures; :func:`save_figure`
writes it as PNG and PDF.

Two kinds of figure:

* **Live** (Figs. 3-5): computed here from the project's own code, no trained model needed for
  Figs. 3 and 4 (Fig. 5 draws whatever :func:`point_proposals` returns, from any model, trained or
  not).
* **From the study** (Figs. 6-8): drawn from per-run proposal statistics, the dict of numpy arrays
  that ``proposal_stats.npz`` holds (see ``scrpn.evaluation.proposal_stats``):

  ============================  ==========  =================================================
  ``gt_wh``                     (G, 2) f4   width, height of each non-crowd gt (orig. pixels)
  ``gt_image``                  (G,) i8     its image id
  ``best_iou_<k>``              (G,) f4     best IoU of any top-k proposal of its image, 0 if none
  ``iou_bins``                  (21,) f4    linspace(0, 1, 21)
  ``proposal_iou_hist_<k>``     (20,) i8    histogram of each top-k proposal's max IoU with a gt
  ============================  ==========  =================================================

  for k in 100 / 300 / 1000. A ``stats_by_label`` argument maps legend labels to such dicts.
  :func:`synthetic_stats` builds a plausible one (tests, notebook demos).

Conventions: recall at IoU threshold t counts ``best_iou >= t`` (COCO's ``>=``), the threshold
being cast to ``best_iou``'s float dtype first, so an IoU stored as float32(0.7) counts at t = 0.7.
A recall over zero objects is NaN (not 0): "no object" and "no object found" stay distinct, and
matplotlib leaves a NaN bar / point out.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import matplotlib
import numpy as np
import torch
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import Tensor

from ..pyramid import FPN_STRIDES, level_base_scale
from .common import (display_image, draw_box, model_selection, proposal_network_of, run_head,
                     save_figure)
from .style import MAX_WIDTH_IN, SMALL, SUPTITLE, TEXT, TITLE, legible

__all__ = [
    "ASPECT_BINS",
    "RECALL_THRESHOLDS",
    "save_figure",
    "recall_at_iou",
    "recall_by_aspect_ratio",
    "synthetic_stats",
    "iou_mask_supervision_example",
    "fig3_iou_mask_supervision",
    "fig4_example_numbers",
    "fig4_iou_aware_score",
    "point_proposals",
    "fig5_point_representation",
    "fig6_iou_distribution",
    "fig7_iou_mask_effect",
    "fig8_aspect_ratio_recall",
    "read_log",
    "training_curves",
]

ASPECT_BINS: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 5.0, math.inf)
RECALL_THRESHOLDS: np.ndarray = np.round(np.linspace(0.5, 0.95, 10), 10)   # 0.5:0.05:0.95
_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


# ---------------------------------------------------------------------------------- saving
# ---------------------------------------------------------------------------------- numbers
def recall_at_iou(best_iou: np.ndarray, thresholds: Sequence[float] | np.ndarray = RECALL_THRESHOLDS
                  ) -> np.ndarray:
    """Fraction of objects whose best proposal has IoU >= t, for each threshold t.

    ``best_iou`` (G,) is one run's ``best_iou_<k>``. Returns (T,) float64; all NaN when G = 0.
    Thresholds are compared in ``best_iou``'s float dtype (see the module docstring).
    """
    best = np.asarray(best_iou).reshape(-1)
    dtype = best.dtype if np.issubdtype(best.dtype, np.floating) else np.float64
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1).astype(dtype)
    if best.size == 0:
        return np.full(thr.shape, np.nan)
    return (best[:, None] >= thr[None, :]).mean(axis=0).astype(np.float64)


def _bin_label(lo: float, hi: float) -> str:
    fmt = lambda v: "inf" if math.isinf(v) else f"{v:g}"
    return f"[{fmt(lo)}, {fmt(hi)})"


def recall_by_aspect_ratio(stats: Mapping[str, np.ndarray], threshold: float, k: int = 1000,
                           bins: Sequence[float] = ASPECT_BINS
                           ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """High-quality recall by object aspect ratio (the numbers behind Fig. 8).

    Aspect ratio = max(w/h, h/w) >= 1 from ``gt_wh``; object g falls in bin [bins[i], bins[i+1]).
    Objects with a non-positive or non-finite side have no aspect ratio and are left out of every
    bin; so are objects outside [bins[0], bins[-1]).

    Returns ``(bin_labels, recall, counts)``: labels like ``"[1.5, 2)"``; ``recall`` (B,) float64,
    the fraction of the bin's objects whose ``best_iou_<k> >= threshold`` (NaN for an empty bin);
    ``counts`` (B,) int64 objects per bin.
    """
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins must be >= 2 increasing edges, got {bins!r}")
    wh = np.asarray(_stat(stats, "gt_wh"), dtype=np.float64).reshape(-1, 2)
    best = np.asarray(_stat(stats, f"best_iou_{k}")).reshape(-1)
    if best.shape[0] != wh.shape[0]:
        raise ValueError(f"gt_wh has {wh.shape[0]} objects but best_iou_{k} has {best.shape[0]}")
    w, h = wh[:, 0], wh[:, 1]
    ok = np.isfinite(w) & np.isfinite(h) & (w > 0) & (h > 0)
    ratio = np.full(w.shape, np.nan)
    ratio[ok] = np.maximum(w[ok] / h[ok], h[ok] / w[ok])
    labels = [_bin_label(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]
    recall = np.full(edges.size - 1, np.nan)
    counts = np.zeros(edges.size - 1, dtype=np.int64)
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        member = ok & (ratio >= lo) & (ratio < hi)
        counts[i] = int(member.sum())
        if counts[i]:
            recall[i] = recall_at_iou(best[member], [threshold])[0]
    return labels, recall, counts


def _stat(stats: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    if key not in stats:
        raise KeyError(f"proposal stats have no {key!r} (keys: {sorted(stats)})")
    return stats[key]


def synthetic_stats(num_gt: int = 400, quality: float = 0.7, seed: int = 0, num_images: int = 40,
                    budgets: Sequence[int] = (100, 300, 1000)) -> dict[str, np.ndarray]:
    """A plausible ``proposal_stats`` dict (the study's contract) for tests and demos.

    ``quality`` in (0, 1) sets the typical best IoU; elongated objects get worse IoUs, and
    ``best_iou`` never decreases with the budget (as top-k sets are nested). Not real data.
    """
    rng = np.random.default_rng(seed)
    side = np.exp(rng.uniform(np.log(6.0), np.log(200.0), size=num_gt))
    ratio = np.exp(rng.uniform(0.0, np.log(8.0), size=num_gt))
    tall = rng.random(num_gt) < 0.5
    w = np.where(tall, side, side * ratio)
    h = np.where(tall, side * ratio, side)
    typical = quality - 0.05 * np.log(ratio)                                 # elongated: worse
    best = {}
    prev = np.zeros(num_gt)
    for k in sorted(budgets):
        draw = np.clip(rng.normal(typical + 0.02 * math.log10(k), 0.12), 0.0, 0.99)
        prev = np.maximum(prev, draw)
        best[k] = prev.copy()
    bins = np.linspace(0.0, 1.0, 21, dtype=np.float32)
    out: dict[str, np.ndarray] = {
        "gt_wh": np.stack([w, h], axis=1).astype(np.float32),
        "gt_image": np.sort(rng.integers(0, num_images, size=num_gt)).astype(np.int64),
        "iou_bins": bins}
    for k in budgets:
        out[f"best_iou_{k}"] = best[k].astype(np.float32)
        ious = rng.beta(1.0 + 4.0 * quality, 3.0, size=k * num_images)
        out[f"proposal_iou_hist_{k}"] = np.histogram(ious, bins=bins)[0].astype(np.int64)
    return out


# ---------------------------------------------------------------------------------- helpers
def _color(i: int) -> str:
    return _COLORS[i % len(_COLORS)]


def _stats_items(stats_by_label: Mapping[str, Mapping[str, np.ndarray]]) -> list[tuple[str, Mapping]]:
    if not stats_by_label:
        raise ValueError("stats_by_label is empty")
    return list(stats_by_label.items())


# ---------------------------------------------------------------------------------- Fig. 3
def iou_mask_supervision_example(gt_box: Sequence[float] = (40.0, 30.0, 96.0, 78.0),
                                 image_size: int = 128,
                                 strides: Sequence[int] = FPN_STRIDES,
                                 anchor_scale: float = 4.0, topk: int = 9, num_levels: int = 2,
                                 samples: str = "classification", sampler_num: int = 256,
                                 pos_fraction: float = 0.5, seed: int = 0) -> dict[str, Any]:
    """What the IoU-mask branch is trained on for one gt, computed with the head's own code.

    Stage-1 and stage-2 predictions are simulated (no model): every location of every level starts
    from its square prior (side ``anchor_scale`` x stride); locations near the gt move towards it,
    with a pull ``reach = exp(-d^2 / (2 sigma^2))`` (d: distance to the gt's centre, sigma = 0.6
    sqrt(gt area)): the init box's centre moves ``0.6 reach`` of the way to the gt's centre and its
    size ``0.6 reach`` of the way (geometrically) from the prior's to the gt's; the refined box
    ``0.9 reach``, with a little random noise. Far locations keep boxes near their prior. Then,
    exactly as ``TwoStageProposalHead.loss`` does for SC-RPN (``configs/mini/sc_rpn.yaml``): the
    Size-Aware Threshold assigner on the init boxes (stage 2 of SADS), the head's random sampler for
    the classification samples, and ``mask_sample_indices`` (what the head's loss calls) to pick
    the mask's training samples; their targets come from ``iou_targets``: IoU(refined box,
    assigned gt).

    ``anchor_scale`` 4 and 128 px images are our mini/smoke profile (the paper: 8, 1333 x 800).
    Returns a dict of numpy arrays: ``centers`` (N, 2), ``stride`` (N,), ``level`` (N,),
    ``num_per_level``, ``sizes`` [(H, W)], ``init_boxes``, ``refined_boxes`` (N, 4), ``gt_inds``
    (N,), ``targets`` (N,) (iou_targets for every location), ``trained`` (N,) bool (in the mask
    loss), ``positive`` (N,) bool, ``gt_levels`` (num_levels,) (-1 padded), ``threshold`` (SAT's
    m_g), ``gt_box`` (4,), ``samples``.
    """
    from ..build import build_assigner, build_sampler
    from ..config import AssignerConfig, SamplerConfig
    from ..models.heads.iou_mask import iou_targets, mask_sample_indices
    from ..models.points import grid_points
    from ..sampling.priors import PriorSet

    strides = tuple(int(s) for s in strides)
    gen = torch.Generator().manual_seed(seed)
    gt = torch.tensor([list(map(float, gt_box))], dtype=torch.float32)        # (1, 4)
    sizes = [(math.ceil(image_size / s), math.ceil(image_size / s)) for s in strides]
    per_level = grid_points(sizes, strides)
    num_per_level = [p.shape[0] for p in per_level]
    centers = torch.cat(per_level)                                            # (N, 2)
    stride = torch.repeat_interleave(torch.tensor(strides, dtype=torch.float32),
                                     torch.tensor(num_per_level))
    level = torch.repeat_interleave(torch.arange(len(strides)), torch.tensor(num_per_level))
    gt_c, gt_wh = (gt[0, :2] + gt[0, 2:]) / 2, gt[0, 2:] - gt[0, :2]

    prior_wh = (anchor_scale * stride)[:, None].expand(-1, 2)                  # square priors
    sigma = 0.6 * torch.sqrt(gt_wh.prod())
    reach = torch.exp(-((centers - gt_c) ** 2).sum(1, keepdim=True) / (2 * sigma ** 2))  # (N, 1)

    def boxes_toward(frac: float, noise: float) -> Tensor:
        """Centre pulled ``frac * reach`` of the way to the gt's, size blended prior -> gt."""
        w = (frac * reach).clamp(max=1.0)
        c = centers + w * (gt_c - centers)
        c = c + noise * gt_wh * w * torch.randn(centers.shape, generator=gen)
        wh = prior_wh ** (1 - w) * gt_wh ** w * torch.exp(noise * torch.randn(centers.shape, generator=gen))
        return torch.cat([c - wh / 2, c + wh / 2], dim=1)

    init_boxes, refined_boxes = boxes_toward(0.6, 0.05), boxes_toward(0.9, 0.08)
    base_scale = level_base_scale(anchor_scale, strides)
    assigner = build_assigner(AssignerConfig(type="size_aware_threshold", topk=topk,
                                             num_levels=num_levels), base_scale, strides)
    assign = assigner.assign_priors(PriorSet(init_boxes, centers, num_per_level), gt)
    sampler = build_sampler(SamplerConfig(num=sampler_num, pos_fraction=pos_fraction))
    pos_s, neg_s = sampler.sample(assign, gen)
    cls_inds = torch.cat([pos_s, neg_s])
    trained_inds = mask_sample_indices(samples, assign, cls_inds)  # what the head's loss uses
    targets = iou_targets(refined_boxes, assign.gt_inds, gt)                  # every location
    trained = torch.zeros(centers.shape[0], dtype=torch.bool)
    trained[trained_inds] = True
    return {"centers": centers.numpy(), "stride": stride.numpy(), "level": level.numpy(),
            "num_per_level": num_per_level, "sizes": sizes,
            "init_boxes": init_boxes.numpy(), "refined_boxes": refined_boxes.numpy(),
            "gt_inds": assign.gt_inds.numpy(), "targets": targets.numpy(),
            "trained": trained.numpy(), "positive": (assign.gt_inds > 0).numpy(),
            "gt_levels": assign.info["levels"][0].numpy(),
            "threshold": float(assign.info["thresholds"][0]), "gt_box": gt[0].numpy(),
            "samples": samples}


@legible
def fig3_iou_mask_supervision(gt_box: Sequence[float] = (40.0, 30.0, 96.0, 78.0),
                              image_size: int = 128, samples: str = "classification",
                              num_levels: int = 2, topk: int = 9, anchor_scale: float = 4.0,
                              seed: int = 0) -> Figure:
    """Paper Fig. 3: how the IoU-mask supervision is built.

    The paper draws the refined proposals, their IoU with the gt as a "ground-truth IoU map" where
    red points are the training samples (the classification samples of stage 2) and white points
    are irrelevant. Ours, from :func:`iou_mask_supervision_example` (the head's own assigner,
    sampler, ``mask_sample_indices`` and ``iou_targets`` on simulated stage-1/2 boxes, no trained model):
    panel 1, the image plane with the gt (green), the refined boxes of the positive samples and
    their locations; then one panel per size-aware level of the gt (i_g, j_g, SAT's candidate
    levels), a map of that level's locations coloured by their IoU target where the mask is
    trained, grey where it is not (irrelevant). Negatives drawn from other levels are trained too
    (target: IoU with the gt, usually ~0) but not shown. The last axes is the colour bar, so
    ``len(fig.axes) == num_levels + 2``.
    """
    ex = iou_mask_supervision_example(gt_box=gt_box, image_size=image_size, samples=samples,
                                      num_levels=num_levels, topk=topk,
                                      anchor_scale=anchor_scale, seed=seed)
    fig = Figure(figsize=(min(4.0 * (num_levels + 1) + 0.6, MAX_WIDTH_IN), 4.2), layout="constrained")
    axes = fig.subplots(1, num_levels + 1)
    ax0 = axes[0]
    ax0.set_facecolor("0.95")
    pos = np.nonzero(ex["positive"])[0]
    for i in pos:
        draw_box(ax0, ex["refined_boxes"][i], "tab:red", lw=0.8, alpha=0.6)
    draw_box(ax0, ex["gt_box"], "tab:green", lw=2.5)
    ax0.scatter(ex["centers"][pos, 0], ex["centers"][pos, 1], s=12, c="tab:red", zorder=3,
                label="positive locations")
    ax0.set_xlim(0, image_size)
    ax0.set_ylim(image_size, 0)
    ax0.set_aspect("equal")
    ax0.set_title(f"gt (green) and refined boxes of\n{len(pos)} SAT positives (m_g = "
                  f"{ex['threshold']:.2f})", fontsize=TEXT)
    ax0.set_xlabel("x (pixels)")
    ax0.set_ylabel("y (pixels)")
    ax0.legend(loc="lower right", fontsize=SMALL)
    cmap = matplotlib.colormaps["Reds"].with_extremes(bad="0.85")
    image = None
    starts = np.concatenate([[0], np.cumsum(ex["num_per_level"])])
    for j, ax in enumerate(axes[1:]):
        lvl = int(ex["gt_levels"][j]) if j < len(ex["gt_levels"]) else -1
        if lvl < 0:
            ax.set_axis_off()
            ax.set_title("no adjacent level", fontsize=TEXT)
            continue
        (h, w), s = ex["sizes"][lvl], float(ex["stride"][starts[lvl]])
        sl = slice(starts[lvl], starts[lvl + 1])
        grid = np.where(ex["trained"][sl], ex["targets"][sl], np.nan).reshape(h, w)
        image = ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest",
                          extent=(-s / 2, w * s - s / 2, h * s - s / 2, -s / 2))
        tr = np.nonzero(ex["trained"][sl])[0] + starts[lvl]
        ax.scatter(ex["centers"][tr, 0], ex["centers"][tr, 1], s=4, c="black", zorder=3)
        draw_box(ax, ex["gt_box"], "tab:green", lw=2.0)
        n_tr = tr.size
        ax.set_xlim(0, image_size)
        ax.set_ylim(image_size, 0)
        ax.set_xlabel("x (pixels)")
        ax.set_title(f"IoU targets on P{lvl + 2} (stride {s:g}):\n{n_tr} trained (dots), grey = irrelevant",
                     fontsize=TEXT)
    if image is None:
        image = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=cmap)
    fig.colorbar(image, ax=list(axes[1:]), label="IoU(refined box, its gt) = mask target")
    fig.suptitle(f"Fig. 3: IoU-mask supervision (samples: {samples}). m_g: the mean IoU of the gt's SAT "
                 f"candidates, its positive threshold", fontsize=TITLE)
    return fig


# ---------------------------------------------------------------------------------- Fig. 4
_FIG4_GT = (60.0, 50.0, 180.0, 140.0)
# name, box, classification score: A well scored but poorly placed, B the best box.
_FIG4_CANDIDATES = (("A", (78.0, 64.0, 196.0, 152.0), 0.92),
                    ("B", (62.0, 48.0, 184.0, 142.0), 0.85),
                    ("C", (52.0, 42.0, 180.0, 150.0), 0.80))
_FIG4_COLORS = ("tab:red", "tab:blue", "tab:purple")


def _bce_optimal_mask(iou: Tensor, double_sigmoid: bool) -> Tensor:
    """The mask value a BCE-trained branch converges to for target ``iou``: the target itself,
    clipped to the branch's output range ((sigmoid(0), sigmoid(1)) = (0.5, 0.731) with the double
    sigmoid), computed through the branch's own output nonlinearity."""
    eps = 1e-4
    if double_sigmoid:
        lo, hi = torch.sigmoid(torch.tensor(0.0)) + eps, torch.sigmoid(torch.tensor(1.0)) - eps
        inner = torch.logit(iou.clamp(lo, hi))             # (0, 1): the first sigmoid's output
        logit = torch.logit(inner)                          # the conv's output
        return torch.sigmoid(torch.sigmoid(logit))
    return torch.sigmoid(torch.logit(iou.clamp(eps, 1 - eps)))


def fig4_example_numbers(double_sigmoid: bool = True, nms_thr: float = 0.5) -> dict[str, Any]:
    """The numbers of the Fig. 4 example: three candidates around one gt.

    A has the highest classification score but the worst IoU with the gt; B the best IoU. The
    IoU-mask value of each box is what a perfectly trained branch would output (its BCE optimum:
    the box's IoU, clipped to the branch's range, see ``scrpn.models.heads.iou_mask``); the
    IoU-aware score is ``iou_aware_score`` (the mean of the two). torchvision's ``nms`` at
    ``nms_thr`` by each score. Returns ``names``, ``gt`` (4,), ``boxes`` (3, 4), ``cls``, ``iou``,
    ``mask``, ``iou_aware``, ``pairwise_iou`` (3, 3), ``keep_cls`` / ``keep_iou_aware`` (kept
    indices, best first) and ``kept_cls`` / ``kept_iou_aware`` (their names).
    """
    from torchvision.ops import box_iou, nms

    from ..models.heads.iou_mask import iou_aware_score

    names = [c[0] for c in _FIG4_CANDIDATES]
    boxes = torch.tensor([c[1] for c in _FIG4_CANDIDATES], dtype=torch.float32)
    cls = torch.tensor([c[2] for c in _FIG4_CANDIDATES], dtype=torch.float32)
    gt = torch.tensor([_FIG4_GT], dtype=torch.float32)
    iou = box_iou(boxes, gt)[:, 0]
    mask = _bce_optimal_mask(iou, double_sigmoid)
    aware = iou_aware_score(cls, mask)
    keep_cls, keep_aware = nms(boxes, cls, nms_thr), nms(boxes, aware, nms_thr)
    return {"names": names, "gt": gt[0].numpy(), "boxes": boxes.numpy(), "cls": cls.numpy(),
            "iou": iou.numpy(), "mask": mask.numpy(), "iou_aware": aware.numpy(),
            "pairwise_iou": box_iou(boxes, boxes).numpy(), "nms_thr": nms_thr,
            "double_sigmoid": double_sigmoid,
            "keep_cls": keep_cls.numpy(), "keep_iou_aware": keep_aware.numpy(),
            "kept_cls": [names[i] for i in keep_cls.tolist()],
            "kept_iou_aware": [names[i] for i in keep_aware.tolist()]}


@legible
def fig4_iou_aware_score(double_sigmoid: bool = True, nms_thr: float = 0.5) -> Figure:
    """Paper Fig. 4: NMS by classification score keeps a badly placed box, the IoU-aware score
    keeps the best one.

    The paper prints illustrative mask values (0.82, 0.98, 0.68) that two sigmoids cannot produce;
    ours are computed from :func:`fig4_example_numbers` (the branch's BCE optimum for each box's
    IoU, i.e. within (0.5, 0.731) with the double sigmoid, and the head's ``iou_aware_score``), and
    the NMS is torchvision's. Two panels: NMS by classification score, NMS by IoU-aware score; the
    gt in green, suppressed boxes dashed grey, the kept box solid.
    """
    ex = fig4_example_numbers(double_sigmoid=double_sigmoid, nms_thr=nms_thr)
    fig = Figure(figsize=(10.0, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = (("NMS by classification score", ex["cls"], ex["keep_cls"]),
              ("NMS by IoU-aware score = (cls + mask) / 2", ex["iou_aware"], ex["keep_iou_aware"]))
    for ax, (title, score, keep) in zip(axes, panels):
        ax.set_facecolor("0.97")
        draw_box(ax, ex["gt"], "tab:green", lw=3.0)
        kept = set(int(i) for i in keep)
        for i, name in enumerate(ex["names"]):
            box = ex["boxes"][i]
            color = _FIG4_COLORS[i % len(_FIG4_COLORS)]
            draw_box(ax, box, color if i in kept else "0.55", lw=2.2 if i in kept else 1.0,
                     ls="-" if i in kept else "--")
            corner = ((box[2] - 12, box[3] - 3), (box[0] + 3, box[1] + 12), (box[0] + 3, box[3] - 3))[i % 3]
            ax.text(*corner, name, color=color, fontsize=SUPTITLE, fontweight="bold")
        rows = [f"{n}: cls {c:.2f} mask {m:.3f} score {a:.3f} (IoU {u:.2f})"
                + (" kept" if i in kept else "")
                for i, (n, c, m, a, u) in enumerate(zip(ex["names"], ex["cls"], ex["mask"],
                                                         ex["iou_aware"], ex["iou"]))]
        ax.text(0.02, 0.02, "\n".join(rows), transform=ax.transAxes, fontsize=SMALL, family="monospace",
                va="bottom")
        ax.set_xlim(20, 220)
        ax.set_ylim(230, 20)
        ax.set_aspect("equal")
        ax.set_xlabel("x (pixels)")
        ax.set_ylabel("y (pixels)")
        ax.set_title(f"{title}\nkept: {', '.join(ex['names'][int(i)] for i in keep)}", fontsize=TEXT)
    fig.suptitle(f"Fig. 4: IoU-aware score (gt green; NMS IoU {nms_thr:g}, "
                 f"{'double' if double_sigmoid else 'single'} sigmoid mask)", fontsize=TITLE)
    return fig


# ---------------------------------------------------------------------------------- Fig. 5
@torch.no_grad()
def point_proposals(model: torch.nn.Module, image_tensor: Tensor, target: Optional[dict] = None,
                    k: int = 5, size_divisor: int = 32) -> dict[str, np.ndarray]:
    """The k best proposals the model itself returns for one image, with their point sets.

    ``model`` is a point-based ``ProposalNetwork`` (``build_model``; an R-CNN detector is unwrapped
    to its ``proposal_network``), ``image_tensor`` (3, H, W) or (1, 3, H, W) as the data pipeline
    gives it. The proposals are the model's own (:func:`scrpn.viz.common.model_selection`: its
    test-time score, per-level top-k, NMS per level and, for SC-RPN, across levels, with its
    ``test_cfg``), so Fig. 5 shows what the model returns. Their points are decoded as the head
    does: init offsets = ``init_raw`` (the 3x3 prior grid already added), refined = ``init_raw +
    refined_raw``, through ``offsets_to_points`` with each location's centre and its level's stride.

    Returns numpy arrays: ``init_points`` and ``refined_points`` (k', 9, 2) (x, y) pixels, ``boxes``
    (k', 4) the head's refined boxes (**not** clipped, so they equal the min/max of
    ``refined_points``), ``scores`` (k',), ``indices`` (k',) flat location indices, ``levels`` and
    ``strides`` (k',); k' = min(k, #proposals).
    """
    from ..models.points import offsets_to_points

    from ..models.heads.stages import TwoStageProposalHead

    net = proposal_network_of(model)
    head = net.head
    if not (isinstance(head, TwoStageProposalHead) and head.is_point):
        raise ValueError("point_proposals needs a point-based head (model.head.representation: point)")
    image = image_tensor if image_tensor.dim() == 4 else image_tensor.unsqueeze(0)
    if image.shape[0] != 1:
        raise ValueError(f"one image at a time, got a batch of {image.shape[0]}")
    img_shape = tuple(target["img_shape"]) if target and "img_shape" in target else tuple(image.shape[-2:])
    out = run_head(net, image[0], size_divisor)
    idx, _, scores = model_selection(net, out, img_shape)
    idx, scores = idx[:k], scores[:k]
    strides = torch.tensor(head.strides, dtype=torch.float32, device=idx.device)
    counts = torch.tensor(out.num_per_level, device=idx.device)
    level_of = torch.repeat_interleave(torch.arange(len(head.strides), device=idx.device), counts)
    stride = strides[level_of[idx]]
    init_off = out.init_raw[0, idx]
    refined_off = init_off if out.refined_raw is None else init_off + out.refined_raw[0, idx]
    centers = out.centers[idx]
    final_boxes = out.init_boxes if out.refined_boxes is None else out.refined_boxes
    return {"init_points": offsets_to_points(init_off, centers, stride).cpu().numpy(),
            "refined_points": offsets_to_points(refined_off, centers, stride).cpu().numpy(),
            "boxes": final_boxes[0, idx].cpu().numpy(), "scores": scores.cpu().numpy(),
            "indices": idx.cpu().numpy(), "levels": level_of[idx].cpu().numpy(),
            "strides": stride.cpu().numpy()}


@legible
def fig5_point_representation(image: Any, init_points: np.ndarray, refined_points: np.ndarray,
                              boxes: np.ndarray, scores: Optional[np.ndarray] = None,
                              gt_boxes: Optional[np.ndarray] = None) -> Figure:
    """Paper Fig. 5: the point-based representation, from 9 init points to a refined box.

    The paper draws the process on an image: init offsets -> 9 points on the object, point
    alignment, secondary offsets -> refined points -> their min/max box. Ours draws the same three
    steps for K proposals (e.g. from :func:`point_proposals`), one colour per proposal: (1) the 9
    init points and their min/max box (dotted), (2) the refined points with arrows from the init
    points, (3) the refined boxes (with their scores if given). ``image`` (H, W[, 3]) or (3, H, W);
    arrays (K, 9, 2) (x, y) pixels, (K, 9, 2), (K, 4). Three axes. ``gt_boxes`` (G, 4), when
    given, are drawn white and dashed in every panel; a legend under the panels names each mark.
    """
    init = np.asarray(init_points, dtype=np.float64).reshape(-1, np.shape(init_points)[-2], 2)
    refined = np.asarray(refined_points, dtype=np.float64).reshape(init.shape)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not (init.shape[0] == refined.shape[0] == boxes.shape[0]):
        raise ValueError(f"{init.shape[0]} init point sets, {refined.shape[0]} refined, "
                         f"{boxes.shape[0]} boxes")
    disp = display_image(image)
    h, w = disp.shape[:2]
    fig = Figure(figsize=(MAX_WIDTH_IN, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    titles = ("(1) init offsets -> 9 init points\n(dotted: their min/max box)",
              "(2) + secondary offsets -> refined points",
              "(3) min/max of refined points -> proposal")
    for ax, title in zip(axes, titles):
        ax.imshow(disp, cmap=None if disp.ndim == 3 else "gray", extent=(0, w, h, 0), alpha=0.8)
        ax.set_title(title, fontsize=TEXT)
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_xticks([])
        ax.set_yticks([])
    for i in range(init.shape[0]):
        c = _color(i)
        x0, y0 = init[i].min(axis=0)
        x1, y1 = init[i].max(axis=0)
        axes[0].scatter(init[i, :, 0], init[i, :, 1], s=14, color=c, edgecolors="white", linewidths=0.4)
        draw_box(axes[0], (x0, y0, x1, y1), c, lw=1.0, ls=":")
        axes[1].scatter(init[i, :, 0], init[i, :, 1], s=8, color=c, alpha=0.35)
        axes[1].scatter(refined[i, :, 0], refined[i, :, 1], s=16, color=c, marker="D",
                        edgecolors="white", linewidths=0.4)
        for p, q in zip(init[i], refined[i]):
            axes[1].annotate("", xy=q, xytext=p,
                             arrowprops=dict(arrowstyle="->", color=c, lw=0.6, alpha=0.7))
        axes[2].scatter(refined[i, :, 0], refined[i, :, 1], s=8, color=c, alpha=0.5)
        draw_box(axes[2], boxes[i], c, lw=1.8)
        if scores is not None:
            axes[2].text(boxes[i, 0], boxes[i, 1] - 1, f"{float(np.asarray(scores)[i]):.2f}",
                         color="white", fontsize=SMALL, va="bottom",
                         bbox=dict(facecolor=c, alpha=0.8, pad=1, linewidth=0))
    for gt in ([] if gt_boxes is None else np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)):
        for ax in axes:
            draw_box(ax, gt, "white", lw=1.2, ls="--")
    from matplotlib.lines import Line2D

    marks = [Line2D([], [], ls="", marker="o", color="0.3", label="9 init points (one colour per proposal)"),
             Line2D([], [], ls=":", color="0.3", label="min/max box of the init points"),
             Line2D([], [], ls="", marker="D", color="0.3", label="refined points"),
             Line2D([], [], ls="-", lw=1.8, color="0.3", label="proposal = min/max of the refined points"
                    + (" (its score)" if scores is not None else ""))]
    if gt_boxes is not None:
        marks.append(Line2D([], [], ls="--", color="black", label="ground truth (white, dashed)"))
    fig.legend(handles=marks, loc="outside lower center", ncol=3, fontsize=SMALL, frameon=False)
    fig.suptitle("Fig. 5: point-based representation", fontsize=TITLE)
    return fig


# ---------------------------------------------------------------------------------- Figs. 6-8
@legible
def fig6_iou_distribution(stats_by_label: Mapping[str, Mapping[str, np.ndarray]], k: int = 300,
                          normalize: bool = True) -> Figure:
    """Paper Fig. 6: IoU distribution of the proposals with and without SADS.

    For each run (legend label) the histogram ``proposal_iou_hist_<k>`` over ``iou_bins``: how the
    top-k proposals of all validation images spread over their best IoU with a gt. The paper plots
    raw counts on COCO val; ours plots the fraction of all top-k proposals by default
    (``normalize=True``), so runs that return different numbers of proposals compare (a run with
    no proposal gives zeros). One axes.
    """
    items = _stats_items(stats_by_label)
    fig = Figure(figsize=(7.5, 4.0), layout="constrained")
    ax = fig.subplots()
    width = 1.0 / len(items)
    edges = None
    for j, (label, stats) in enumerate(items):
        bins = np.asarray(_stat(stats, "iou_bins"), dtype=np.float64)
        hist = np.asarray(_stat(stats, f"proposal_iou_hist_{k}"), dtype=np.float64)
        if bins.size != hist.size + 1:
            raise ValueError(f"{label}: {bins.size} iou_bins edges for {hist.size} counts")
        if edges is not None and not np.allclose(edges, bins):
            raise ValueError(f"{label}: iou_bins differ between runs")
        edges = bins
        total = hist.sum()
        y = hist / total if normalize and total > 0 else (hist * 0 if normalize else hist)
        bw = np.diff(bins)
        ax.bar(bins[:-1] + bw * width * j, y, width=bw * width, align="edge", color=_color(j),
               label=f"{label} ({int(total)} proposals)")
    ax.set_xlim(0, 1)
    ax.set_xlabel("IoU of a proposal with its best-matching gt")
    ax.set_ylabel("fraction of proposals" if normalize else "number of proposals")
    ax.set_title(f"Fig. 6: IoU distribution of the top {k} proposals", fontsize=TITLE)
    ax.legend(fontsize=SMALL)
    return fig


@legible
def fig7_iou_mask_effect(stats_by_label: Mapping[str, Mapping[str, np.ndarray]],
                         budgets: Sequence[int] = (300, 1000),
                         thresholds: Sequence[float] | np.ndarray = RECALL_THRESHOLDS) -> Figure:
    """Paper Fig. 7: the effect of the IoU mask, for the top 300 and the top 1000 proposals.

    The paper plots the IoU distribution of the top-300 / top-1000 proposals with and without the
    IoU mask at test time. Ours plots, per budget, recall versus IoU threshold (0.5:0.05:0.95) from
    ``best_iou_<k>``: the fraction of gts whose best top-k proposal reaches t. This is the
    per-object reading of the same claim (the IoU-aware ranking keeps the high-IoU proposals
    through NMS and the top-k cut); the per-proposal distributions are :func:`fig6_iou_distribution`
    with ``k``. The legend gives each run's mean recall over the thresholds (AR-like, without
    COCO's one-to-one matching of proposals to objects). One axes per budget.
    """
    items = _stats_items(stats_by_label)
    thr = np.asarray(thresholds, dtype=np.float64)
    fig = Figure(figsize=(min(5.0 * len(budgets), MAX_WIDTH_IN), 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(budgets)))
    for ax, k, tag in zip(axes, budgets, "abcdefgh"):
        for j, (label, stats) in enumerate(items):
            best = _stat(stats, f"best_iou_{k}")
            r = recall_at_iou(best, thr)
            ar = np.nanmean(r) if np.isfinite(r).any() else np.nan
            ax.plot(thr, r, marker="o", ms=3, color=_color(j), label=f"{label}: AR{k} {100 * ar:.1f}")
        ax.set_xlabel("IoU threshold")
        ax.set_ylabel(f"recall (top {k})")
        ax.set_ylim(0, 1)
        ax.set_title(f"({tag}) top {k} proposals (AR{k}: mean recall over the thresholds)", fontsize=TEXT)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL)
    fig.suptitle("Fig. 7: with and without the IoU mask", fontsize=TITLE)
    return fig


@legible
def fig8_aspect_ratio_recall(stats_by_label: Mapping[str, Mapping[str, np.ndarray]],
                             thresholds: Sequence[float] = (0.7, 0.8), k: int = 1000,
                             bins: Sequence[float] = ASPECT_BINS) -> Figure:
    """Paper Fig. 8: high-quality proposals by object aspect ratio, box versus point-based.

    The paper counts high-quality proposals (IoU above 0.7 / 0.8) per aspect-ratio group on COCO
    val. Ours plots, per threshold t and aspect-ratio bin of max(w/h, h/w), the fraction of gts
    whose best top-k proposal has IoU >= t (:func:`recall_by_aspect_ratio`): a count would mostly
    reflect how many objects each bin holds. The x labels give the number of objects per bin (of
    the first run; all runs of one study share the validation set). One axes per threshold.
    """
    items = _stats_items(stats_by_label)
    fig = Figure(figsize=(min(5.5 * len(thresholds), MAX_WIDTH_IN), 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(thresholds)))
    width = 0.8 / len(items)
    for ax, t, tag in zip(axes, thresholds, "abcdefgh"):
        labels, counts = None, None
        for j, (label, stats) in enumerate(items):
            labels_j, recall, counts_j = recall_by_aspect_ratio(stats, t, k, bins)
            labels, counts = (labels_j, counts_j) if labels is None else (labels, counts)
            x = np.arange(len(labels_j)) - 0.4 + width * (j + 0.5)
            ax.bar(x, recall, width=width, color=_color(j), label=label)
        ax.set_xticks(np.arange(len(labels)))
        ax.set_xticklabels([f"{b}\nn={c}" for b, c in zip(labels, counts)], fontsize=SMALL)
        ax.set_xlabel("aspect ratio max(w/h, h/w)")
        ax.set_ylabel(f"recall at IoU >= {t:g} (top {k})")
        ax.set_ylim(0, 1)
        ax.set_title(f"({tag}) high-quality threshold {t:g}", fontsize=TITLE)
        ax.legend(fontsize=SMALL)
    fig.suptitle("Fig. 8: bounding-box versus point-based representation", fontsize=TITLE)
    return fig


# ---------------------------------------------------------------------------------- training logs
def read_log(path: str | Path) -> list[dict]:
    """The records of a ``log.jsonl`` (one JSON object per line; blank lines skipped).

    A malformed *last* line is dropped: the trainer may be writing it right now. A malformed line
    anywhere else raises ValueError with its line number.
    """
    lines = Path(path).read_text().splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    records = []
    for pos, (n, line) in enumerate(numbered):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            if pos == len(numbered) - 1:
                break
            raise ValueError(f"{path}:{n}: not JSON ({err})") from err
        if not isinstance(rec, dict):
            raise ValueError(f"{path}:{n}: a record must be a JSON object")
        records.append(rec)
    return records


_STAGE_KEY = re.compile(r"^loss_(s\d+)_")


def _loss_group(key: str) -> str:
    """'loss' -> total; 'loss_s<i>_*' -> stage i; 'loss_mask' -> stage 2 (its branch reads the
    stage-2 features); any other 'loss_*' (GA-RPN, R-CNN terms) -> 'other'."""
    if key == "loss":
        return "total"
    m = _STAGE_KEY.match(key)
    if m:
        return m.group(1)
    return "s2" if key == "loss_mask" else "other"


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or y.size < window:
        return y
    kernel = np.ones(window) / window
    head = np.array([y[:i + 1].mean() for i in range(window - 1)])
    return np.concatenate([head, np.convolve(y, kernel, mode="valid")])


@legible
def training_curves(logs_by_label: Mapping[str, Sequence[Mapping[str, Any]]], smooth: int = 1
                    ) -> Figure:
    """Training loss curves from ``log.jsonl`` records (see :func:`read_log`).

    Only ``"type": "train"`` records are used, against ``iter``. One panel for the total loss
    (``loss``; the sum of the ``loss_*`` terms when a record has none), then one per stage present
    in any run (``loss_s1_*``, ``loss_s2_*`` with ``loss_mask``), then one for any other terms.
    Colour = run, line style = term. ``smooth`` > 1 applies a trailing moving average. Not in the
    paper. ``len(fig.axes)`` = 1 + the number of groups found (1 when no run has train records).
    """
    if not logs_by_label:
        raise ValueError("logs_by_label is empty")
    series: dict[str, dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]] = {}
    for label, records in logs_by_label.items():
        train = [r for r in records if r.get("type") == "train" and "iter" in r]
        keys = sorted({kk for r in train for kk in r if kk.startswith("loss")})
        for key in keys + ([] if "loss" in keys else ["loss"]):
            rows = []
            for r in train:
                if key == "loss" and "loss" not in r:
                    terms = [v for kk, v in r.items() if kk.startswith("loss_")]
                    if terms:
                        rows.append((r["iter"], float(sum(terms))))
                elif key in r and r[key] is not None:
                    rows.append((r["iter"], float(r[key])))
            if rows:
                it, val = np.array(rows, dtype=np.float64).T
                series.setdefault(_loss_group(key), {}).setdefault(label, {})[key] = (it, val)
    order = ["total"] + sorted(g for g in series if g not in ("total", "other")) + (
        ["other"] if "other" in series else [])
    titles = {"total": "total loss", "other": "other terms"}
    cols = min(2, len(order))             # two panels a row: the browser's width (scrpn.viz.style)
    rows = math.ceil(len(order) / cols)
    fig = Figure(figsize=(5.0 * cols, 3.6 * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(len(order))]
    styles = ("-", "--", ":", "-.")
    labels = list(logs_by_label)
    for ax, group in zip(axes, order):
        runs = series.get(group, {})
        term_keys = sorted({kk for per in runs.values() for kk in per})
        for label, per in runs.items():
            c = _color(labels.index(label))
            for key, (it, val) in per.items():
                ax.plot(it, _smooth(val, smooth), color=c, ls=styles[term_keys.index(key) % len(styles)],
                        lw=1.2, label=label if len(term_keys) == 1 else f"{label}: {key}")
        if not runs:
            ax.text(0.5, 0.5, "no train records", ha="center", va="center", transform=ax.transAxes)
        m = re.fullmatch(r"s(\d+)", group)
        ax.set_title(titles.get(group, f"stage {m.group(1)}" if m else group), fontsize=TITLE)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        if runs:
            ax.legend(fontsize=SMALL)
    return fig
