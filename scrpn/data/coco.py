"""COCO-format detection dataset (MS COCO 2017 or any COCO json + image folder).

Design choices (mirroring mmdetection's ``CocoDataset`` where the paper depends on it):

* All validation happens in the constructor: the json is parsed and checked, every annotation is
  sanitised, and the existence of every image file is checked with ``os.path.exists``. Iterating
  can then only fail on an image that exists but cannot be decoded, and that error names the file.
* Boxes with width or height <= 0 are skipped ("degenerate box"); boxes partly outside the image are
  clipped to it ("box clipped", kept); boxes with no overlap with the image are skipped ("box
  outside image"); annotations with ``ignore: 1`` are skipped like mmdetection does. Every case is
  counted in :attr:`CocoDetection.skipped` and summarised by :meth:`CocoDetection.report`.
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

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from .errors import DataError, data_error
from .transforms import flip_decision, make_sample

__all__ = ["CocoDetection", "default_coco_paths", "load_coco_json", "sanitize_box", "SKIP_REASONS"]

SKIP_REASONS = {
    "degenerate_box": "annotations skipped: box width or height <= 0",
    "box_outside_image": "annotations skipped: box entirely outside the image",
    "box_clipped": "boxes clipped to the image (kept)",
    "ignore_flag": "annotations skipped: 'ignore' flag set",
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
    if not path.is_file():
        raise data_error(path, "annotation file not found")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise data_error(path, f"invalid JSON at line {e.lineno} column {e.colno} "
                               f"(char {e.pos}): {e.msg}") from e
    except UnicodeDecodeError as e:
        raise data_error(path, f"not a UTF-8 text file ({e})") from e
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
    if not (w > 0 and h > 0):  # also catches NaN
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


def _check_keys(entry: Any, keys: tuple[str, ...], path: Path, what: str, **ids: int | None) -> None:
    if not isinstance(entry, dict):
        raise data_error(path, f"{what} must be a JSON object, got {entry!r:.80}", **ids)
    missing = [k for k in keys if k not in entry]
    if missing:
        raise data_error(path, f"{what} is missing key(s) {missing}", **ids)


def _index_images(data: dict[str, Any], path: Path) -> dict[int, dict[str, Any]]:
    images: dict[int, dict[str, Any]] = {}
    for pos, img in enumerate(data["images"]):
        _check_keys(img, ("id", "file_name", "width", "height"), path, f"images[{pos}]")
        if img["id"] in images:
            raise data_error(path, "duplicate image id", image_id=img["id"])
        if not (int(img["width"]) > 0 and int(img["height"]) > 0):
            raise data_error(path, f"image size must be positive, got {img['width']}x{img['height']}",
                             image_id=img["id"])
        images[img["id"]] = img
    return images


def _category_map(data: dict[str, Any], path: Path) -> tuple[dict[int, int], list[dict[str, Any]]]:
    for pos, cat in enumerate(data["categories"]):
        _check_keys(cat, ("id", "name"), path, f"categories[{pos}]")
    cats = sorted(data["categories"], key=lambda c: c["id"])
    return {c["id"]: i + 1 for i, c in enumerate(cats)}, cats


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
        per_image: dict[int, list[tuple[np.ndarray, int, bool]]] = {i: [] for i in images}
        for pos, ann in enumerate(data["annotations"]):
            _check_keys(ann, ("id", "image_id", "bbox", "category_id"), self.ann_file,
                        f"annotations[{pos}]", ann_id=ann.get("id") if isinstance(ann, dict) else None)
            entry = self._parse_annotation(ann, images)
            if entry is not None:
                per_image[ann["image_id"]].append(entry)
        records = []
        for image_id, img in images.items():
            entries = per_image[image_id]
            if not any(not crowd for _, _, crowd in entries):
                if self.filter_empty:
                    self.skipped["empty_image_dropped"] += 1
                    continue
                self.skipped["empty_image_kept"] += 1
            records.append(self._make_record(img, entries))
        return records

    def _parse_annotation(self, ann: dict[str, Any], images: dict[int, dict[str, Any]]
                          ) -> tuple[np.ndarray, int, bool] | None:
        ann_id = ann["id"]
        if ann["image_id"] not in images:
            raise data_error(self.ann_file, f"refers to unknown image id {ann['image_id']}", ann_id=ann_id)
        if ann["category_id"] not in self.cat_to_label:
            raise data_error(self.ann_file, f"unknown category id {ann['category_id']}", ann_id=ann_id)
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
            raise data_error(self.ann_file, f"bbox must be 4 numbers [x, y, w, h], got {bbox!r:.80}",
                             ann_id=ann_id)
        if ann.get("ignore", 0):
            self.skipped["ignore_flag"] += 1
            return None
        img = images[ann["image_id"]]
        box, reason = sanitize_box(bbox, int(img["width"]), int(img["height"]))
        if reason is not None:
            self.skipped[reason] += 1
        if box is None:
            return None
        return box, self.cat_to_label[ann["category_id"]], bool(ann.get("iscrowd", 0))

    def _make_record(self, img: dict[str, Any], entries: list[tuple[np.ndarray, int, bool]]) -> ImageRecord:
        boxes = np.stack([e[0] for e in entries]) if entries else np.zeros((0, 4), np.float32)
        return ImageRecord(
            image_id=img["id"],
            path=self.image_dir / img["file_name"],
            height=int(img["height"]),
            width=int(img["width"]),
            boxes=boxes.astype(np.float32),
            labels=np.array([e[1] for e in entries], dtype=np.int64),
            iscrowd=np.array([e[2] for e in entries], dtype=bool),
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
                array = np.asarray(im.convert("RGB"))
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

    def report(self) -> str:
        """Human-readable summary of everything skipped, clipped or dropped at construction."""
        head = f"{self.ann_file}: {len(self.records)} images"
        if not self.skipped:
            return head + ", nothing skipped"
        lines = [head] + [f"  {n:>7d} {SKIP_REASONS.get(k, k)}" for k, n in sorted(self.skipped.items())]
        return "\n".join(lines)
