"""What a study plan costs in machine hours, from a short bench of its rows (issue 19).

``scrpn study ROWS|TABLES --estimate`` prints it before anything trains. Each distinct method of
the plan (rows that differ only in settings that do not change the arithmetic share one
measurement) is benchmarked for a few iterations on the plan's own batch and image size
(:func:`scrpn.engine.bench.benchmark`, random weights); a run then costs

    max_iters x (seconds per training iteration)            once per training config
  + validation images x (seconds per image) x EVAL_OVERHEAD  once per row and seed

where rows sharing a training config (test variants, Fast R-CNN's proposal rows) train once, and
Fast R-CNN rows add the proposal dumps of their proposal row (training plus validation images at
inference speed). Two totals are given: for what is missing from ``results/runs/`` (what the
command would do now) and for the whole plan from scratch. ``tests/test_estimate.py`` pins the
arithmetic with a fixed bench.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from ..config import Config
from .runs import Study, training_config

__all__ = ["EVAL_OVERHEAD", "PlanEstimate", "bench_key", "estimate_plan"]

# Evaluation costs more than the timed forward passes: data loading, AR over every image and the
# proposal statistics. Measured on the committed runs (wall minus training time, over images and
# seconds per image): about 1.5.
EVAL_OVERHEAD = 1.5

Bench = Callable[[Config], tuple[float, float]]   # config -> (s / training iteration, s / image)


def bench_key(cfg: Config) -> str:
    """What decides a row's speed: the model, the detector, the data size and the batch."""
    tree = cfg.to_dict()
    keep = {"model": tree["model"], "detector": tree["detector"],
            "data": {k: tree["data"][k] for k in ("dataset", "image_size", "max_size", "size_divisor")},
            "batch_size": tree["train"]["batch_size"]}
    for stage in ("stage1", "stage2"):      # loss readings and weights do not change the arithmetic
        for k in ("reg_weight", "cls_weight", "loss_norm"):
            keep["model"]["head"][stage].pop(k, None)
    keep["model"].pop("test", None)                    # test-time settings: same speed to train
    keep["model"]["head"]["iou_mask"].pop("test_with", None)
    return json.dumps(keep, sort_keys=True)


@dataclass
class PlanEstimate:
    missing_seconds: float = 0.0
    scratch_seconds: float = 0.0
    runs: int = 0
    missing_runs: int = 0
    benched: dict[str, tuple[float, float]] = field(default_factory=dict)   # row -> its bench

    @property
    def missing_hours(self) -> float:
        return self.missing_seconds / 3600.0

    @property
    def scratch_hours(self) -> float:
        return self.scratch_seconds / 3600.0


def estimate_plan(study: Study, rows: Iterable[str], bench: Bench,
                  log: Optional[Callable[[str], None]] = None) -> PlanEstimate:
    """Machine seconds of ``rows`` x ``study.seeds`` (see the module docstring)."""
    speeds: dict[str, tuple[float, float]] = {}
    out = PlanEstimate()
    trained_missing: set[str] = set()
    trained_scratch: set[str] = set()
    dumped_missing: set[str] = set()
    dumped_scratch: set[str] = set()

    def speed(cfg: Config) -> tuple[float, float]:
        key = bench_key(cfg)
        if key not in speeds:
            speeds[key] = bench(cfg)
            if log is not None:
                log(f"bench {cfg.name}: {speeds[key][0]:.3f} s/iter, {speeds[key][1]:.3f} s/image")
        return speeds[key]

    for row in rows:
        for seed in study.seeds:
            cfg = study.config(row, seed)
            step, image = speed(cfg)
            out.benched[row] = (step, image)
            images = cfg.data.val_limit or cfg.data.num_val
            train_name = training_config(cfg).name + f"/seed{seed}"
            missing = study.retrain or study.cached(row, seed) is None
            cost_train = cfg.train.max_iters * step
            cost_eval = images * image * EVAL_OVERHEAD
            cost_dump = 0.0
            if cfg.detector.type == "fast_rcnn":   # the proposal row's dumps (train + val images)
                cost_dump = (cfg.data.num_train + images) * image
            out.runs += 1
            out.scratch_seconds += cost_eval
            if train_name not in trained_scratch:
                trained_scratch.add(train_name)
                out.scratch_seconds += cost_train
            if cost_dump and train_name not in dumped_scratch:
                dumped_scratch.add(train_name)
                out.scratch_seconds += cost_dump
            if not missing:
                continue
            out.missing_runs += 1
            out.missing_seconds += cost_eval
            if train_name not in trained_missing:
                trained_missing.add(train_name)
                out.missing_seconds += cost_train
            if cost_dump and train_name not in dumped_missing:
                dumped_missing.add(train_name)
                out.missing_seconds += cost_dump
    return out
