"""Data layer: COCO, SynthShapes and DeepForest datasets in one common sample format.

Every dataset returns ``(image, target)`` where ``image`` is a float32 (3, H, W) RGB tensor in
[0, 1] after resize/flip (the model normalises), and ``target`` holds ``boxes`` (N, 4) float32 xyxy
in the resized image's pixels, ``labels`` (N,) int64 (1-based contiguous), ``iscrowd`` (N,) bool,
``image_id``, ``orig_size`` (h, w), ``img_shape`` (h, w), ``scale_factor`` and ``flipped``. Every
dataset exposes ``ann_file``, ``image_ids``, ``len()``, ``skipped`` and ``report()``.
"""

from __future__ import annotations

from typing import Any

from .coco import CocoDetection, default_coco_paths, load_coco_json
from .collate import collate_batch
from .deepforest import DeepForestDataset, count_labelled_boxes, prepare_deepforest
from .errors import DataError
from .stats import dataset_card, format_card, fpn_level
from .synthetic import CATEGORIES, SynthShapesConfig, SynthShapesDataset, render_sample, write_coco_split
from .transforms import hflip_boxes, hflip_image, resize_boxes, resize_image, resize_keep_ratio

__all__ = [
    "CATEGORIES",
    "CocoDetection",
    "DataError",
    "DeepForestDataset",
    "SynthShapesConfig",
    "SynthShapesDataset",
    "build_dataset",
    "collate_batch",
    "count_labelled_boxes",
    "dataset_card",
    "default_coco_paths",
    "format_card",
    "fpn_level",
    "hflip_boxes",
    "hflip_image",
    "load_coco_json",
    "prepare_deepforest",
    "render_sample",
    "resize_boxes",
    "resize_image",
    "resize_keep_ratio",
    "write_coco_split",
]

DATASET_NAMES = ("synthshapes", "coco", "deepforest")


def build_dataset(name: str, split: str, **kwargs: Any):
    """Build a dataset by name.

    * ``"synthshapes"``: ``SynthShapesDataset(split, config=None | SynthShapesConfig, flip_prob, cache_dir)``;
      SynthShapesConfig fields (``image_size``, ``num_train``, ...) may also be passed directly.
    * ``"coco"``: ``root`` (MS COCO 2017 layout, ``split`` = "train" / "val") or explicit
      ``ann_file`` and ``image_dir``; other kwargs go to :class:`CocoDetection`.
    * ``"deepforest"``: kwargs go to :class:`DeepForestDataset`.
    """
    key = name.lower()
    if key == "synthshapes":
        fields = set(SynthShapesConfig.__dataclass_fields__)
        cfg_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        config = kwargs.pop("config", None) or SynthShapesConfig(**cfg_kwargs)
        if cfg_kwargs and config != SynthShapesConfig(**cfg_kwargs):
            raise ValueError("pass either config= or SynthShapesConfig fields, not both")
        return SynthShapesDataset(split, config, **kwargs)
    if key == "coco":
        if "ann_file" in kwargs or "image_dir" in kwargs:
            if not ("ann_file" in kwargs and "image_dir" in kwargs):
                raise ValueError("coco: pass both ann_file and image_dir, or root")
            ann_file, image_dir = kwargs.pop("ann_file"), kwargs.pop("image_dir")
            kwargs.pop("root", None)
        else:
            ann_file, image_dir = default_coco_paths(kwargs.pop("root", "data/coco"), split)
        return CocoDetection(ann_file, image_dir, **kwargs)
    if key == "deepforest":
        return DeepForestDataset(split, **kwargs)
    raise ValueError(f"unknown dataset {name!r}; expected one of {DATASET_NAMES}")
