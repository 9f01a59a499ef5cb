"""The ground truth that evaluation counts, defined once for every path (issue 34).

:func:`clean_ground_truth` is the one definition of which annotations of a COCO json are objects
to find. Both evaluation paths use it: the training-time evaluation through
:class:`scrpn.data.coco.CocoDetection` (whose records, and hence what the model trains on, come
from it) and ``scrpn evaluate --proposals P --annotations A`` through :func:`read_ground_truth`.
The same proposals therefore score the same AR on both paths
(``tests/test_bad_input_eval.py``). The rules, in order, for each annotation:

* it must be well formed (:func:`check_annotation`): integer ids within int64, no annotation id 0,
  a bbox of 4 finite numbers, ``area`` a finite number >= 0, ``iscrowd`` / ``ignore`` 0, 1,
  ``false`` or ``true`` (nothing else: ``"0"`` or ``[0]`` is an error, not a truthy flag), and an
  image id and a category id that the file lists (else an error naming the annotation id);
* ``ignore: 1`` -> not counted ("ignore_flag"), as mmdetection reads it;
* width or height <= 0 -> not counted ("degenerate_box");
* no overlap with the image -> not counted ("box_outside_image");
* partly outside -> clipped to the image, counted clipped ("box_clipped");
* no ``area`` -> the (clipped) box's w x h ("area_from_box");
* ``iscrowd`` -> kept as a region to ignore, not an object to find (COCOeval's reading).

A file without images or with ``"categories": []`` is an error (it would give all-null
metrics), and so is a ground truth without a single object to find (:func:`require_objects`).

pycocotools reads the same file differently: it counts every annotation of a listed image whose
category is listed (degenerate boxes, boxes outside the image, unclipped boxes and ``ignore: 1``
boxes included: ``COCOeval._prepare`` overwrites ``ignore`` with ``iscrowd``), silently drops
annotations of unknown image or category ids, and takes any truthy ``iscrowd`` as a crowd.
:func:`pycocotools_ground_truth` is that reading (``scrpn evaluate --gt-reading pycocotools``),
with the same well-formedness checks (so a file it accepts is read by pycocotools identically)
and one departure: a missing ``area``, on which pycocotools fails with ``KeyError``, is the box's
w x h. Every annotation either reading does not count is counted by reason in
:attr:`GroundTruth.skipped`, printed, and written to ``metrics.json`` (``ground_truth``).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .errors import DataError, data_error
from .json_io import is_int, is_number, read_json

__all__ = ["GroundTruth", "ID_LIMIT", "READINGS", "SKIP_REASONS", "annotation_area",
           "check_annotation", "check_flag", "check_id", "clean_ground_truth", "ground_truth_summary",
           "load_coco_json", "pycocotools_ground_truth", "read_ground_truth", "require_objects",
           "sanitize_box"]

READINGS = ("scrpn", "pycocotools")
ID_LIMIT = 2 ** 63  # ids are int64 in every array (and in pycocotools' numpy code)

SKIP_REASONS = {
    "degenerate_box": "annotations skipped: box width or height <= 0",
    "box_outside_image": "annotations skipped: box entirely outside the image",
    "box_clipped": "boxes clipped to the image (kept)",
    "ignore_flag": "annotations skipped: 'ignore' flag set",
    "area_from_box": "annotations without 'area': box w x h used (kept)",
    "unknown_image_id": "annotations not counted: image id not in 'images' (as pycocotools)",
    "unknown_category_id": "annotations not counted: category id not in 'categories' "
                           "(as pycocotools)",
    "image_too_thin": "images skipped: a side would be < 1 px after the resize to max_size",
    "empty_image_kept": "images without annotations (kept)",
    "empty_image_dropped": "images without annotations (dropped, filter_empty=True)",
}


def load_coco_json(ann_file: str | Path) -> dict[str, Any]:
    """Read a COCO json; raise :class:`DataError` naming the file on any structural problem."""
    path = Path(ann_file)
    data = read_json(path, "annotation file", data_error)
    if not isinstance(data, dict):
        raise data_error(path, f"top level must be a JSON object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise data_error(path, f"missing top-level key '{key}'")
        if not isinstance(data[key], list):
            raise data_error(path, f"'{key}' must be a list")
    return data


def check_keys(entry: Any, keys: tuple[str, ...], path: Path, what: str, **ids: Any) -> None:
    if not isinstance(entry, dict):
        raise data_error(path, f"{what} must be a JSON object, got {entry!r:.80}", **ids)
    missing = [k for k in keys if k not in entry]
    if missing:
        raise data_error(path, f"{what} is missing key(s) {missing}", **ids)


def check_id(value: Any, path: Path, what: str, **ids: Any) -> None:
    """An id: a JSON integer (not ``"1"``, ``1.0`` or ``true``) within int64."""
    if not is_int(value):
        raise data_error(path, f"{what} must be an integer, got {value!r:.80}", **ids)
    if not -ID_LIMIT <= value < ID_LIMIT:
        raise data_error(path, f"{what} {value} is out of range (ids must fit in 64 bits, "
                               "|id| < 2^63)", **ids)


def check_flag(ann: Mapping[str, Any], key: str, path: Path, ann_id: int) -> bool:
    """``iscrowd`` / ``ignore``: absent, 0, 1, ``false`` or ``true``. Anything else (``"0"``,
    ``[0]``, ``1.0``, ``2``, ``null``) is an error: no truthiness."""
    value = ann.get(key, 0)
    if isinstance(value, bool) or (is_int(value) and value in (0, 1)):
        return bool(value)
    raise data_error(path, f"'{key}' must be 0 or 1 (or false / true), got {value!r:.80}",
                     ann_id=ann_id)


def image_side(img: dict[str, Any], key: str, path: Path) -> int:
    """``width`` / ``height`` of an images entry: a positive whole number (``640.0`` accepted)."""
    value = img[key]
    if not (is_number(value) and value == int(value) and value > 0):
        raise data_error(path, f"image {key} must be a positive whole number, got {value!r:.80}",
                         image_id=img["id"])
    return int(value)


def sanitize_box(bbox: list[float], width: int, height: int) -> tuple[np.ndarray | None, str | None]:
    """COCO ``[x, y, w, h]`` -> clipped xyxy float32 box, plus the reason it was changed/skipped.

    Returns ``(box, None)`` for a box inside the image, ``(box, "box_clipped")`` for a clipped box,
    and ``(None, reason)`` for a skipped one.
    """
    x, y, w, h = (float(v) for v in bbox)
    if not (w > 0 and h > 0 and math.isfinite(x + y + w + h)):  # also catches NaN
        return None, "degenerate_box"
    x1, y1, x2, y2 = x, y, x + w, y + h
    cx1, cy1 = min(max(x1, 0.0), width), min(max(y1, 0.0), height)
    cx2, cy2 = min(max(x2, 0.0), width), min(max(y2, 0.0), height)
    if cx2 <= cx1 or cy2 <= cy1:
        return None, "box_outside_image"
    box = np.array([cx1, cy1, cx2, cy2], dtype=np.float32)
    return box, ("box_clipped" if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2) else None)


def annotation_area(ann: dict[str, Any]) -> float | None:
    """The annotation's ``area`` (COCOeval's size split), or ``None`` when the file has none."""
    return float(ann["area"]) if "area" in ann else None


def check_annotation(ann: Any, pos: int, path: Path, seen_ids: set[int]) -> None:
    """Validate one ``annotations`` entry of ``path`` as both the loader and the evaluator need
    it; raise :class:`DataError` naming the file and the annotation id. ``seen_ids`` collects ids
    to refuse duplicates (COCOeval matches by id)."""
    ann_id = ann.get("id") if isinstance(ann, dict) else None
    named = ann_id if is_int(ann_id) else None
    check_keys(ann, ("id", "image_id", "bbox", "category_id"), path, f"annotations[{pos}]",
               ann_id=named)
    check_id(ann_id, path, f"annotations[{pos}]: id")
    if ann_id == 0:
        raise data_error(path, "can never be matched (COCOeval uses id 0 for "
                               "'unmatched'): number annotations from 1", ann_id=ann_id)
    if ann_id in seen_ids:
        raise data_error(path, "duplicate annotation id", ann_id=ann_id)
    seen_ids.add(ann_id)
    check_id(ann["image_id"], path, "image_id", ann_id=ann_id)
    check_id(ann["category_id"], path, "category_id", ann_id=ann_id)
    bbox = ann["bbox"]
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v, finite=False) for v in bbox)):
        raise data_error(path, f"bbox must be 4 numbers [x, y, w, h], got {bbox!r:.80}",
                         ann_id=ann_id)
    if not all(is_number(v) for v in bbox):
        raise data_error(path, "bbox has a value that is not finite (NaN, inf or beyond the "
                               f"float range): {bbox!r:.80}",
                         ann_id=ann_id)
    area = ann.get("area", 0.0)
    if not (is_number(area) and area >= 0):
        raise data_error(path, f"area must be a finite number >= 0, got {area!r:.80}",
                         ann_id=ann_id)
    check_flag(ann, "iscrowd", path, ann_id)
    check_flag(ann, "ignore", path, ann_id)


def index_images(data: dict[str, Any], path: Path) -> dict[int, dict[str, Any]]:
    """``images`` by id, in file order; each entry needs ``id``, ``width`` and ``height``."""
    images: dict[int, dict[str, Any]] = {}
    for pos, img in enumerate(data["images"]):
        check_keys(img, ("id", "width", "height"), path, f"images[{pos}]")
        check_id(img["id"], path, f"images[{pos}]: id")
        if img["id"] in images:
            raise data_error(path, "duplicate image id", image_id=img["id"])
        image_side(img, "width", path)
        image_side(img, "height", path)
        images[img["id"]] = img
    if not images:
        raise data_error(path, "'images' is empty: nothing to evaluate or train on")
    return images


def category_map(data: dict[str, Any], path: Path) -> tuple[dict[int, int], list[dict[str, Any]]]:
    """COCO category id -> contiguous label 1..K (increasing id), and the sorted categories."""
    for pos, cat in enumerate(data["categories"]):
        check_keys(cat, ("id", "name"), path, f"categories[{pos}]")
        check_id(cat["id"], path, f"categories[{pos}]: id")
    if not data["categories"]:
        raise data_error(path, "'categories' is empty: no annotation could be evaluated "
                               "(pycocotools would score nothing and report no metric)")
    cats = sorted(data["categories"], key=lambda c: c["id"])
    return {c["id"]: i + 1 for i, c in enumerate(cats)}, cats


@dataclass
class Kept:
    """One annotation that evaluation counts (an object, or a crowd region to ignore)."""
    box: np.ndarray      # (4,) float32 xyxy, clipped (the pycocotools reading: unclipped)
    label: int           # contiguous label 1..K
    crowd: bool
    ann_id: int
    eval_bbox: list      # xywh as evaluated: the file's, or the clipped box
    area: float          # the file's 'area', else the box's w x h
    category_id: int


@dataclass
class GroundTruth:
    """A COCO json as one reading counts it: the images, and per image the annotations kept."""
    path: Path
    reading: str
    images: dict[int, dict[str, Any]]
    categories: list[dict[str, Any]]
    cat_to_label: dict[int, int]
    kept: dict[int, list[Kept]]
    skipped: Counter = field(default_factory=Counter)

    def coco_dict(self, image_ids: Optional[Sequence[int]] = None) -> dict[str, Any]:
        """The COCO json dict evaluation scores against: ``image_ids`` (default: all, in file
        order) and their kept annotations, per image in file order."""
        ids = list(self.images) if image_ids is None else [int(i) for i in image_ids]
        images, annotations = [], []
        for image_id in ids:
            img = self.images[image_id]
            entry = {"id": image_id, "width": int(img["width"]), "height": int(img["height"])}
            if "file_name" in img:
                entry["file_name"] = img["file_name"]
            images.append(entry)
            for k in self.kept[image_id]:
                annotations.append({"id": k.ann_id, "image_id": image_id,
                                    "category_id": k.category_id, "bbox": list(k.eval_bbox),
                                    "area": float(k.area), "iscrowd": int(k.crowd)})
        return {"images": images, "annotations": annotations, "categories": self.categories}

    def report(self) -> str:
        """``<file>: N images, M objects to find (+C crowd regions)`` and one line per reason."""
        return _report(self.path, ground_truth_summary(self.coco_dict(), self.skipped,
                                                       self.path, self.reading))


def _report(path: Path, summary: Mapping[str, Any]) -> str:
    crowd = summary["crowd_regions"]
    head = (f"{path}: {summary['images']} images, {summary['objects']} objects to find"
            + (f" (+{crowd} crowd regions, ignored)" if crowd else "")
            + f" ({summary['reading']} reading)")
    if not summary["skipped"]:
        return head + ", nothing skipped"
    return "\n".join([head] + [f"  {n:>7d} {SKIP_REASONS.get(k, k)}"
                               for k, n in sorted(summary["skipped"].items())])


def ground_truth_summary(gt: Mapping[str, Any], skipped: Mapping[str, int], path: Any,
                         reading: str = "scrpn") -> dict[str, Any]:
    """What ``metrics.json`` records under ``ground_truth``: the file, the reading, the images
    and objects scored (crowd regions apart) and every annotation or image not counted as it is
    in the file, by reason."""
    anns = gt.get("annotations", [])
    crowd = sum(1 for a in anns if a.get("iscrowd"))
    return {"annotation_file": str(path), "reading": reading, "images": len(gt.get("images", [])),
            "objects": len(anns) - crowd, "crowd_regions": crowd,
            "skipped": {k: int(v) for k, v in sorted(skipped.items()) if v}}


def require_objects(gt: Mapping[str, Any], source: Any, what: str = "the ground truth") -> None:
    """Raise ``DataError`` when ``gt`` (a COCO dict) holds no object to find: every recall would
    be undefined and the metrics all null."""
    if not any(not a.get("iscrowd") for a in gt.get("annotations", [])):
        raise data_error(source, f"{what} holds no object to find ({len(gt.get('images', []))} "
                                 "images, no annotation counted): every metric would be null")


def clean_ground_truth(data: dict[str, Any], path: str | Path) -> GroundTruth:
    """THE ground truth of a COCO json dict (see the module docstring for the rules)."""
    path = Path(path)
    images = index_images(data, path)
    cat_to_label, categories = category_map(data, path)
    gt = GroundTruth(path, "scrpn", images, categories, cat_to_label, {i: [] for i in images})
    seen: set[int] = set()
    for pos, ann in enumerate(data["annotations"]):
        check_annotation(ann, pos, path, seen)
        ann_id = ann["id"]
        if ann["image_id"] not in images:
            raise data_error(path, f"refers to unknown image id {ann['image_id']}", ann_id=ann_id)
        if ann["category_id"] not in cat_to_label:
            raise data_error(path, f"unknown category id {ann['category_id']}", ann_id=ann_id)
        if check_flag(ann, "ignore", path, ann_id):
            gt.skipped["ignore_flag"] += 1
            continue
        img = images[ann["image_id"]]
        box, reason = sanitize_box(ann["bbox"], int(img["width"]), int(img["height"]))
        if reason is not None:
            gt.skipped[reason] += 1
        if box is None:
            continue
        area = annotation_area(ann)
        if area is None:
            gt.skipped["area_from_box"] += 1
        eval_bbox = ([float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]
                     if reason == "box_clipped" else [float(v) for v in ann["bbox"]])
        gt.kept[ann["image_id"]].append(Kept(
            box, cat_to_label[ann["category_id"]], check_flag(ann, "iscrowd", path, ann_id), ann_id,
            eval_bbox, eval_bbox[2] * eval_bbox[3] if area is None else area, ann["category_id"]))
    return gt


def pycocotools_ground_truth(data: dict[str, Any], path: str | Path) -> GroundTruth:
    """The same file as pycocotools' ``COCOeval`` (``useCats = 0``) counts it: every annotation
    of a listed image and category, unclipped, ``ignore`` disregarded; annotations of unknown
    image or category ids are not counted (and counted here by reason)."""
    path = Path(path)
    images = index_images(data, path)
    cat_to_label, categories = category_map(data, path)
    gt = GroundTruth(path, "pycocotools", images, categories, cat_to_label,
                     {i: [] for i in images})
    seen: set[int] = set()
    for pos, ann in enumerate(data["annotations"]):
        check_annotation(ann, pos, path, seen)
        if ann["image_id"] not in images:
            gt.skipped["unknown_image_id"] += 1
            continue
        if ann["category_id"] not in cat_to_label:
            gt.skipped["unknown_category_id"] += 1
            continue
        bbox = [float(v) for v in ann["bbox"]]
        area = annotation_area(ann)
        if area is None:
            gt.skipped["area_from_box"] += 1
        box = np.array([bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]], np.float32)
        gt.kept[ann["image_id"]].append(Kept(
            box, cat_to_label[ann["category_id"]], check_flag(ann, "iscrowd", path, ann["id"]),
            ann["id"], bbox, bbox[2] * bbox[3] if area is None else area, ann["category_id"]))
    return gt


def read_ground_truth(path: str | Path, reading: str = "scrpn") -> GroundTruth:
    """Read and check ``path``, and keep what ``reading`` counts (``"scrpn"``:
    :func:`clean_ground_truth`; ``"pycocotools"``: :func:`pycocotools_ground_truth`)."""
    if reading not in READINGS:
        raise DataError(f"{path}: unknown ground-truth reading {reading!r} "
                        f"(choose from {', '.join(READINGS)})")
    data = load_coco_json(path)
    build = clean_ground_truth if reading == "scrpn" else pycocotools_ground_truth
    return build(data, path)
