"""COCO-format detection dataset (MS COCO 2017 or any COCO json + image folder).

Design choices (mirroring mmdetection's ``CocoDataset`` where the paper depends on it):

* Which annotations are objects to find is defined once, in
  :func:`scrpn.data.ground_truth.clean_ground_truth` (degenerate, outside and ``ignore: 1``
  boxes skipped, partly-outside boxes clipped, missing areas filled, strict ids and flags, each
  case counted); the dataset's records and :meth:`CocoDetection.ground_truth` come from it, and
  ``scrpn evaluate --proposals`` reads files through the same function, so a skipped box is never
  a missed object on either path (``tests/test_bad_input.py``, ``tests/test_bad_input_eval.py``).
  Everything is checked in the constructor; only regular files are read as images (a named pipe
  is refused, :func:`open_regular`). An absolute ``file_name`` or one that leaves the image folder
  is an error naming the file and the image id. An image whose short side would round to 0 px
  after the resize to ``max_size`` (e.g. 5000 x 1) is skipped and counted ("image_too_thin").
* Every PIL image mode is read by a rule of its own (:func:`read_rgb`): 16-bit images (PNG mode
  ``I;16``) are scaled to 8 bits (``v / 257``), not saturated by ``convert("RGB")``; 32-bit
  float images are scaled by the nominal range their values lie in; modes without a defined
  reading are refused naming the file.
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

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from scrpn.inputs import InputFileError, input_problem, open_input

from .errors import DataError, data_error
from .ground_truth import (SKIP_REASONS, GroundTruth, Kept, annotation_area, check_annotation,
                           clean_ground_truth, load_coco_json, sanitize_box)
from .transforms import flip_decision, make_sample, rescaled_shape, resize_keep_ratio

__all__ = ["CocoDetection", "annotation_area", "check_annotation", "default_coco_paths",
           "load_coco_json", "open_regular", "read_rgb", "sanitize_box", "SKIP_REASONS"]


def default_coco_paths(root: str | Path, split: str) -> tuple[Path, Path]:
    """MS COCO 2017 layout: ``(root/annotations/instances_{split}2017.json, root/{split}2017/)``."""
    root = Path(root)
    return root / "annotations" / f"instances_{split}2017.json", root / f"{split}2017"


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


def unreadable_image(exc: BaseException) -> str:
    """Why PIL could not read an image, in words: a file in no format PIL knows (its own message
    would name the open stream, not the file), or PIL's reason (``image file is truncated``)."""
    if isinstance(exc, Image.UnidentifiedImageError):
        return "cannot read image (not in an image format PIL recognises)"
    return f"cannot read image ({type(exc).__name__}: {exc})"


def read_image_checked(path: Path, image_id: Any, size: tuple[int, int], says: str) -> np.ndarray:
    """Image ``path`` as (H, W, 3) uint8 RGB (:func:`read_rgb`), checked against the ``size``
    (height, width) that ``says`` (the annotation file) gives it; a file that is no regular file,
    no readable image or of another size is one :class:`DataError` naming the file and
    ``image_id``. The COCO loader and DeepForest's tiler both read images through it."""
    try:
        with open_regular(path) as stream, Image.open(stream) as im:
            array = read_rgb(im)
    except InputFileError as e:
        raise data_error(path, f"image file {e.problem}", image_id=image_id) from e
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise data_error(path, unreadable_image(e), image_id=image_id) from e
    if array.shape[:2] != tuple(size):
        raise data_error(path, f"image is {array.shape[1]}x{array.shape[0]} (w x h) but {says} says "
                               f"{size[1]}x{size[0]}", image_id=image_id)
    return array


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (:func:`scrpn.inputs.open_input`:
    opened non-blocking and checked with ``fstat``, so that a named pipe put in place of an
    image raises :class:`~scrpn.inputs.InputFileError`, an ``OSError`` saying what the path is,
    instead of blocking forever)."""
    return open_input(path)


# What every PIL mode becomes (docs/bad-input.md, "Image modes"; tests/test_bad_input_config.py
# reads one image of each). PIL's own conversion is exact for these: bilevel, grey, palette,
# RGB, and the colour spaces it converts colorimetrically (YCbCr, LAB, HSV; CMYK with PIL's
# 255 - C - K formula, JPEG's inverted Adobe CMYK being undone when PIL opens the file).
_PIL_CONVERTS = frozenset({"1", "L", "P", "RGB", "RGBX", "YCbCr", "LAB", "HSV", "CMYK"})
# Alpha is dropped and the colour kept, as the other loaders of COCO do (premultiplied RGBa is
# unpremultiplied first).
_ALPHA = frozenset({"RGBA", "LA", "PA", "RGBa"})


def _from_levels(values: np.ndarray, top: float) -> np.ndarray:
    """Grey levels on ``[0, top]`` as (H, W, 3) uint8 (``round(v * 255 / top)``)."""
    gray = np.rint(values.astype(np.float64) * (255.0 / top)).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def read_rgb(image: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a PIL image, decided per mode; ``ValueError`` (a one-line error
    naming the file) for a mode or range with no defined reading.

    * ``1 L P RGB RGBX YCbCr LAB HSV CMYK``: PIL's conversion; ``RGBA LA PA RGBa``: alpha dropped.
    * 16-bit grey (``I;16``, ``I;16B``, ...; a 16-bit PNG): ``round(v / 257)``, where
      ``convert("RGB")`` would saturate to 255. Negative values (signed TIFFs) are refused.
    * 32-bit integer grey (``I``): read as 16-bit levels when every value is in ``[0, 65535]``
      (older Pillows open 16-bit PNGs so), else refused: it has no defined white.
    * 32-bit float grey (``F``, a float TIFF; ``convert`` reads it as all black): the nominal
      range the values lie in is white: ``[0, 1]`` (x 255), else ``[0, 255]`` (as 8-bit levels),
      else ``[0, 65535]`` (as 16-bit levels). NaN, infinite, negative or larger values are
      refused.
    * Any other mode (``La``, ``I;16S`` with negatives...) is refused.
    """
    mode = image.mode
    if mode in _PIL_CONVERTS or mode in _ALPHA:
        return np.asarray(image.convert("RGB"))
    if mode.startswith("I"):
        values = np.asarray(image)
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if low < 0 or high > 65535:
            raise ValueError(f"{'32' if mode == 'I' else '16'}-bit integer image (mode {mode}) "
                             f"with values in [{low}, {high}]: only [0, 65535] has a defined "
                             "white (convert it to an 8- or 16-bit image)")
        return _from_levels(values, 65535.0)
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if values.size and not np.isfinite(values).all():
            raise ValueError("32-bit float image (mode F) with NaN or infinite values")
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        for top in (1.0, 255.0, 65535.0):
            if low >= 0.0 and high <= top:
                return _from_levels(values, top)
        raise ValueError(f"32-bit float image (mode F) with values in [{low:g}, {high:g}]: "
                         "only [0, 1], [0, 255] or [0, 65535] have a defined white")
    raise ValueError(f"image mode {mode!r} is not supported (convert it to RGB)")


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
        self.truth: GroundTruth = clean_ground_truth(load_coco_json(self.ann_file), self.ann_file)
        self.skipped.update(self.truth.skipped)
        self.cat_to_label, self.categories = self.truth.cat_to_label, self.truth.categories
        self.label_to_cat_id = {label: cid for cid, label in self.cat_to_label.items()}
        self.records = self._build_records()
        self._check_files_exist()
        self.image_ids = [r.image_id for r in self.records]

    # ------------------------------------------------------------------ construction
    def _build_records(self) -> list[ImageRecord]:
        """One record per image of the ground truth, less the images too thin to resize (and,
        with ``filter_empty``, those without an object)."""
        records = []
        self.unreadable_ids: list[int] = []  # too thin to resize: the model never sees them
        for image_id, img in self.truth.images.items():
            entries = self.truth.kept[image_id]
            if self._too_thin(img):
                self.skipped["image_too_thin"] += 1
                self.unreadable_ids.append(image_id)
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

    def _make_record(self, img: dict[str, Any], entries: list[Kept]) -> ImageRecord:
        boxes = np.stack([e.box for e in entries]) if entries else np.zeros((0, 4), np.float32)
        return ImageRecord(
            image_id=img["id"],
            path=_image_path(self.image_dir, img.get("file_name"), self.ann_file, img["id"]),
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
        """Every image must exist and be a regular file (a named pipe would block the reader
        forever; a folder or device is no image)."""
        for rec in self.records:
            problem = input_problem(rec.path)
            if problem is not None and problem != "not found":
                raise data_error(rec.path, f"image file {problem}: only regular files are read "
                                           "as images", image_id=rec.image_id)
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
        return read_image_checked(rec.path, rec.image_id, (rec.height, rec.width), str(self.ann_file))

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
        the annotations :func:`scrpn.data.ground_truth.clean_ground_truth` keeps (clipped boxes
        clipped; ids, categories and areas of the file; a missing area is the box's w x h), in
        the file's order. ``scrpn evaluate --proposals`` reads the file through the same
        function, so both paths score the same objects. Images skipped as too thin to resize
        are included: the model cannot propose anything there, so their objects count as
        missed, as they do when the dumped proposals are scored against the file."""
        kept = set(self.image_ids) | set(self.unreadable_ids)
        return self.truth.coco_dict([i for i in self.truth.images if i in kept])

    def report(self) -> str:
        """Human-readable summary of everything skipped, clipped or dropped at construction."""
        head = f"{self.ann_file}: {len(self.records)} images"
        if not self.skipped:
            return head + ", nothing skipped"
        lines = [head] + [f"  {n:>7d} {SKIP_REASONS.get(k, k)}" for k, n in sorted(self.skipped.items())]
        return "\n".join(lines)
