"""Dataset statistics: a "dataset card" for any COCO json, with the FPN level shares of the paper's
level rule (:func:`scrpn.pyramid.fpn_level`, eq. (1)).

Two different areas are used, on purpose:

* COCO size bins (small < 32^2 <= medium < 96^2 <= large) use the annotation's ``area`` field, as
  COCOeval does (for COCO that is the segmentation area, not the box area);
* FPN levels use the *box* area ``w * h``, because the paper's level rule, eq. (1),
  ``i_g = floor((log2 S - 9) / 2)``, is applied to the ground-truth box.

Crowd annotations (``iscrowd = 1``) are ignored by proposal evaluation and by training, so they are
counted separately and left out of every share.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..pyramid import fpn_level
from .coco import load_coco_json

__all__ = ["fpn_level", "dataset_card", "format_card", "SIZE_BINS", "ASPECT_BINS", "COUNT_BINS"]

SIZE_BINS = (("small", 0.0, 32.0**2), ("medium", 32.0**2, 96.0**2), ("large", 96.0**2, math.inf))
ASPECT_BINS = ((1.0, 1.5), (1.5, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 6.0), (6.0, 8.0), (8.0, math.inf))
COUNT_BINS = ((0, 0), (1, 1), (2, 3), (4, 7), (8, 15), (16, 31), (32, 10**9))


def _shares(values: np.ndarray, edges: tuple[tuple[float, float], ...],
            right_closed: bool = False) -> list[float]:
    """Fraction of ``values`` in each bin: [lo, hi) (COCO's area ranges) or, with ``right_closed``,
    (lo, hi] with the first bin closed on both sides (aspect bins: "6-8" holds 8, ">8" is strict)."""
    if values.size == 0:
        return [0.0] * len(edges)
    if not right_closed:
        return [float(((values >= lo) & (values < hi)).mean()) for lo, hi in edges]
    shares = []
    for i, (lo, hi) in enumerate(edges):
        above = values >= lo if i == 0 else values > lo
        shares.append(float((above & (values <= hi)).mean()))
    return shares


def _count_histogram(counts: np.ndarray) -> dict[str, int]:
    hist = {}
    for lo, hi in COUNT_BINS:
        label = str(lo) if lo == hi else (f"{lo}+" if hi >= 10**9 else f"{lo}-{hi}")
        hist[label] = int(((counts >= lo) & (counts <= hi)).sum())
    return hist


def dataset_card(ann_file: str | Path, base_scale: float = 16.0, num_levels: int = 5) -> dict[str, Any]:
    """Summary statistics of a COCO-format annotation file (see the module docstring for the rules).

    ``base_scale`` is the anchor size at P2 used for the FPN level shares (16 for the mini profile;
    32 reproduces the paper's eq. (1)).
    """
    data = load_coco_json(ann_file)
    anns = [a for a in data["annotations"] if not a.get("iscrowd", 0)]
    num_crowd = len(data["annotations"]) - len(anns)
    per_image = Counter(a["image_id"] for a in anns)
    counts = np.array([per_image.get(img["id"], 0) for img in data["images"]], dtype=np.int64)
    wh = np.array([a["bbox"][2:4] for a in anns], dtype=np.float64).reshape(-1, 2)  # (N, 2)
    areas = np.array([a.get("area", a["bbox"][2] * a["bbox"][3]) for a in anns], dtype=np.float64)
    levels = fpn_level(wh[:, 0] * wh[:, 1], base_scale, num_levels)
    aspect = wh.max(axis=1) / np.maximum(wh.min(axis=1), 1e-6)
    names = {c["id"]: c["name"] for c in data["categories"]}
    per_cat = Counter(a["category_id"] for a in anns)
    return {
        "ann_file": str(ann_file),
        "images": len(data["images"]),
        "instances": len(anns),
        "crowd_instances": num_crowd,
        "instances_per_image": {
            "mean": float(counts.mean()) if counts.size else 0.0,
            "min": int(counts.min()) if counts.size else 0,
            "max": int(counts.max()) if counts.size else 0,
            "histogram": _count_histogram(counts),
        },
        "size_bins": dict(zip([name for name, _, _ in SIZE_BINS],
                              _shares(areas, tuple((lo, hi) for _, lo, hi in SIZE_BINS)))),
        "base_scale": float(base_scale),
        "fpn_levels": {f"P{i + 2}": float((levels == i).mean()) if levels.size else 0.0
                       for i in range(num_levels)},
        "aspect_ratio": dict(zip([_aspect_label(lo, hi) for lo, hi in ASPECT_BINS],
                                 _shares(aspect, ASPECT_BINS, right_closed=True))),
        "categories": {names.get(cid, str(cid)): int(per_cat.get(cid, 0)) for cid in sorted(names)},
    }


def _aspect_label(lo: float, hi: float) -> str:
    return f">{lo:g}" if math.isinf(hi) else f"{lo:g}-{hi:g}"


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def format_card(card: dict[str, Any]) -> str:
    """Render a :func:`dataset_card` as markdown tables (used in docs/configs.md)."""
    ipi = card["instances_per_image"]
    lines = [
        "| statistic | value |",
        "|---|---|",
        f"| images | {card['images']} |",
        f"| instances (non-crowd) | {card['instances']} |",
        f"| crowd instances | {card['crowd_instances']} |",
        f"| instances / image (mean, min, max) | {ipi['mean']:.2f}, {ipi['min']}, {ipi['max']} |",
    ]
    lines += [f"| size {name} (COCO area bin) | {_pct(v)} |" for name, v in card["size_bins"].items()]
    lines += [f"| FPN level {name} (base {card['base_scale']:g}) | {_pct(v)} |"
              for name, v in card["fpn_levels"].items()]
    lines += [f"| aspect (long/short) {name} | {_pct(v)} |" for name, v in card["aspect_ratio"].items()]
    lines += ["", "| instances per image | images |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in ipi["histogram"].items()]
    lines += ["", "| category | instances |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in card["categories"].items()]
    return "\n".join(lines) + "\n"
