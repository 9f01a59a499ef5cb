"""COCO-format detection dataset (MS COCO 2017 or any COCO json + image folder).

Design choices (mirroring mmdetection's ``CocoDataset`` where the paper depends on it):

* All validation happens in the constructor: the json is parsed and checked, every annotation is
  sanitised, and the existence of every image file is checked with ``os.path.exists``. Iterating
  can then only fail on an image that exists but cannot be decoded, and that error names the file.
* Boxes with width or height <= 0 are skipped ("degenerate box"); boxes partly outside the image are
  clipped to it ("box clipped", kept); boxes with no overlap with the image are skipped ("box
  outside image"); annotations with ``ignore: 1`` are skipped like mmdetection does. Every case is
  counted in :attr:`CocoDetection.skipped` and summarised by :meth:`CocoDetection.report`.
* Ids are integers (COCO's format; a string or list id is an error naming the file). Annotation
  id 0 is refused: COCOeval marks an unmatched proposal with ground-truth id 0, so a box with id 0
  could never be found. A non-finite bbox value, an absolute ``file_name`` or one that leaves the
  image folder are errors naming the file and the id (:func:`check_annotation`).
* A missing ``area`` (COCOeval splits small / medium / large by it) becomes the box's w x h,
  counted as "area_from_box". An image whose short side would round to 0 px after the resize to
  ``max_size`` (e.g. 5000 x 1) is skipped and counted ("image_too_thin").
* Evaluation reads :meth:`CocoDetection.ground_truth`, the annotations as the loader kept them
  (skipped boxes gone, clipped boxes clipped, ids and areas of the file), not the raw json: a
  skipped box then cannot count as a missed object. ``tests/test_bad_input.py`` pins this with
  perfect proposals scoring AR 100.
* 16-bit images (PNG mode ``I;16``) are scaled to 8 bits (``v / 257``), not saturated by
  ``convert("RGB")``.
* Crowd annotations are kept with ``iscrowd = True``; the model and COCOeval ignore them.
* An image is "empty" when it has no non-crowd box left. Empty images are kept by default (they
  are negatives-only images, and evaluation must see every image); ``filter_empty=True`` drops them
  for training (mmdetection's ``filter_empty_gt``, which also avoids the no-ground-truth crash that
  Cascade RPN once had).
* COCO category ids (1..90 with gaps) are mapped to contiguous labels 1..K in increasing id order;
  :attr:`CocoDetection.label_to_cat_id` maps back.
* Horizontal flip is decided per (seed, epoch, index) with :func:`scrpn.data.transforms.flip_decision`
  so runs are reproducible regardless of worker count; call :meth:`set_epoch` every epoch.
"""

from __future__ import annotations

import math
import os
from collections import Counter
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from .errors import DataError, data_error
from .json_io import is_int, is_number, read_json
from .transforms import flip_decision, make_sample, rescaled_shape, resize_keep_ratio

__all__ = ["CocoDetection", "annotation_area", "check_annotation", "default_coco_paths",
           "load_coco_json", "read_rgb", "sanitize_box", "SKIP_REASONS"]

SKIP_REASONS = {
    "degenerate_box": "annotations skipped: box width or height <= 0",
    "box_outside_image": "annotations skipped: box entirely outside the image",
    "box_clipped": "boxes clipped to the image (kept)",
    "ignore_flag": "annotations skipped: 'ignore' flag set",
    "area_from_box": "annotations without 'area': box w x h used (kept)",
    "image_too_thin": "images skipped: a side would be < 1 px after the resize to max_size",
    "empty_image_kept": "images without annotations (kept)",
    "empty_image_dropped": "images without annotations (dropped, filter_empty=True)",
}


def default_coco_paths(root: str | Path, split: str) -> tuple[Path, Path]:
    """MS COCO 2017 layout: ``(root/annotations/instances_{split}2017.json, root/{split}2017/)``."""
    root = Path(root)
    return root / "annotations" / f"instances_{split}2017.json", root / f"{split}2017"


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


@dataclass
class ImageRecord:
    """One image and its sanitised annotations (boxes in original pixels)."""

    image_id: int
    path: Path
    height: int
    width: int
    boxes: np.ndarray  # (N, 4) float32 xyxy
    labels: np.ndarray  # (N,) int64, 1-based contiguous
    iscrowd: np.ndarray  # (N,) bool
    ann_ids: np.ndarray  # (N,) int64, the file's annotation ids
    eval_bboxes: np.ndarray  # (N, 4) float64 xywh as evaluated: the file's, or the clipped box
    areas: np.ndarray  # (N,) float64: the file's 'area', else the box's w x h


class _Kept(typing.NamedTuple):
    """One annotation the loader keeps."""
    box: np.ndarray  # (4,) float32 xyxy, clipped
    label: int
    crowd: bool
    ann_id: int
    eval_bbox: list  # xywh
    area: float


def _check_keys(entry: Any, keys: tuple[str, ...], path: Path, what: str, **ids: Any) -> None:
    if not isinstance(entry, dict):
        raise data_error(path, f"{what} must be a JSON object, got {entry!r:.80}", **ids)
    missing = [k for k in keys if k not in entry]
    if missing:
        raise data_error(path, f"{what} is missing key(s) {missing}", **ids)


def _check_id(value: Any, path: Path, what: str, **ids: Any) -> None:
    if not is_int(value):
        raise data_error(path, f"{what} must be an integer, got {value!r:.80}", **ids)


def _image_side(img: dict[str, Any], key: str, path: Path) -> int:
    """``width`` / ``height`` of an images entry: a positive whole number (``640.0`` accepted)."""
    value = img[key]
    if not (is_number(value) and value == int(value) and value > 0):
        raise data_error(path, f"image {key} must be a positive whole number, got {value!r:.80}",
                         image_id=img["id"])
    return int(value)


def _image_path(image_dir: Path, file_name: Any, path: Path, image_id: int) -> Path:
    """``image_dir / file_name``, refusing a name that is not relative to the image folder."""
    if not (isinstance(file_name, str) and file_name):
        raise data_error(path, f"file_name must be a non-empty string, got {file_name!r:.80}",
                         image_id=image_id)
    parts = Path(file_name).parts
    if Path(file_name).is_absolute() or ".." in parts:
        raise data_error(path, f"file_name {file_name!r} leaves the image folder {image_dir} "
                               "(names must be relative, without '..')", image_id=image_id)
    return image_dir / file_name


def annotation_area(ann: dict[str, Any]) -> float | None:
    """The annotation's ``area`` (COCOeval's size split), or ``None`` when the file has none."""
    return float(ann["area"]) if "area" in ann else None


def check_annotation(ann: Any, pos: int, path: Path, seen_ids: set[int]) -> None:
    """Validate one ``annotations`` entry of ``path`` as both the loader and the evaluator need
    it; raise :class:`DataError` naming the file and the annotation id. ``seen_ids`` collects ids
    to refuse duplicates (COCOeval matches by id)."""
    ann_id = ann.get("id") if isinstance(ann, dict) else None
    _check_keys(ann, ("id", "image_id", "bbox", "category_id"), path, f"annotations[{pos}]",
                ann_id=ann_id if is_int(ann_id) else None)
    _check_id(ann_id, path, f"annotations[{pos}]: id")
    if ann_id == 0:
        raise data_error(path, "can never be matched (COCOeval uses id 0 for "
                               "'unmatched'): number annotations from 1", ann_id=ann_id)
    if ann_id in seen_ids:
        raise data_error(path, "duplicate annotation id", ann_id=ann_id)
    seen_ids.add(ann_id)
    _check_id(ann["image_id"], path, "image_id", ann_id=ann_id)
    _check_id(ann["category_id"], path, "category_id", ann_id=ann_id)
    bbox = ann["bbox"]
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v, finite=False) for v in bbox)):
        raise data_error(path, f"bbox must be 4 numbers [x, y, w, h], got {bbox!r:.80}",
                         ann_id=ann_id)
    if not all(math.isfinite(v) for v in bbox):
        raise data_error(path, f"bbox has a value that is not finite: {bbox!r:.80}", ann_id=ann_id)
    area = ann.get("area", 0.0)
    if not (is_number(area) and area >= 0):
        raise data_error(path, f"area must be a finite number >= 0, got {area!r:.80}",
                         ann_id=ann_id)


def _index_images(data: dict[str, Any], path: Path) -> dict[int, dict[str, Any]]:
    images: dict[int, dict[str, Any]] = {}
    for pos, img in enumerate(data["images"]):
        _check_keys(img, ("id", "file_name", "width", "height"), path, f"images[{pos}]")
        _check_id(img["id"], path, f"images[{pos}]: id")
        if img["id"] in images:
            raise data_error(path, "duplicate image id", image_id=img["id"])
        _image_side(img, "width", path)
        _image_side(img, "height", path)
        images[img["id"]] = img
    return images


def _category_map(data: dict[str, Any], path: Path) -> tuple[dict[int, int], list[dict[str, Any]]]:
    for pos, cat in enumerate(data["categories"]):
        _check_keys(cat, ("id", "name"), path, f"categories[{pos}]")
        _check_id(cat["id"], path, f"categories[{pos}]: id")
    cats = sorted(data["categories"], key=lambda c: c["id"])
    return {c["id"]: i + 1 for i, c in enumerate(cats)}, cats


def read_rgb(image: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a PIL image. 16- and 32-bit integer modes (a 16-bit PNG opens as
    ``I;16``) are scaled from 16 bits (``round(v / 257)``), which ``convert("RGB")`` would
    saturate to 255."""
    if image.mode.startswith("I"):
        values = np.clip(np.asarray(image, dtype=np.float64), 0, 65535)
        gray = np.rint(values / 257.0).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(image.convert("RGB"))


class CocoDetection(Dataset):
    """COCO json + image folder -> ``(image (3, H, W) float [0, 1], target dict)`` samples.

    See the module docstring for the validation rules and :func:`scrpn.data.transforms.make_sample`
    for the sample format.
    """

    def __init__(
        self,
        ann_file: str | Path,
        image_dir: str | Path,
        *,
        max_size: tuple[int, int] | None = (1333, 800),
        flip_prob: float = 0.0,
        filter_empty: bool = False,
        seed: int = 0,
    ) -> None:
        self.ann_file = Path(ann_file)
        self.image_dir = Path(image_dir)
        self.max_size = max_size
        self.flip_prob = float(flip_prob)
        self.filter_empty = filter_empty
        self.seed = int(seed)
        self.epoch = 0
        self.skipped: Counter[str] = Counter()
        data = load_coco_json(self.ann_file)
        self.cat_to_label, self.categories = _category_map(data, self.ann_file)
        self.label_to_cat_id = {label: cid for cid, label in self.cat_to_label.items()}
        self.records = self._build_records(data)
        self._check_files_exist()
        self.image_ids = [r.image_id for r in self.records]

    # ------------------------------------------------------------------ construction
    def _build_records(self, data: dict[str, Any]) -> list[ImageRecord]:
        images = _index_images(data, self.ann_file)
        per_image: dict[int, list[_Kept]] = {i: [] for i in images}
        seen_ids: set[int] = set()
        for pos, ann in enumerate(data["annotations"]):
            check_annotation(ann, pos, self.ann_file, seen_ids)
            entry = self._parse_annotation(ann, images)
            if entry is not None:
                per_image[ann["image_id"]].append(entry)
        records = []
        for image_id, img in images.items():
            entries = per_image[image_id]
            if self._too_thin(img):
                self.skipped["image_too_thin"] += 1
                continue
            if not any(not e.crowd for e in entries):
                if self.filter_empty:
                    self.skipped["empty_image_dropped"] += 1
                    continue
                self.skipped["empty_image_kept"] += 1
            records.append(self._make_record(img, entries))
        return records

    def _too_thin(self, img: dict[str, Any]) -> bool:
        """Would the keep-ratio resize to ``max_size`` give a side of 0 px?"""
        if self.max_size is None:
            return False
        hw = (int(img["height"]), int(img["width"]))
        return min(rescaled_shape(hw, resize_keep_ratio(hw, self.max_size))) < 1

    def _parse_annotation(self, ann: dict[str, Any], images: dict[int, dict[str, Any]]
                          ) -> _Kept | None:
        ann_id = ann["id"]
        if ann["image_id"] not in images:
            raise data_error(self.ann_file, f"refers to unknown image id {ann['image_id']}", ann_id=ann_id)
        if ann["category_id"] not in self.cat_to_label:
            raise data_error(self.ann_file, f"unknown category id {ann['category_id']}", ann_id=ann_id)
        if ann.get("ignore", 0):
            self.skipped["ignore_flag"] += 1
            return None
        img = images[ann["image_id"]]
        box, reason = sanitize_box(ann["bbox"], int(img["width"]), int(img["height"]))
        if reason is not None:
            self.skipped[reason] += 1
        if box is None:
            return None
        area = annotation_area(ann)
        if area is None:
            self.skipped["area_from_box"] += 1
        eval_bbox = ([float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]
                     if reason == "box_clipped" else [float(v) for v in ann["bbox"]])
        return _Kept(box, self.cat_to_label[ann["category_id"]], bool(ann.get("iscrowd", 0)),
                     ann_id, eval_bbox, eval_bbox[2] * eval_bbox[3] if area is None else area)

    def _make_record(self, img: dict[str, Any], entries: list[_Kept]) -> ImageRecord:
        boxes = np.stack([e.box for e in entries]) if entries else np.zeros((0, 4), np.float32)
        return ImageRecord(
            image_id=img["id"],
            path=_image_path(self.image_dir, img["file_name"], self.ann_file, img["id"]),
            height=int(img["height"]),
            width=int(img["width"]),
            boxes=boxes.astype(np.float32),
            labels=np.array([e.label for e in entries], dtype=np.int64),
            iscrowd=np.array([e.crowd for e in entries], dtype=bool),
            ann_ids=np.array([e.ann_id for e in entries], dtype=np.int64),
            eval_bboxes=np.array([e.eval_bbox for e in entries], dtype=np.float64).reshape(-1, 4),
            areas=np.array([e.area for e in entries], dtype=np.float64),
        )

    def _check_files_exist(self) -> None:
        missing = [r.path for r in self.records if not os.path.exists(r.path)]
        if missing:
            raise DataError(
                f"{missing[0]}: image file not found ({len(missing)} of {len(self.records)} images "
                f"listed in {self.ann_file} are missing from {self.image_dir})")

    # ------------------------------------------------------------------ access
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose flip decisions :meth:`__getitem__` uses."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def load_image(self, idx: int) -> np.ndarray:
        """Read image ``idx`` as (H, W, 3) uint8 RGB; raise :class:`DataError` naming an unreadable file."""
        rec = self.records[idx]
        try:
            with Image.open(rec.path) as im:
                array = read_rgb(im)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            raise data_error(rec.path, f"cannot read image ({type(e).__name__}: {e})",
                             image_id=rec.image_id) from e
        if array.shape[:2] != (rec.height, rec.width):
            raise data_error(rec.path, f"image is {array.shape[1]}x{array.shape[0]} (w x h) but "
                                       f"{self.ann_file} says {rec.width}x{rec.height}",
                             image_id=rec.image_id)
        return array

    def __getitem__(self, idx: int) -> tuple[Tensor, dict[str, Any]]:
        rec = self.records[idx]
        flip = flip_decision(self.seed, self.epoch, idx, self.flip_prob)
        return make_sample(self.load_image(idx), rec.boxes, rec.labels, rec.iscrowd, rec.image_id,
                           max_size=self.max_size, flip=flip)

    @property
    def num_images(self) -> int:
        return len(self.records)

    def ground_truth(self) -> dict[str, Any]:
        """The ground truth that evaluation counts, as a COCO json dict: this dataset's images and
        the annotations the loader kept (clipped boxes clipped; ids, categories and areas of the
        file; a missing area is the box's w x h), in the file's order."""
        annotations = []
        for rec in self.records:
            for k in range(len(rec.ann_ids)):
                annotations.append({
                    "id": int(rec.ann_ids[k]), "image_id": rec.image_id,
                    "category_id": self.label_to_cat_id[int(rec.labels[k])],
                    "bbox": rec.eval_bboxes[k].tolist(), "area": float(rec.areas[k]),
                    "iscrowd": int(rec.iscrowd[k])})
        images = [{"id": r.image_id, "width": r.width, "height": r.height,
                   "file_name": str(r.path.relative_to(self.image_dir))} for r in self.records]
        return {"images": images, "annotations": annotations, "categories": self.categories}

    def report(self) -> str:
        """Human-readable summary of everything skipped, clipped or dropped at construction."""
        head = f"{self.ann_file}: {len(self.records)} images"
        if not self.skipped:
            return head + ", nothing skipped"
        lines = [head] + [f"  {n:>7d} {SKIP_REASONS.get(k, k)}" for k, n in sorted(self.skipped.items())]
        return "\n".join(lines)
