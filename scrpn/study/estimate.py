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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from ..config import Config
from .runs import Study, training_config

__all__ = ["EVAL_OVERHEAD", "PlanEstimate", "bench_key", "estimate_plan", "recorded_bench"]

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
    # per total (what is missing / the whole plan from scratch): the trainings and dumps counted
    seen: dict[str, set[str]] = {"missing": set(), "scratch": set()}

    def speed(cfg: Config) -> tuple[float, float]:
        key = bench_key(cfg)
        if key not in speeds:
            speeds[key] = bench(cfg)
            if log is not None:
                log(f"bench {cfg.name}: {speeds[key][0]:.3f} s/iter, {speeds[key][1]:.3f} s/image")
        return speeds[key]

    def cost(total: str, train_name: str, train: float, evaluate: float, dump: float) -> float:
        """A run's seconds for one total: its evaluation, plus its training and proposal dumps
        the first time that training config appears in the plan."""
        seconds = evaluate
        for kind, value in (("train", train), ("dump", dump)):
            if value and f"{kind}:{train_name}" not in seen[total]:
                seen[total].add(f"{kind}:{train_name}")
                seconds += value
        return seconds

    for row in rows:
        for seed in study.seeds:
            cfg = study.config(row, seed)
            step, image = speed(cfg)
            out.benched[row] = (step, image)
            images = cfg.data.val_limit or cfg.data.num_val
            train_name = training_config(cfg).name + f"/seed{seed}"
            costs = (cfg.train.max_iters * step, images * image * EVAL_OVERHEAD,
                     # Fast R-CNN: the proposal row's dumps (training + validation images)
                     (cfg.data.num_train + images) * image if cfg.detector.type == "fast_rcnn" else 0.0)
            out.runs += 1
            out.scratch_seconds += cost("scratch", train_name, *costs)
            if study.retrain or study.cached(row, seed) is None:
                out.missing_runs += 1
                out.missing_seconds += cost("missing", train_name, *costs)
    return out


def recorded_bench(results_dir: str | Path, fallback: Bench,
                   log: Optional[Callable[[str], None]] = None) -> Bench:
    """A bench that reads the measured rate off the committed runs instead of timing a few steps.

    For a config named ``[s<n>x_]<run>`` (a schedule rung's run, or a mini run) it reads every
    ``<results_dir>/runs/<run>/seed*/metrics.json`` and takes the fastest seed's training seconds
    per iteration and seconds per image: the quietest measurement of the same arithmetic (a rung
    changes only how many iterations run; a seed timed beside other work is slower, never
    faster). A run with no record falls back to ``fallback`` (the short bench).
    ``scrpn study ... --estimate --rate records``; ``tests/test_estimate.py`` pins it.
    """
    root = Path(results_dir) / "runs"

    def bench(cfg: Config) -> tuple[float, float]:
        base = re.sub(r"^s\d+x_", "", cfg.name)
        steps, images = [], []
        for path in sorted((root / base).glob("seed*/metrics.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            if (record.get("train_seconds") or 0) > 0 and (record.get("iterations") or 0) > 0:
                steps.append(record["train_seconds"] / record["iterations"])
            if (record.get("seconds_per_image") or 0) > 0:
                images.append(record["seconds_per_image"])
        if not steps or not images:
            if log is not None:
                log(f"{cfg.name}: no recorded run of {base}; timing a short bench instead")
            return fallback(cfg)
        return min(steps), min(images)

    return bench
