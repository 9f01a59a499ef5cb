"""SynthShapes: the embedded procedural detection dataset.

SynthShapes exists so that the whole pipeline (training, proposal evaluation, ablations) runs
without downloading COCO, on data that exercises what the paper studies rather than a toy:

* **8 categories** (:data:`CATEGORIES`), including slender ones: ``stick`` (thin bar, aspect 5-9,
  like the paper's "toothbrush, knife") and ``bar`` (capsule, aspect 2.5-6). Shapes are rotated
  (slender shapes are near axis-aligned 40 % of the time so that box aspect ratios up to 1:8 and
  beyond occur) and filled with solid colours, stripes, checkerboards, noise or gradients.
* **Clutter and distractors** that belong to no category: gradient + low-frequency-noise
  backgrounds, line scribbles, small blobs and irregular texture patches, and thin "wires" drawn on
  top of the objects. Objectness must therefore be learned, not read off a flat background.
* **Scale distribution like COCO**: each object draws a target visible area from the COCO bins
  small / medium / large with probabilities :attr:`SynthShapesConfig.size_mix` (calibrated so that
  the *annotated* areas come out near COCO's 41 / 34 / 24 %), log-uniformly inside the bin; the
  largest objects reach ``sqrt(box area) > 181`` in a 320 image, so with the mini profile's P2
  anchor size 16 every FPN level P2-P6 receives ground truth.
* **Occlusion**: objects are painted roughly from large to small (with random jitter), so later
  objects occlude earlier ones. Every pixel remembers which instance painted it last; after all
  drawing, an instance's *visible* mask gives its annotation: ``bbox`` = visible extent, ``area`` =
  visible pixel count (COCO's ``area`` is the segmentation area; ours is the visible-mask area),
  ``segmentation`` = compressed RLE of the visible mask. Instances whose visible fraction (of the
  pixels they painted inside the frame) is below ``min_visible`` are dropped (but stay painted).
* **Counts**: the number of painted objects per image is a Poisson-Gamma (over-dispersed, like
  COCO's long tail) draw whose mean is calibrated so that about ``mean_objects`` instances per image
  survive the visibility filter (COCO: 7.3).

Determinism: sample ``index`` of ``split`` is rendered from a numpy generator seeded with
``SeedSequence([seed, split_code, index])``, so any sample can be produced on its own, in any
order, by any worker. Train images are rendered on the fly (no disk); the val split is written once
as COCO json + PNG into a cache folder keyed by a hash of the config (see :func:`default_cache_dir`)
and read back from there, so evaluation uses the same files an external tool would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils
from torch import Tensor
from torch.utils.data import Dataset

from scrpn.outputs import atomic_write, atomic_write_text

from .coco import CocoDetection
from .transforms import flip_decision, make_sample

__all__ = [
    "CATEGORIES",
    "SynthShapesConfig",
    "SynthShapesDataset",
    "render_sample",
    "write_coco_split",
    "default_cache_dir",
    "GENERATOR_VERSION",
]

GENERATOR_VERSION = 1  # bump when rendering changes: it is part of the cache hash
_SPLIT_CODES = {"train": 0, "val": 1}
_CATEGORY_NAMES = ("ellipse", "rectangle", "triangle", "star", "ring", "cross", "stick", "bar")
CATEGORIES: list[dict[str, Any]] = [
    {"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(_CATEGORY_NAMES)
]
# (min, max) of the long/short aspect ratio of each shape before rotation
_ASPECT_RANGE = {"ellipse": (1.0, 3.0), "rectangle": (1.0, 2.2), "triangle": (1.0, 2.0),
                 "star": (1.0, 1.3), "ring": (1.0, 1.6), "cross": (1.0, 1.5),
                 "stick": (4.5, 10.0), "bar": (2.5, 6.0)}
# approximate fraction of the (unrotated) box a shape covers: converts target area into shape size
_FILL_FRACTION = {"ellipse": 0.785, "rectangle": 1.0, "triangle": 0.5, "star": 0.4, "ring": 0.45,
                  "cross": 0.55, "stick": 1.0, "bar": 0.9}
_SIZE_BINS = ((5.0, 32.0), (32.0, 96.0), (96.0, 240.0))  # sqrt(visible area) ranges per COCO bin
_COUNT_INFLATION = 1.14  # painted / surviving objects, measured at the default config


@dataclass(frozen=True)
class SynthShapesConfig:
    """Parameters of SynthShapes; every field is part of the cache hash."""

    image_size: int = 320
    num_train: int = 4000
    num_val: int = 500
    seed: int = 0
    mean_objects: float = 7.0
    max_objects: int = 40
    min_visible: float = 0.3
    size_mix: tuple[float, float, float] = (0.37, 0.26, 0.37)
    mean_distractors: float = 8.0

    def params_hash(self) -> str:
        """Short stable hash of the config and :data:`GENERATOR_VERSION` (cache folder name)."""
        payload = json.dumps({"version": GENERATOR_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:12]

    def num_images(self, split: str) -> int:
        _check_split(split)
        return self.num_train if split == "train" else self.num_val


def _check_split(split: str) -> None:
    if split not in _SPLIT_CODES:
        raise ValueError(f"SynthShapes split must be one of {sorted(_SPLIT_CODES)}, got {split!r}")


def default_cache_dir(config: SynthShapesConfig) -> Path:
    """``$SCRPN_DATA/synthshapes/<hash>`` if ``SCRPN_DATA`` is set, else
    ``<repo>/data/synthshapes/<hash>`` (git-ignored)."""
    root = os.environ.get("SCRPN_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "data"
    return base / "synthshapes" / config.params_hash()


# ---------------------------------------------------------------------------- geometry
def _unit_outline(rng: np.random.Generator, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Outline of a shape in [-1, 1]^2 (long axis along x before scaling) and an optional hole."""
    if name in ("ellipse", "ring"):
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        circle = np.stack([np.cos(t), np.sin(t)], 1)
        hole = circle * rng.uniform(0.45, 0.7) if name == "ring" else None
        return circle, hole
    if name in ("rectangle", "stick"):
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64), None
    if name == "bar":  # capsule: a rectangle with rounded (elliptical) caps
        t = np.linspace(-np.pi / 2, np.pi / 2, 9)
        cap = np.stack([np.cos(t), np.sin(t)], 1)
        return np.concatenate([cap * [0.25, 1] + [0.75, 0], -cap * [0.25, 1] - [0.75, 0]]), None
    if name == "triangle":
        a = np.array([-np.pi / 2, np.pi / 6, 5 * np.pi / 6]) + rng.uniform(-0.35, 0.35, 3)
        return np.stack([np.cos(a), np.sin(a)], 1), None
    if name == "star":
        k = int(rng.integers(5, 8))
        t = np.linspace(0, 2 * np.pi, 2 * k, endpoint=False)
        r = np.where(np.arange(2 * k) % 2 == 0, 1.0, rng.uniform(0.4, 0.6))
        return np.stack([r * np.cos(t), r * np.sin(t)], 1), None
    # cross: a plus sign with arms of relative thickness w
    w = rng.uniform(0.3, 0.45)
    return np.array([[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1], [-w, w],
                     [-1, w], [-1, -w], [-w, -w]], dtype=np.float64), None


def _angle(rng: np.random.Generator, name: str) -> float:
    if name in ("stick", "bar") and rng.random() < 0.4:
        return float(rng.choice([0.0, np.pi / 2]) + rng.normal(0.0, 0.03))
    return float(rng.uniform(0.0, np.pi))


def _place(points: np.ndarray, half: np.ndarray, angle: float, centre: np.ndarray) -> np.ndarray:
    """Scale unit points by ``half`` (half long, half short), rotate, translate. (K, 2) -> (K, 2)."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (points * half) @ rot.T + centre


def _sample_object(rng: np.random.Generator, cfg: SynthShapesConfig) -> dict[str, Any]:
    """Draw category, size, aspect, rotation and position of one object."""
    label = int(rng.integers(0, len(_CATEGORY_NAMES)))
    name = _CATEGORY_NAMES[label]
    lo, hi = _SIZE_BINS[int(rng.choice(3, p=np.asarray(cfg.size_mix) / sum(cfg.size_mix)))]
    scale = cfg.image_size / 320.0
    side = math.exp(rng.uniform(math.log(lo), math.log(hi))) * scale  # sqrt of target visible area
    aspect = math.exp(rng.uniform(*np.log(_ASPECT_RANGE[name])))
    box_side = side / math.sqrt(_FILL_FRACTION[name])
    half = np.array([box_side * math.sqrt(aspect), box_side / math.sqrt(aspect)]) / 2
    half[1] = max(half[1], 0.75)  # at least ~1.5 px thick
    margin = np.minimum(0.7 * half.max(), cfg.image_size / 2)
    centre = rng.uniform(margin, cfg.image_size - margin, 2)
    outline, hole = _unit_outline(rng, name)
    angle = _angle(rng, name)
    return {"label": label + 1, "side": side, "outline": _place(outline, half, angle, centre),
            "hole": None if hole is None else _place(hole, half, angle, centre)}


def _region(points: np.ndarray, size: int) -> tuple[int, int, int, int] | None:
    """Integer pixel region (x0, y0, x1, y1) covering ``points`` inside the frame, or None."""
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
    return (int(x0), int(y0), int(x1), int(y1)) if x1 > x0 and y1 > y0 else None


def _polygon_mask(outline: np.ndarray, hole: np.ndarray | None,
                  region: tuple[int, int, int, int]) -> np.ndarray:
    """Rasterise a polygon (minus an optional hole) into a bool mask of the region. (rh, rw)."""
    x0, y0, x1, y1 = region
    canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(canvas)
    offset = np.array([x0, y0], dtype=np.float64)
    draw.polygon([tuple(p) for p in (outline - offset).tolist()], fill=1)
    if hole is not None:
        draw.polygon([tuple(p) for p in (hole - offset).tolist()], fill=0)
    return np.asarray(canvas, dtype=bool)


# ---------------------------------------------------------------------------- appearance
def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, 3).astype(np.float32)


def _texture(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Colours of the pixels of a region-local ``mask`` (in row-major order): solid, stripes,
    checker, noise or gradient. (h, w) bool -> (n, 3) or (3,) uint8.

    Patterns are computed on the region with broadcasting (row and column coordinates only) and
    mapped through a small uint8 palette, which keeps rendering fast. Patterns are anchored at the
    region's corner, as good an anchor as any for a random pattern.
    """
    kind = int(rng.integers(0, 5))
    c0, c1 = _colour(rng), _colour(rng)
    if kind == 0:
        return c0.astype(np.uint8)
    h, w = mask.shape
    xs = np.arange(w, dtype=np.float32)[None, :]  # (1, w)
    ys = np.arange(h, dtype=np.float32)[:, None]  # (h, 1)
    if kind == 1:  # stripes
        theta, period = rng.uniform(0, np.pi), rng.uniform(3, 12)
        sel = (np.floor((xs * math.cos(theta) + ys * math.sin(theta)) / period) % 2) * 63
    elif kind == 2:  # checker
        cell = float(rng.uniform(3, 10))
        sel = ((np.floor(xs / cell) + np.floor(ys / cell)) % 2) * 63
    elif kind == 3:  # noise
        sel = rng.integers(0, 64, (h, w), dtype=np.uint8)
    else:  # linear gradient across the region
        theta = rng.uniform(0, 2 * np.pi)
        proj = xs * math.cos(theta) + ys * math.sin(theta)
        sel = (proj - proj.min()) * (63.0 / max(float(np.ptp(proj)), 1.0))
    palette = (c0 + (c1 - c0) * np.linspace(0.0, 1.0, 64, dtype=np.float32)[:, None]).astype(np.uint8)
    return palette[sel[mask].astype(np.intp)]  # (n, 3)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Linear colour gradient plus low-frequency colour noise. (size, size, 3) uint8.

    Both are built on a coarse k x k grid and upsampled bilinearly (which reproduces a linear
    gradient exactly), so the full-resolution work is a single resize per channel.
    """
    k = int(rng.integers(3, 9))
    c0, c1 = _colour(rng), _colour(rng)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
    proj = ramp[None, :] * math.cos(theta) + ramp[:, None] * math.sin(theta)
    proj = ((proj - proj.min()) / max(float(np.ptp(proj)), 1e-6))[..., None]  # (k, k, 1)
    coarse = c0 * (1 - proj) + c1 * proj + rng.uniform(-60, 60, (k, k, 3)).astype(np.float32)
    coarse = np.clip(coarse, 0, 255).astype(np.uint8)  # bilinear upsampling stays in range
    return np.array(Image.fromarray(coarse).resize((size, size), Image.BILINEAR))


def _random_polyline(rng: np.random.Generator, size: int) -> list[tuple[float, float]]:
    start = rng.uniform(0, size, 2)
    steps = rng.normal(0, size / 6, (int(rng.integers(2, 6)), 2))
    return [tuple(p) for p in np.concatenate([start[None], start + np.cumsum(steps, 0)]).tolist()]


def _blob(rng: np.random.Generator, size: int, radius: float) -> list[tuple[float, float]]:
    """Irregular closed polygon (a jagged blob that is no category's shape)."""
    k = int(rng.integers(7, 14))
    t = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = radius * rng.uniform(0.35, 1.0, k)
    centre = rng.uniform(0, size, 2)
    return [tuple(p) for p in (np.stack([r * np.cos(t), r * np.sin(t)], 1) + centre).tolist()]


def _draw_distractors(rng: np.random.Generator, canvas: np.ndarray, count: int) -> np.ndarray:
    """Paint scribbles, small blobs and irregular texture patches under the objects."""
    size = canvas.shape[0]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    patches = []
    for _ in range(count):
        kind = rng.random()
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if kind < 0.45:
            draw.line(_random_polyline(rng, size), fill=colour, width=int(rng.integers(1, 4)))
        elif kind < 0.8:
            draw.polygon(_blob(rng, size, rng.uniform(3, 14) * size / 320), fill=colour)
        else:
            patches.append(_blob(rng, size, rng.uniform(15, 45) * size / 320))
    out = np.array(image)
    for outline in patches:
        region = _region(np.asarray(outline), size)
        if region is not None:
            _paint(rng, out, _polygon_mask(np.asarray(outline), None, region), region)
    return out


def _paint(rng: np.random.Generator, canvas: np.ndarray, mask: np.ndarray,
           region: tuple[int, int, int, int]) -> None:
    """Fill ``mask`` (region-local) of ``canvas`` with a random texture, in place."""
    x0, y0, x1, y1 = region
    canvas[y0:y1, x0:x1][mask] = _texture(rng, mask)


def _draw_wires(rng: np.random.Generator, canvas: np.ndarray, owner: np.ndarray) -> None:
    """Thin lines drawn over everything; the pixels they cover belong to no instance."""
    size = canvas.shape[0]
    wires = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(wires)
    for _ in range(int(rng.integers(1, 3))):
        draw.line(_random_polyline(rng, size), fill=1, width=int(rng.integers(1, 3)))
    hit = np.asarray(wires, dtype=bool)
    canvas[hit] = rng.integers(0, 256, 3).astype(np.uint8)
    owner[hit] = 0


# ---------------------------------------------------------------------------- rendering
def _num_objects(rng: np.random.Generator, cfg: SynthShapesConfig) -> int:
    """Over-dispersed count: Poisson with a Gamma(3)-distributed mean."""
    rate = rng.gamma(3.0, cfg.mean_objects * _COUNT_INFLATION / 3.0)
    return int(np.clip(rng.poisson(rate), 1, cfg.max_objects))


def _annotation(owner: np.ndarray, k: int, obj: dict[str, Any], image_id: int, j: int) -> dict[str, Any]:
    """COCO annotation of instance ``k`` from its visible mask."""
    x0, y0, x1, y1 = obj["region"]
    local = owner[y0:y1, x0:x1] == k
    ys, xs = np.nonzero(local)
    full = np.zeros(owner.shape, dtype=np.uint8, order="F")
    full[y0:y1, x0:x1] = local
    rle = mask_utils.encode(full)
    bx, by = int(xs.min()) + x0, int(ys.min()) + y0
    bw, bh = int(xs.max()) + x0 + 1 - bx, int(ys.max()) + y0 + 1 - by
    return {"id": image_id * 1000 + j, "image_id": image_id, "category_id": obj["label"],
            "bbox": [float(bx), float(by), float(bw), float(bh)], "area": float(len(xs)),
            "iscrowd": 0, "segmentation": {"size": [int(v) for v in rle["size"]],
                                           "counts": rle["counts"].decode("ascii")}}


def render_sample(config: SynthShapesConfig, split: str,
                  index: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Render image ``index`` of ``split``: ``(uint8 (H, W, 3) RGB, [COCO annotation dict, ...])``.

    Annotation ids are ``image_id * 1000 + j`` (unique per split), ``image_id = index + 1``.
    """
    _check_split(split)
    if not 0 <= index < config.num_images(split):
        raise IndexError(f"SynthShapes {split} index {index} out of range [0, {config.num_images(split)})")
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _SPLIT_CODES[split], index]))
    size = config.image_size
    canvas = _background(rng, size)
    canvas = _draw_distractors(rng, canvas, int(rng.poisson(config.mean_distractors)))
    objects = [_sample_object(rng, config) for _ in range(_num_objects(rng, config))]
    order = np.argsort([-o["side"] * math.exp(rng.normal(0, 0.5)) for o in objects], kind="stable")
    owner = np.zeros((size, size), dtype=np.int32)  # instance k + 1 that painted each pixel last
    painted = []
    for k, i in enumerate(order, start=1):
        obj = objects[i]
        obj["region"] = _region(obj["outline"], size)
        if obj["region"] is None:
            continue
        mask = _polygon_mask(obj["outline"], obj["hole"], obj["region"])
        obj["drawn"] = int(np.count_nonzero(mask))
        if obj["drawn"] > 0:
            _paint(rng, canvas, mask, obj["region"])
            x0, y0, x1, y1 = obj["region"]
            owner[y0:y1, x0:x1][mask] = k
            painted.append((k, obj))
    if rng.random() < 0.5:
        _draw_wires(rng, canvas, owner)
    return canvas, _collect_annotations(owner, painted, index + 1, config.min_visible)


def _collect_annotations(owner: np.ndarray, painted: list[tuple[int, dict[str, Any]]], image_id: int,
                         min_visible: float) -> list[dict[str, Any]]:
    anns = []
    for k, obj in painted:
        x0, y0, x1, y1 = obj["region"]
        visible = int((owner[y0:y1, x0:x1] == k).sum())
        if visible < 4 or visible < min_visible * obj["drawn"]:
            continue
        anns.append(_annotation(owner, k, obj, image_id, len(anns)))
    return anns


# ---------------------------------------------------------------------------- files
def write_coco_split(config: SynthShapesConfig, split: str, cache_dir: str | Path | None = None) -> Path:
    """Write ``instances_{split}.json`` (and, for val, the PNG images) into the cache; return the json path.

    An existing json is reused: it is written last (atomically), so its presence means the split is
    complete. Train images are not written (they are rendered on the fly); the train json lists
    ``train/<index>.png`` file names that do not exist on disk.
    """
    _check_split(split)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir(config)
    json_path = root / f"instances_{split}.json"
    if json_path.is_file():
        return json_path
    (root / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(config.num_images(split)):
        array, anns = render_sample(config, split, index)
        file_name = f"{index:06d}.png"
        if split == "val":
            atomic_write(root / split / file_name,
                         lambda stream, a=array: Image.fromarray(a).save(stream, format="PNG"))
        images.append({"id": index + 1, "file_name": file_name, "width": config.image_size,
                       "height": config.image_size})
        annotations.extend(anns)
    payload = {"info": {"description": "SynthShapes", "version": GENERATOR_VERSION,
                        "config": dataclasses.asdict(config)},
               "images": images, "annotations": annotations, "categories": CATEGORIES}
    atomic_write_text(json_path, json.dumps(payload))
    return json_path


class SynthShapesDataset(Dataset):
    """SynthShapes split in the common sample format (images are already the target size).

    ``train`` renders each sample on the fly; ``val`` writes (once) and reads the cached PNG + json
    through :class:`CocoDetection`, the same code path as MS COCO.
    """

    def __init__(self, split: str, config: SynthShapesConfig | None = None, *, flip_prob: float = 0.0,
                 cache_dir: str | Path | None = None) -> None:
        _check_split(split)
        self.split = split
        self.config = config or SynthShapesConfig()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(self.config)
        self.flip_prob = float(flip_prob)
        self.epoch = 0
        self._coco = None
        if split == "val":
            self._coco = CocoDetection(write_coco_split(self.config, "val", self.cache_dir),
                                       self.cache_dir / "val", max_size=None, flip_prob=flip_prob,
                                       seed=self.config.seed)
        self.image_ids = list(range(1, self.config.num_images(split) + 1))

    @property
    def ann_file(self) -> Path:
        """COCO json of this split (written on first access for train)."""
        return write_coco_split(self.config, self.split, self.cache_dir)

    @property
    def skipped(self) -> dict[str, int]:
        return dict(self._coco.skipped) if self._coco is not None else {}

    def ground_truth(self) -> dict[str, Any]:
        """The ground truth evaluation counts (:meth:`CocoDetection.ground_truth`); the train
        split's boxes are generated inside the image, so its json is its ground truth."""
        if self._coco is not None:
            return self._coco.ground_truth()
        return json.loads(self.ann_file.read_text(encoding="utf-8"))

    def report(self) -> str:
        if self._coco is not None:
            return self._coco.report()
        return f"SynthShapes train ({len(self)} images rendered on the fly), nothing skipped"

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if self._coco is not None:
            self._coco.set_epoch(epoch)

    def __len__(self) -> int:
        return self.config.num_images(self.split)

    @property
    def num_images(self) -> int:
        return len(self)

    def __getitem__(self, idx: int) -> tuple[Tensor, dict[str, Any]]:
        if self._coco is not None:
            return self._coco[idx]
        if not 0 <= idx < len(self):
            raise IndexError(f"SynthShapes train index {idx} out of range [0, {len(self)})")
        array, anns = render_sample(self.config, self.split, idx)
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                           a["bbox"][1] + a["bbox"][3]] for a in anns], dtype=np.float32).reshape(-1, 4)
        labels = np.array([a["category_id"] for a in anns], dtype=np.int64)
        flip = flip_decision(self.config.seed, self.epoch, idx, self.flip_prob)
        return make_sample(array, boxes, labels, np.zeros(len(anns), dtype=bool), idx + 1,
                           max_size=None, flip=flip)
