"""DeepForest tree crowns: a small *real* aerial-image detection set, tiled into COCO format.

The ``deepforest`` pip package (``pip install --no-deps deepforest==2.1.0``) ships, in
``deepforest/data/``, RGB aerial images with hand-labelled tree-crown boxes as Pascal VOC xml files.
We locate that folder with ``importlib.util.find_spec`` and never import the package (which would
pull in its heavy dependencies). Labels come from the xml files only: the csv files in the same
folder repeat the xml boxes of single images (example.csv, testfile_*.csv, OSBS_029.csv) and are
used only for the cross-check in :func:`count_labelled_boxes`. Images without an xml file are
unlabelled and not used. All labels (Tree, Dead, Alive) become the single category ``tree``.

Bad input. A source image is read as the COCO loader reads any image
(:func:`read_source_pixels`, :func:`scrpn.data.coco.read_rgb`: a 16-bit image by ``round(v /
257)``, not saturated by ``convert("RGB")``); a truncated file, a file that is no image, a FIFO,
a size other than the xml's, or a box outside the image is one :class:`DataError` naming the
file and the source (``image id OSBS_029``). Pinned by ``tests/test_bad_input_cli.py``.

Tiling. Each source image is cut into ``tile_size`` crops with ``overlap`` pixels of overlap; the
last tile of a row/column is aligned with the region's edge, and a region narrower than a tile gives
a narrower tile. A box is clipped to a tile and kept as an ordinary annotation when at least
``min_visible`` (default 0.5) of its area lies inside the tile; a box with a smaller visible part is
kept as ``iscrowd = 1`` so that training and COCOeval *ignore* that region instead of punishing a
detector for finding a cut tree.

Train/val split. The package holds only four labelled images, from three sites, with very
different sizes (400^2 up to 2299x2472), so a split by source image would either leave a site out of
training or give a val set of one image. We therefore split every image *spatially*: the right
``val_fraction`` (25 %) of each image's width is val, the rest train, and tiles never cross the split
line, so no pixel appears in both splits. A tree crossing the line appears, clipped, on both sides
(under the visibility rule above); with ~30 px crowns this touches a handful of boxes.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from scrpn.outputs import atomic_write_text

from scrpn.inputs import InputFileError, input_problem, open_input

from .coco import CocoDetection, read_image_checked
from .errors import DataError, data_error

__all__ = [
    "DeepForestDataset",
    "prepare_deepforest",
    "find_deepforest_data",
    "read_source_pixels",
    "read_voc_boxes",
    "count_labelled_boxes",
    "tile_starts",
    "boxes_in_tile",
    "DEEPFOREST_CATEGORIES",
]

INSTALL_HINT = "pip install --no-deps deepforest==2.1.0"
DEEPFOREST_CATEGORIES = [{"id": 1, "name": "tree", "supercategory": "plant"}]
_TILER_VERSION = 1


def find_deepforest_data() -> Path:
    """Folder ``deepforest/data`` of the installed package, found without importing it."""
    spec = importlib.util.find_spec("deepforest")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the 'deepforest' package is not installed; install its data with: {INSTALL_HINT}")
    data_dir = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not data_dir.is_dir() or not list(data_dir.glob("*.xml")):
        raise DataError(f"{data_dir}: no Pascal VOC xml files found; reinstall with: {INSTALL_HINT}")
    return data_dir


@dataclass
class Source:
    """One labelled source image."""

    name: str  # file stem, e.g. "OSBS_029"
    image_path: Path
    width: int
    height: int
    boxes: np.ndarray  # (N, 4) float32 xyxy


def _xml_int(node: ET.Element, tag: str, path: Path) -> float:
    child = node.find(tag)
    if child is None or child.text is None:
        raise data_error(path, f"missing <{tag}> in <{node.tag}>")
    try:
        return float(child.text)
    except ValueError as e:
        raise data_error(path, f"<{tag}> is not a number: {child.text!r}") from e


def _check_box(box: list[float], index: int, width: int, height: int, path: Path, name: str) -> None:
    """A box must be finite, have a positive width and height and lie inside the image (VOC's
    ``xmax`` may equal the width); anything else is one error naming the xml file, the source
    image and the object, never a box the tiler would clip or drop without a word."""
    xmin, ymin, xmax, ymax = box
    shown = "[" + ", ".join(f"{v:g}" for v in box) + "]"
    if not all(np.isfinite(box)):
        problem = "is not finite"
    elif xmax <= xmin or ymax <= ymin:
        problem = "has no area (xmax <= xmin or ymax <= ymin)"
    elif xmin < 0 or ymin < 0 or xmax > width or ymax > height:
        problem = f"is not inside the {width}x{height} (w x h) image"
    else:
        return
    raise data_error(path, f"object {index + 1}: box (xmin, ymin, xmax, ymax) {shown} {problem}",
                     image_id=name)


def read_voc_boxes(xml_path: str | Path) -> Source:
    """Parse a Pascal VOC file: image file (a .png twin preferred), size and (N, 4) xyxy boxes.

    The size must be whole numbers >= 1 and every box inside it (:func:`_check_box`); an image
    or xml path that is not a regular file is named as what it is (a FIFO is never opened
    blocking: :func:`scrpn.inputs.open_input`). Errors name the file and the source image
    (``image id OSBS_029``)."""
    path = Path(xml_path)
    try:
        with open_input(path) as stream:
            root = ET.parse(stream).getroot()
    except InputFileError as e:
        raise data_error(path, f"Pascal VOC xml {e.problem}") from e
    except (ET.ParseError, OSError) as e:
        raise data_error(path, f"cannot parse Pascal VOC xml ({e})") from e
    filename, size = root.findtext("filename"), root.find("size")
    if not filename or size is None:
        raise data_error(path, "missing <filename> or <size>")
    image_path = path.parent / filename
    if image_path.suffix.lower() != ".png" and image_path.with_suffix(".png").is_file():
        image_path = image_path.with_suffix(".png")  # OSBS_029.tif and .png hold identical pixels
    problem = input_problem(image_path)
    if problem is not None:
        raise data_error(path, f"image file {image_path} {problem}", image_id=image_path.stem)
    width, height = _xml_int(size, "width", path), _xml_int(size, "height", path)
    if not all(np.isfinite(v) and v >= 1 and v == int(v) for v in (width, height)):
        raise data_error(path, f"<size> must be whole numbers >= 1, got {width:g} x {height:g}",
                         image_id=image_path.stem)
    boxes = [[_xml_int(obj.find("bndbox"), t, path) for t in ("xmin", "ymin", "xmax", "ymax")]
             for obj in root.iter("object") if obj.find("bndbox") is not None]
    for index, box in enumerate(boxes):
        _check_box(box, index, int(width), int(height), path, image_path.stem)
    return Source(name=image_path.stem, image_path=image_path, width=int(width), height=int(height),
                  boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4))


def read_source_pixels(source: Source) -> np.ndarray:
    """The source image as (H, W, 3) uint8 RGB, read as the COCO loader reads an image
    (:func:`scrpn.data.coco.read_rgb`: grey and palette images by PIL's conversion, alpha
    dropped, 16-bit levels as ``round(v / 257)``, float images by their nominal range; modes
    without a defined reading refused) and checked against the size its xml file gives. A
    truncated file, a file that is no image, a FIFO or a size that disagrees is one
    :class:`DataError` naming the image file and the source (``image id OSBS_029``)."""
    return read_image_checked(source.image_path, source.name, (source.height, source.width),
                              "its Pascal VOC xml")


def _sources(data_dir: Path) -> list[Source]:
    return [read_voc_boxes(p) for p in sorted(data_dir.glob("*.xml"))]


def count_labelled_boxes(data_dir: str | Path | None = None) -> dict[str, Any]:
    """Count boxes: per xml source image, total, and how many csv rows duplicate an xml box."""
    data_dir = Path(data_dir) if data_dir is not None else find_deepforest_data()
    sources = _sources(data_dir)
    known = {(s.name, tuple(int(v) for v in b)) for s in sources for b in s.boxes}
    csv_rows = csv_dupes = 0
    for csv_path in sorted(data_dir.glob("*.csv")):
        with open(csv_path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if "xmin" not in row:
                    break
                csv_rows += 1
                key = tuple(int(float(row[k])) for k in ("xmin", "ymin", "xmax", "ymax"))
                csv_dupes += (Path(row["image_path"]).stem, key) in known
    return {"per_image": {s.name: len(s.boxes) for s in sources},
            "xml_boxes": int(sum(len(s.boxes) for s in sources)),
            "csv_rows": csv_rows, "csv_rows_duplicating_xml": csv_dupes}


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering ``[0, length)``; the last tile ends exactly at ``length``.

    Example: length 700, tile 320, overlap 32 -> stride 288 -> [0, 288, 380].
    """
    if tile <= overlap:
        raise ValueError(f"tile size {tile} must exceed overlap {overlap}")
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    starts.append(length - tile)
    return starts


def boxes_in_tile(boxes: np.ndarray, tile: tuple[int, int, int, int], min_visible: float = 0.5
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Clip (N, 4) boxes to ``tile = (x0, y0, x1, y1)``; return tile-relative boxes and iscrowd flags.

    Boxes with no overlap are dropped; overlap fraction >= ``min_visible`` -> normal, else crowd.
    """
    x0, y0, x1, y1 = tile
    clipped = np.stack([np.clip(boxes[:, 0], x0, x1), np.clip(boxes[:, 1], y0, y1),
                        np.clip(boxes[:, 2], x0, x1), np.clip(boxes[:, 3], y0, y1)], 1)  # (N, 4)
    inter = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-6)
    keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    crowd = inter / area < min_visible
    offset = np.array([x0, y0, x0, y0], dtype=np.float32)
    return (clipped[keep] - offset).astype(np.float32), crowd[keep]


def _default_cache_root() -> Path:
    root = os.environ.get("SCRPN_DATA")
    return (Path(root) if root else Path(__file__).resolve().parents[2] / "data") / "deepforest"


def _params_hash(sources: list[Source], params: dict[str, Any]) -> str:
    key = {"version": _TILER_VERSION, **params,
           "sources": [(s.name, s.image_path.stat().st_size, len(s.boxes)) for s in sources]}
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def _region_tiles(source: Source, split: str, tile_size: int, overlap: int, val_fraction: float
                  ) -> list[tuple[int, int, int, int]]:
    """Tiles (x0, y0, x1, y1) of the train (left) or val (right) region of a source image."""
    split_x = int(round(source.width * (1.0 - val_fraction)))
    rx0, rx1 = (0, split_x) if split == "train" else (split_x, source.width)
    tw, th = min(tile_size, rx1 - rx0), min(tile_size, source.height)
    return [(rx0 + x, y, rx0 + x + tw, y + th)
            for y in tile_starts(source.height, tile_size, overlap)
            for x in tile_starts(rx1 - rx0, tile_size, overlap)]


def _write_split(sources: list[Source], split: str, out_dir: Path, params: dict[str, Any]) -> Path:
    (out_dir / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for source in sources:
        pixels = read_source_pixels(source)
        tiles = _region_tiles(source, split, params["tile_size"], params["overlap"], params["val_fraction"])
        for tile in tiles:
            x0, y0, x1, y1 = tile
            file_name = f"{source.name}_x{x0}_y{y0}.png"
            Image.fromarray(pixels[y0:y1, x0:x1]).save(out_dir / split / file_name)
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": file_name, "width": x1 - x0, "height": y1 - y0,
                           "source": source.name, "tile": list(tile)})
            boxes, crowd = boxes_in_tile(source.boxes, tile, params["min_visible"])
            for box, is_crowd in zip(boxes.tolist(), crowd.tolist()):
                w, h = box[2] - box[0], box[3] - box[1]
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                                    "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": int(is_crowd)})
    json_path = out_dir / f"instances_{split}.json"
    payload = {"info": {"description": "DeepForest tiles", **params}, "images": images,
               "annotations": annotations, "categories": DEEPFOREST_CATEGORIES}
    atomic_write_text(json_path, json.dumps(payload))
    return json_path


def prepare_deepforest(cache_dir: str | Path | None = None, tile_size: int = 320, overlap: int = 32,
                       val_fraction: float = 0.25, min_visible: float = 0.5) -> dict[str, tuple[Path, Path]]:
    """Tile the package's labelled images into ``cache_dir`` (reused when already there).

    Returns ``{"train": (json, image_dir), "val": (json, image_dir)}``. The default cache is
    ``$SCRPN_DATA/deepforest/<hash>`` or ``<repo>/data/deepforest/<hash>``.
    """
    sources = _sources(find_deepforest_data())
    params = {"tile_size": int(tile_size), "overlap": int(overlap), "val_fraction": float(val_fraction),
              "min_visible": float(min_visible)}
    if cache_dir is None:
        out_dir = _default_cache_root() / _params_hash(sources, params)
    else:
        out_dir = Path(cache_dir)
    result = {}
    for split in ("train", "val"):
        json_path = out_dir / f"instances_{split}.json"
        if not json_path.is_file():
            json_path = _write_split(sources, split, out_dir, params)
        result[split] = (json_path, out_dir / split)
    return result


class DeepForestDataset(CocoDetection):
    """DeepForest tiles of one split (``"train"`` or ``"val"``) in the common sample format.

    Tiles are used at their own size (``max_size=None`` by default: ``scale_factor`` 1.0).
    """

    def __init__(self, split: str, *, cache_dir: str | Path | None = None, tile_size: int = 320,
                 overlap: int = 32, max_size: tuple[int, int] | None = None, flip_prob: float = 0.0,
                 filter_empty: bool = False, seed: int = 0) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"DeepForest split must be 'train' or 'val', got {split!r}")
        paths = prepare_deepforest(cache_dir, tile_size=tile_size, overlap=overlap)
        self.split = split
        super().__init__(paths[split][0], paths[split][1], max_size=max_size, flip_prob=flip_prob,
                         filter_empty=filter_empty, seed=seed)
