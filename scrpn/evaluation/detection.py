"""COCO box AP of detectors (Fast / Faster R-CNN on top of proposals, Table II of the paper).

Keys, floats in percent: ``AP`` (IoU 0.50:0.95), ``AP50``, ``AP75``, ``AP_S``, ``AP_M``, ``AP_L``,
all at 100 detections per image, i.e. the first six numbers of COCOeval's ``summarize()``.

Design choices:

* The numbers are read from ``cocoeval.eval['precision']`` (T x R x K x A x M), averaging the
  entries > -1, exactly as ``summarize()`` does, but without its prints and without relying on
  its fixed indices; a setting with no ground truth gives NaN rather than -1 (see
  ``scrpn.evaluation.proposals.json_safe_metrics`` for writing it as JSON ``null``).
* Models usually predict contiguous labels while COCO category ids have gaps (1..90), so
  ``label_to_category`` maps labels to category ids; without it labels are taken as category ids.
  A category id unknown to the ground truth is an error: COCOeval would drop such detections
  silently and a broken label map would look like a bad model.
* Detections are not cut per image here; COCOeval keeps the 100 best per image and category.
* Zero detections overall is valid and gives AP 0.0 wherever the ground truth has objects.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO

from scrpn.evaluation.proposals import (
    AREA_RANGES,
    CocoLike,
    EvaluationError,
    check_boxes_and_scores,
    check_image_ids,
    image_id_of,
    load_coco_gt,
    mean_valid_percent,
    run_cocoeval,
    to_numpy,
    xyxy_to_coco_results,
)

DETECTION_MAX_DETS = (1, 10, 100)
_AREA_SUFFIX = {"small": "S", "medium": "M", "large": "L"}


def _labels_to_category_ids(
    entry: Mapping[str, Any],
    index: int,
    num_boxes: int,
    label_to_category: Optional[Mapping[int, int]],
) -> List[int]:
    """Validate an entry's ``labels`` (N,) and map them to COCO category ids."""
    where = f"entry {index} (image_id {image_id_of(entry, index)})"
    if "labels" not in entry:
        raise EvaluationError(f"{where}: missing key 'labels'")
    labels = to_numpy(entry["labels"], np.float64)
    if labels.shape != (num_boxes,):
        raise EvaluationError(f"{where}: labels must have shape ({num_boxes},), got {labels.shape}")
    if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
        raise EvaluationError(f"{where}: labels must be integers")
    labels_int = [int(v) for v in labels]
    if label_to_category is None:
        return labels_int
    missing = sorted({v for v in labels_int if v not in label_to_category})
    if missing:
        raise EvaluationError(f"{where}: labels {missing} are not in label_to_category")
    return [int(label_to_category[v]) for v in labels_int]


def detections_to_coco_results(
    detections: Sequence[Mapping[str, Any]],
    label_to_category: Optional[Mapping[int, int]] = None,
) -> List[Dict[str, Any]]:
    """Flatten per-image detections into COCO results (``bbox = [x, y, w, h]``), keeping order.

    Args:
        detections: list of ``{"image_id": int, "boxes": (N, 4) xyxy, "scores": (N,),
            "labels": (N,)}`` with boxes in original-image pixels.
        label_to_category: maps a model label to a COCO category id; ``None`` means the labels
            already are category ids.
    """
    results: List[Dict[str, Any]] = []
    for index, entry in enumerate(detections):
        boxes, scores = check_boxes_and_scores(entry, index)
        categories = _labels_to_category_ids(entry, index, boxes.shape[0], label_to_category)
        results.extend(xyxy_to_coco_results(image_id_of(entry, index), boxes, scores, categories))
    return results


def _check_category_ids(coco_gt: COCO, results: Sequence[Mapping[str, Any]]) -> None:
    unknown = sorted({r["category_id"] for r in results} - set(coco_gt.getCatIds()))
    if unknown:
        raise EvaluationError(f"detections: category_id(s) {unknown} are not in the ground truth's "
                              f"categories (is label_to_category right?)")


def precision_metrics(
    precision: np.ndarray, iou_thresholds: np.ndarray, max_dets: Sequence[int]
) -> Dict[str, float]:
    """AP keys from COCOeval's ``eval['precision']`` (T x R x K x A x M), at 100 detections."""
    areas = list(AREA_RANGES.keys())
    at_100 = precision[..., list(max_dets).index(100)]  # T x R x K x A
    everything = at_100[..., areas.index("all")]
    metrics = {"AP": mean_valid_percent(everything)}
    for name, threshold in (("AP50", 0.5), ("AP75", 0.75)):
        t = int(np.argmin(np.abs(np.asarray(iou_thresholds) - threshold)))
        metrics[name] = mean_valid_percent(everything[t])
    for area, letter in _AREA_SUFFIX.items():
        metrics[f"AP_{letter}"] = mean_valid_percent(at_100[..., areas.index(area)])
    return metrics


def evaluate_detections(
    coco_gt: CocoLike,
    detections: Sequence[Mapping[str, Any]],
    label_to_category: Optional[Mapping[int, int]] = None,
    per_category: bool = False,
    verbose: bool = False,
) -> Dict[str, Any]:
    """COCO box AP of ``detections`` against ``coco_gt`` (a ``COCO`` object or json path).

    Returns ``{"AP", "AP50", "AP75", "AP_S", "AP_M", "AP_L"}`` in percent (NaN where there is no
    ground truth). With ``per_category`` it adds ``"AP_per_category": {category_id: AP}``.
    Ground-truth images without detections count (their objects are missed); detections for
    image ids or category ids the ground truth does not know raise ``EvaluationError``.
    """
    gt = load_coco_gt(coco_gt, verbose=verbose)
    image_ids = [image_id_of(entry, index) for index, entry in enumerate(detections)]
    check_image_ids(gt, image_ids, source="detections")
    results = detections_to_coco_results(detections, label_to_category)
    _check_category_ids(gt, results)
    cocoeval = run_cocoeval(gt, results, use_cats=True, max_dets=DETECTION_MAX_DETS,
                            verbose=verbose)
    params = cocoeval.params
    precision = cocoeval.eval["precision"]
    metrics: Dict[str, Any] = precision_metrics(precision, params.iouThrs, params.maxDets)
    if per_category:
        everything = precision[:, :, :, list(AREA_RANGES).index("all"), -1]
        metrics["AP_per_category"] = {
            int(category): mean_valid_percent(everything[:, :, k])
            for k, category in enumerate(params.catIds)
        }
    return metrics

