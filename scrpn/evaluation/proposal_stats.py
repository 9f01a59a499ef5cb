"""Per-object and per-proposal IoU statistics of a proposal set: what Figs. 6-8 are drawn from.

AR (``evaluate_proposals``) reduces a run to a dozen numbers; the paper's figures need more: the
IoU distribution of the proposals (Fig. 6), recall as a function of the IoU threshold for the top
300 / 1000 (Fig. 7) and high-quality recall by object aspect ratio (Fig. 8). Keeping every
proposal of every run would cost ~10 MB per run, so a run keeps, in ``proposal_stats.npz``:

* ``gt_wh`` (G, 2), ``gt_image`` (G,): every non-crowd ground-truth box (original pixels);
* ``best_iou_<k>`` (G,) for k in 100 / 300 / 1000: the best IoU of any of the image's top-k
  proposals (by score) with that object, 0.0 when the image has no proposal;
* ``proposal_iou_hist_<k>`` (20,): histogram, over every top-k proposal of every image, of the
  proposal's largest IoU with any object of its image (0.0 when the image has no object), with
  ``iou_bins`` = linspace(0, 1, 21) (the last bin includes 1.0).

Everything derives from the same proposals AR is computed from; the sizes are a few tens of kB.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torchvision.ops import box_iou

from scrpn.outputs import atomic_write

__all__ = ["BUDGETS", "IOU_BINS", "missed_fractions", "proposal_share_at_least", "proposal_stats", "save_stats",
           "load_stats"]

BUDGETS = (100, 300, 1000)
IOU_BINS = np.linspace(0.0, 1.0, 21, dtype=np.float32)


def _gt_by_image(coco_gt: Any, image_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Non-crowd ground truth of each image as (G_i, 4) xyxy float32."""
    out = {}
    for image_id in image_ids:
        anns = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=[image_id], iscrowd=False))
        xywh = np.array([a["bbox"] for a in anns], dtype=np.float32).reshape(-1, 4)
        out[image_id] = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return out


def _top_boxes(entry: Mapping[str, Any], k: int) -> torch.Tensor:
    """The ``k`` highest-scoring boxes of one proposals entry, (<=k, 4)."""
    boxes = torch.as_tensor(np.asarray(entry["boxes"], dtype=np.float32)).reshape(-1, 4)
    scores = torch.as_tensor(np.asarray(entry["scores"], dtype=np.float32)).reshape(-1)
    order = torch.argsort(scores, descending=True, stable=True)[:k]
    return boxes[order]


def proposal_stats(coco_gt: Any, proposals: Sequence[Mapping[str, Any]],
                   budgets: Sequence[int] = BUDGETS) -> dict[str, np.ndarray]:
    """Statistics of ``proposals`` (``{"image_id", "boxes", "scores"}`` per image, original
    pixels) against ``coco_gt`` (a ``COCO`` object); every image of ``coco_gt`` is counted."""
    by_image = {int(p["image_id"]): p for p in proposals}
    image_ids = sorted(int(i) for i in coco_gt.getImgIds())
    gts = _gt_by_image(coco_gt, image_ids)
    best = {k: [] for k in budgets}
    hist = {k: np.zeros(len(IOU_BINS) - 1, dtype=np.int64) for k in budgets}
    wh, owner = [], []
    for image_id in image_ids:
        gt = torch.as_tensor(gts[image_id])                                   # (G_i, 4)
        wh.append(gts[image_id][:, 2:] - gts[image_id][:, :2])
        owner.append(np.full(len(gt), image_id, dtype=np.int64))
        entry = by_image.get(image_id, {"boxes": np.zeros((0, 4)), "scores": np.zeros(0)})
        for k in budgets:
            boxes = _top_boxes(entry, k)                                      # (P, 4)
            iou = box_iou(gt, boxes) if len(gt) and len(boxes) else torch.zeros(len(gt), len(boxes))
            best[k].append((iou.max(dim=1).values if len(boxes) else torch.zeros(len(gt))).numpy())
            per_proposal = iou.max(dim=0).values if len(gt) else torch.zeros(len(boxes))
            hist[k] += np.histogram(per_proposal.numpy(), bins=IOU_BINS)[0]
    stats = {"gt_wh": np.concatenate(wh).astype(np.float32).reshape(-1, 2),
             "gt_image": np.concatenate(owner) if owner else np.zeros(0, np.int64),
             "iou_bins": IOU_BINS.copy()}
    for k in budgets:
        stats[f"best_iou_{k}"] = (np.concatenate(best[k]) if best[k] else np.zeros(0)).astype(np.float32)
        stats[f"proposal_iou_hist_{k}"] = hist[k]
    return stats


def save_stats(path: str | Path, stats: Mapping[str, np.ndarray]) -> Path:
    """Write ``stats`` as a compressed ``.npz`` (parent folders created)."""
    return atomic_write(path, lambda stream: np.savez_compressed(stream, **stats))


def load_stats(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ``proposal_stats.npz`` back as a dict of arrays."""
    with np.load(Path(path)) as data:
        return {key: data[key] for key in data.files}


# COCO's size split (area in pixels²) and the slender split of issue 18's experiment 2
SMALL_AREA, MEDIUM_AREA, SLENDER_ASPECT = 32.0 ** 2, 96.0 ** 2, 4.0


def missed_fractions(stats: Mapping[str, np.ndarray], budget: int = 1000, iou: float = 0.3) -> dict[str, float]:
    """The fraction of objects a run misses outright: no top-``budget`` proposal with IoU >= ``iou``
    (registered for experiment 2: best IoU < 0.3 in 1,000 proposals), overall, by COCO size
    (``S`` area < 32², ``M`` < 96², ``L``) and by aspect (``aspect<4`` / ``aspect>=4``, the
    longer side over the shorter). NaN for a group without objects."""
    wh = np.asarray(stats["gt_wh"], dtype=np.float64).reshape(-1, 2)
    missed = np.asarray(stats[f"best_iou_{budget}"]) < iou
    area = wh[:, 0] * wh[:, 1]
    aspect = np.maximum(wh[:, 0], wh[:, 1]) / np.maximum(np.minimum(wh[:, 0], wh[:, 1]), 1e-6)
    groups = {"all": np.ones_like(missed), "S": area < SMALL_AREA,
              "M": (area >= SMALL_AREA) & (area < MEDIUM_AREA), "L": area >= MEDIUM_AREA,
              "aspect<4": aspect < SLENDER_ASPECT, "aspect>=4": aspect >= SLENDER_ASPECT}
    return {name: float(missed[mask].mean()) if mask.any() else float("nan") for name, mask in groups.items()}


def proposal_share_at_least(stats: Mapping[str, np.ndarray], threshold: float, budget: int = 300) -> float:
    """The fraction of all top-``budget`` proposals whose largest IoU with an object is >=
    ``threshold`` (Fig. 6's reading: the share of its histogram at and above ``threshold``), from
    ``proposal_iou_hist_<budget>``. ``threshold`` must be an edge of ``iou_bins`` (a share inside a
    bin is not in the record); NaN when the run returned no proposal. Pinned in
    ``tests/test_report_fields_figures.py``."""
    bins = np.asarray(stats["iou_bins"], dtype=np.float64)
    hist = np.asarray(stats[f"proposal_iou_hist_{budget}"], dtype=np.float64)
    if bins.size != hist.size + 1:
        raise ValueError(f"{bins.size} iou_bins edges for {hist.size} counts")
    edge = np.flatnonzero(np.isclose(bins[:-1], threshold, rtol=0.0, atol=1e-6))
    if edge.size != 1:
        raise ValueError(f"IoU {threshold!r} is not a left edge of iou_bins ({', '.join(f'{b:g}' for b in bins[:-1])})")
    total = hist.sum()
    return float(hist[edge[0]:].sum() / total) if total > 0 else float("nan")
