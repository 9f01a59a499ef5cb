"""Benchmark the two AR backends of ``evaluate_proposals`` at COCO val2017 scale.

A synthetic case with COCO's shape: 5,000 images, about 7.3 ground truths per image (Poisson,
some images empty, 1 % crowd, COCO-like small / medium / large mix) and 1,000 proposals per image
(a third of them jittered copies of ground truths, the rest random boxes), scored at random.
Both backends evaluate the same proposals; the script reports their wall times and the largest
absolute difference of their metrics (which must be below 1e-6, in percent units).

Usage::

    python benchmarks/bench_ar_eval.py [OUTPUT_JSON] [--images N] [--proposals K] [--skip-reference]

The default output is ``results/bench/ar_eval.json``. The pycocotools run takes about eight
minutes on 2 cores; ``--skip-reference`` times the fast backend only.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pycocotools.coco import COCO  # noqa: E402

from scrpn.evaluation.proposals import evaluate_proposals, quiet  # noqa: E402

IMAGE_W, IMAGE_H = 640, 480


def synthetic_gt(rng: np.random.Generator, num_images: int) -> COCO:
    """COCO-shaped ground truth: Poisson(7.3) boxes per image, log-uniform sizes 4-400 px."""
    counts = rng.poisson(7.3, num_images)
    image_of = np.repeat(np.arange(1, num_images + 1), counts)
    n = int(counts.sum())
    side = np.exp(rng.uniform(np.log(4), np.log(400), n))
    aspect = np.exp(rng.uniform(-1, 1, n))
    w = np.minimum(side * np.sqrt(aspect), IMAGE_W)
    h = np.minimum(side / np.sqrt(aspect), IMAGE_H)
    x = rng.uniform(0, 1, n) * (IMAGE_W - w)
    y = rng.uniform(0, 1, n) * (IMAGE_H - h)
    area = w * h * rng.uniform(0.5, 0.9, n)           # segmentation areas are below box areas
    crowd = rng.random(n) < 0.01
    anns = [{"id": k + 1, "image_id": int(i), "category_id": 1, "bbox": [a, b, c, d],
             "area": float(s), "iscrowd": int(cr)}
            for k, (i, a, b, c, d, s, cr) in enumerate(zip(
                image_of.tolist(), x.tolist(), y.tolist(), w.tolist(), h.tolist(), area.tolist(),
                crowd.tolist()))]
    coco = COCO()
    coco.dataset = {"images": [{"id": i, "width": IMAGE_W, "height": IMAGE_H}
                               for i in range(1, num_images + 1)],
                    "categories": [{"id": 1, "name": "object"}], "annotations": anns}
    with quiet():
        coco.createIndex()
    return coco


def synthetic_proposals(rng: np.random.Generator, gt: COCO, per_image: int) -> List[Dict[str, Any]]:
    """``per_image`` proposals per image: one third jittered gts, the rest random boxes."""
    out = []
    for image_id in gt.getImgIds():
        gts = np.asarray([a["bbox"] for a in gt.imgToAnns.get(image_id, [])]).reshape(-1, 4)
        num_near = per_image // 3 if len(gts) else 0
        near = gts[rng.integers(0, max(len(gts), 1), num_near)] if num_near else np.zeros((0, 4))
        near = near + rng.normal(0, 0.1, near.shape) * near[:, [2, 3, 2, 3]]
        far_n = per_image - num_near
        side = np.exp(rng.uniform(np.log(8), np.log(500), (far_n, 2)))
        far = np.concatenate([rng.uniform(0, 1, (far_n, 2)) * [IMAGE_W, IMAGE_H], side], axis=1)
        xywh = np.concatenate([near, far])
        xywh[:, 2:] = np.maximum(xywh[:, 2:], 1.0)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        out.append({"image_id": image_id, "boxes": boxes.astype(np.float32),
                    "scores": rng.random(per_image).astype(np.float32)})
    return out


def timed(gt: COCO, proposals: List[Dict[str, Any]],
          backend: str) -> tuple[float, Dict[str, float]]:
    start = time.perf_counter()
    metrics = evaluate_proposals(gt, proposals, backend=backend)
    return time.perf_counter() - start, metrics


def max_abs_difference(a: Dict[str, float], b: Dict[str, float]) -> float:
    diffs = [abs(a[k] - b[k]) for k in a if not (math.isnan(a[k]) and math.isnan(b[k]))]
    return max(diffs, default=0.0)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", nargs="?", default="results/bench/ar_eval.json")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--proposals", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    gt = synthetic_gt(rng, args.images)
    proposals = synthetic_proposals(rng, gt, args.proposals)
    load_before = os.getloadavg()[0]  # other processes on the machine inflate both timings
    fast_s, fast = timed(gt, proposals, "fast")
    print(f"fast: {fast_s:.1f} s  {fast}", flush=True)
    report: Dict[str, Any] = {
        "images": args.images, "proposals_per_image": args.proposals,
        "gts": len(gt.dataset["annotations"]), "fast_seconds": round(fast_s, 2),
        "fast_metrics": fast, "cpu_count": os.cpu_count(), "machine": platform.processor(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_1min_before": round(load_before, 2)}
    if not args.skip_reference:
        ref_s, ref = timed(gt, proposals, "pycocotools")
        print(f"pycocotools: {ref_s:.1f} s  {ref}", flush=True)
        report.update(pycocotools_seconds=round(ref_s, 2), pycocotools_metrics=ref,
                      speedup=round(ref_s / fast_s, 1),
                      max_abs_difference=max_abs_difference(fast, ref))
    report["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if not k.endswith("metrics")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
