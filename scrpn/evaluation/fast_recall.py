"""Vectorised class-agnostic COCO recall: what ``COCOeval`` computes for proposals, in seconds.

pycocotools' ``COCOeval.evaluate()`` matches detections to ground truths with three nested Python
loops (IoU threshold x detection x ground truth) per image and per area range. At COCO scale
(5,000 val images x 1,000 proposals) that took 464 s on 2 cores; this module takes 21 s
(``benchmarks/bench_ar_eval.py``). It recomputes the array ``cocoeval.eval['recall']``
(T x 1 x A x M) for ``params.useCats = 0`` with numpy, and is checked against pycocotools to 1e-6
by ``tests/test_fast_recall.py``.

Every rule of ``cocoeval.py`` (``_prepare``, ``computeIoU``, ``evaluateImg``, ``accumulate``) that
can change a recall is reproduced:

* Images are ``sorted(gt.getImgIds())``; ground truths and detections whose ``category_id`` is
  not among the ground truth's categories are dropped; an image's ground truths are ordered by
  category (sorted ids) and then by their order in the annotation file.
* A ground truth is *ignored* for an area range if it is a crowd (``_prepare`` overwrites any
  ``ignore`` field with ``iscrowd``) or its ``area`` field lies outside the closed range.
* IoU is ``maskUtils.iou`` on xywh boxes, with the same floating-point operations: intersection
  ``min(x + w) - max(x)``, union ``gt_area + det_area - inter``, or the detection's area for a
  crowd ground truth. Detection boxes are the xywh of the COCO results (``x2 - x1``).
* Detections are taken in descending score order (stable) and each one, at each IoU threshold,
  takes the free ground truth with the largest IoU >= ``min(t, 1 - 1e-10)``, non-ignored ones
  first; among equal IoUs the *last* one in order wins (the ``>=`` update of the loop). A crowd
  ground truth may be taken again; a non-crowd one (ignored or not) only once.
* A detection is a true positive when it matched a non-ignored ground truth whose ``id`` is not
  0 (``dtMatches`` stores the id and ``accumulate`` tests it for truth: a ground truth with id 0
  can never be found -- a pycocotools quirk we keep so the numbers stay identical).
* ``recall[t, 0, a, m]`` = true positives among each image's first ``maxDets[m]`` detections,
  summed over images, divided by the number of non-ignored ground truths; -1 when there is none.
  Whether a detection lies outside the area range only matters for precision, not for recall.

Speed comes from two observations. First, greedy matching is sequential over detections only
*within* an image, so the loop runs over detection ranks while images, area ranges, thresholds
and ground truths are processed as arrays. Second, a detection whose IoU with every non-crowd
ground truth is below the lowest threshold can never change the matching state (it matches
nothing, or only a crowd ground truth, which stays free), so only the other detections enter the
loop, keeping their original rank for the ``maxDets`` cut.
"""
from __future__ import annotations

from typing import Any, List, Mapping, Sequence, Tuple

import numpy as np

__all__ = ["GroundTruthArrays", "coco_box_iou", "fast_recall", "gt_arrays"]

_CHUNK_IMAGES = 128  # images matched together; bounds the (images x ranks x gts) IoU block


class GroundTruthArrays:
    """Per-image ground truths in COCOeval's order, as flat arrays with offsets."""

    def __init__(self, image_ids: np.ndarray, offsets: np.ndarray, boxes: np.ndarray,
                 areas: np.ndarray, crowd: np.ndarray, ids: np.ndarray) -> None:
        self.image_ids = image_ids   # (I,) sorted image ids
        self.offsets = offsets       # (I + 1,) image i's gts are rows offsets[i]:offsets[i + 1]
        self.boxes = boxes           # (N, 4) xywh float64
        self.areas = areas           # (N,) the annotations' 'area' fields
        self.crowd = crowd           # (N,) bool
        self.ids = ids               # (N,) annotation ids


def gt_arrays(coco_gt: Any) -> GroundTruthArrays:
    """Flatten a pycocotools ``COCO`` ground truth the way ``COCOeval._prepare`` orders it."""
    image_ids = np.unique(np.asarray(coco_gt.getImgIds(), dtype=np.int64))
    category_rank = {c: r for r, c in enumerate(sorted(coco_gt.getCatIds()))}
    image_index = {int(i): k for k, i in enumerate(image_ids)}
    rows: List[Tuple[int, int, int]] = []
    anns: List[Mapping[str, Any]] = []
    for image_id in image_ids.tolist():
        for ann in coco_gt.imgToAnns.get(image_id, []):
            rank = category_rank.get(ann["category_id"])
            if rank is not None:
                rows.append((image_index[image_id], rank, len(anns)))
                anns.append(ann)
    order = sorted(range(len(rows)), key=lambda r: rows[r])
    anns = [anns[r] for r in order]
    counts = np.bincount([rows[r][0] for r in order], minlength=len(image_ids))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    boxes = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    areas = np.asarray([a["area"] for a in anns], dtype=np.float64)
    crowd = np.asarray([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool)
    ids = np.asarray([a["id"] for a in anns], dtype=np.float64)
    return GroundTruthArrays(image_ids, offsets, boxes, areas, crowd, ids)


def coco_box_iou(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of xywh ``dets`` (..., D, 4) with xywh ``gts`` (..., G, 4), as ``maskUtils.iou``.

    The operations and their order are those of pycocotools' C ``bbIou`` so that IoUs sitting
    exactly on a threshold compare the same way. Returns (..., D, G) float64.
    """
    d = dets[..., :, None, :]
    g = gts[..., None, :, :]
    w = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0], g[..., 0])
    h = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1], g[..., 1])
    inter = w * h
    det_area = d[..., 2] * d[..., 3]
    union = np.where(crowd[..., None, :], det_area, (g[..., 2] * g[..., 3] + det_area) - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where((w > 0) & (h > 0), iou, 0.0)


def _pad(rows: Sequence[np.ndarray], width: int, fill: float, dtype: Any) -> np.ndarray:
    """Stack variable-length arrays (n_i, ...) into (len(rows), width, ...) padded with ``fill``."""
    tail = rows[0].shape[1:] if rows else ()
    out = np.full((len(rows), width) + tail, fill, dtype=dtype)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _last_argmax(values: np.ndarray, allowed: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Index of the last maximum of ``values`` over the last axis among ``allowed``, and any()."""
    masked = np.where(allowed, values, -np.inf)
    width = values.shape[-1]
    index = width - 1 - np.argmax(masked[..., ::-1], axis=-1)
    return index, allowed.any(axis=-1)


def _match_chunk(iou: np.ndarray, ranks: np.ndarray, valid: np.ndarray, ignore: np.ndarray,
                 crowd: np.ndarray, found: np.ndarray, thresholds: np.ndarray,
                 budgets: np.ndarray) -> np.ndarray:
    """Greedy COCOeval matching of a chunk of images; returns true-positive counts (A, T, M).

    Args:
        iou: (C, R, G) IoU of each image's candidate detections (in score order) with its gts.
        ranks: (C, R) rank of each candidate among its image's detections (for ``maxDets``).
        valid: (C, R) candidate exists (images have different numbers of candidates).
        ignore: (C, A, G) gt ignored in area range a (padding gts are never candidates).
        crowd: (C, G) crowd gts, which stay free after a match.
        found: (C, G) gt counts as found when matched while not ignored (valid and id != 0).
        thresholds: (T,) already capped at 1 - 1e-10; budgets: (M,) maxDets.
    """
    num_images, num_ranks, num_gts = iou.shape
    num_areas, num_thr = ignore.shape[1], thresholds.size
    taken = np.zeros((num_images, num_areas, num_thr, num_gts), dtype=bool)
    hits = np.zeros((num_areas, num_thr, budgets.size), dtype=np.int64)
    rows = np.arange(num_images)[:, None, None]
    areas = np.arange(num_areas)[None, :, None]
    thrs = np.arange(num_thr)[None, None, :]
    regular = ~ignore[:, :, None, :]
    for k in range(num_ranks):
        values = iou[:, k, None, None, :]                          # (C, 1, 1, G)
        free = (~taken | crowd[:, None, None, :]) & valid[:, k, None, None, None]
        candidate = free & (values >= thresholds[None, None, :, None])
        best_reg, has_reg = _last_argmax(values, candidate & regular)
        best_ign, has_ign = _last_argmax(values, candidate & ~regular)
        best = np.where(has_reg, best_reg, best_ign)
        matched = has_reg | has_ign
        taken[rows, areas, thrs, best] |= matched
        hit = has_reg & found[np.arange(num_images)[:, None, None], best_reg]   # (C, A, T)
        in_budget = ranks[:, k, None] < budgets[None, :]                       # (C, M)
        hits += np.einsum("cat,cm->atm", hit.astype(np.int64), in_budget.astype(np.int64))
    return hits


def _xywh(boxes_xyxy: np.ndarray) -> np.ndarray:
    """xyxy -> xywh exactly as the COCO results format writes them (``x2 - x1``)."""
    return np.concatenate([boxes_xyxy[:, :2], boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]], axis=1)


def _candidates(iou: np.ndarray, det_valid: np.ndarray, crowd: np.ndarray,
                min_threshold: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compact each image's detections to those reaching ``min_threshold`` with a non-crowd gt.

    Returns the gathered IoUs (C, R, G), their ranks (C, R) and a validity mask (C, R).
    """
    reach = np.where(crowd[:, None, :], 0.0, iou).max(axis=2, initial=0.0) >= min_threshold
    reach &= det_valid
    count = reach.sum(axis=1)
    width = int(count.max(initial=0))
    ranks = np.argsort(~reach, axis=1, kind="stable")[:, :width]   # candidates first, by rank
    gathered = np.take_along_axis(iou, ranks[:, :, None], axis=1)
    valid = np.arange(width)[None, :] < count[:, None]
    return gathered, ranks, valid


def _chunk_hits(gt: GroundTruthArrays, images: np.ndarray, dets: Sequence[np.ndarray],
                area_ranges: np.ndarray, thresholds: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """True-positive counts (A, T, M) of the images ``images`` (indices into ``gt.image_ids``)."""
    spans = [slice(gt.offsets[i], gt.offsets[i + 1]) for i in images]
    num_gts = max((s.stop - s.start for s in spans), default=0)
    num_dets = max((len(dets[i]) for i in images), default=0)
    if num_gts == 0 or num_dets == 0:
        return np.zeros((len(area_ranges), thresholds.size, budgets.size), dtype=np.int64)
    boxes = _pad([gt.boxes[s] for s in spans], num_gts, 0.0, np.float64)
    crowd = _pad([gt.crowd[s] for s in spans], num_gts, False, bool)
    areas = _pad([gt.areas[s] for s in spans], num_gts, 0.0, np.float64)
    real = _pad([np.ones(s.stop - s.start, bool) for s in spans], num_gts, False, bool)
    found = real & _pad([gt.ids[s] != 0 for s in spans], num_gts, False, bool)
    det_boxes = _pad([dets[i] for i in images], num_dets, 0.0, np.float64)
    det_valid = _pad([np.ones(len(dets[i]), bool) for i in images], num_dets, False, bool)
    iou = np.where(real[:, None, :], coco_box_iou(det_boxes, boxes, crowd), 0.0)
    iou, ranks, valid = _candidates(iou, det_valid, crowd, float(thresholds.min()))
    outside = (areas[:, None, :] < area_ranges[None, :, 0, None]) | \
              (areas[:, None, :] > area_ranges[None, :, 1, None])
    ignore = crowd[:, None, :] | outside
    return _match_chunk(iou, ranks, valid, ignore, crowd, found, thresholds, budgets)


def fast_recall(coco_gt: Any, detections: Sequence[Mapping[str, Any]], max_dets: Sequence[int],
                iou_thresholds: np.ndarray, area_ranges: Sequence[Sequence[float]],
                keep_detections: bool = True, chunk_images: int = _CHUNK_IMAGES) -> np.ndarray:
    """``COCOeval(...).eval['recall']`` (T x 1 x A x M) of class-agnostic detections.

    Args:
        coco_gt: pycocotools ``COCO`` ground truth.
        detections: ``{"image_id", "boxes" (N, 4) xyxy float64, "scores" (N,)}`` per image, at
            most one entry per image, every image id in the ground truth.
        max_dets: budgets (sorted ascending, as COCOeval sorts them).
        iou_thresholds: (T,) IoU thresholds; area_ranges: A closed ``[lo, hi]`` ranges.
        keep_detections: False when the detections' category is not among the ground truth's
            categories (COCOeval then drops them all).
        chunk_images: images matched together (memory ~ chunk x detections x gts x 8 bytes).
    """
    gt = gt_arrays(coco_gt)
    budgets = np.asarray(sorted(int(m) for m in max_dets), dtype=np.int64)
    thresholds = np.minimum(np.asarray(iou_thresholds, dtype=np.float64), 1 - 1e-10)
    ranges = np.asarray(area_ranges, dtype=np.float64).reshape(-1, 2)
    dets = _detections_by_image(gt, detections, int(budgets[-1]), keep_detections)
    gt_counts = np.diff(gt.offsets)
    order = np.argsort(gt_counts, kind="stable")   # similar gt counts together: little padding
    hits = np.zeros((len(ranges), thresholds.size, budgets.size), dtype=np.int64)
    for start in range(0, len(order), chunk_images):
        chunk = order[start:start + chunk_images]
        hits += _chunk_hits(gt, chunk, dets, ranges, thresholds, budgets)
    return _recall_from_hits(hits, gt, ranges)


def _detections_by_image(gt: GroundTruthArrays, detections: Sequence[Mapping[str, Any]],
                         keep: int, keep_detections: bool) -> List[np.ndarray]:
    """Each gt image's detections as xywh in descending score order (stable), cut to ``keep``."""
    index = {int(i): k for k, i in enumerate(gt.image_ids)}
    dets = [np.zeros((0, 4), dtype=np.float64) for _ in gt.image_ids]
    if not keep_detections:
        return dets
    for entry in detections:
        boxes = np.asarray(entry["boxes"], dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(entry["scores"], dtype=np.float64).reshape(-1)
        order = np.argsort(-scores, kind="stable")[:keep]
        dets[index[int(entry["image_id"])]] = _xywh(boxes[order])
    return dets


def _recall_from_hits(hits: np.ndarray, gt: GroundTruthArrays, ranges: np.ndarray) -> np.ndarray:
    """recall[t, 0, a, m] = hits / non-ignored gts, or -1 where an area range has none."""
    outside = (gt.areas[None, :] < ranges[:, 0, None]) | (gt.areas[None, :] > ranges[:, 1, None])
    counted = (~(gt.crowd[None, :] | outside)).sum(axis=1)            # (A,)
    recall = np.full(hits.shape, -1.0)
    has = counted > 0
    recall[has] = hits[has] / counted[has, None, None]
    return recall.transpose(1, 0, 2)[:, None, :, :]
