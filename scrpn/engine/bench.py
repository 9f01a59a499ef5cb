"""Speed of proposal methods measured side by side, in one process, on the same inputs.

Besides the step times, each method reports its **floor** (issue 19): the backbone + FPN forward
and backward on the same batch, timed in the same interleaved rounds, and the ratio of its
training step to it (what the head, targets, losses and optimiser add). A **breakdown** comes from
one profiled training step and one profiled inference per method: the milliseconds spent under
each ``scrpn::`` label the code carries (``torch.profiler.record_function``: backbone, head
forward, priors, deformable convolutions, loss, assigners, sampler, loss terms, post-processing
with NMS), and the backward pass as a whole. Labels nest (priors and deformable convs are inside
the head forward; assigners, sampler and loss terms inside the loss); the profiled step runs
slower than an unprofiled one, so read the breakdown as shares, not as times.

The **memory format** (``train.memory_format``, :mod:`scrpn.engine.memory_format`) is each config's
own; the floor is timed on it, and, in the same rounds, on a copy of the backbone in the old eager
NCHW layout (``floor_nchw_seconds_per_iter``), so that ``floor_speedup_over_nchw`` says what the
layout buys on this machine (issue 19's target: at least 1.3x). ``flops_ratio_to_floor`` is the
same ratio counted in convolution and matrix-product FLOPs (:func:`_flops`): the part of
``train_ratio_to_floor`` that is arithmetic rather than overhead.

**Precisions** (``precisions``, issue 37; ``scrpn bench --precisions fp32 bf16``): every config
is timed in each precision (:mod:`scrpn.engine.precision`: fp32, or the forward pass under bfloat16
autocast) on the same model, batch and optimiser, inside the same interleaved rounds, so that the
ratio of the first precision's time to another's (``train_speedup``, ``infer_speedup``,
``floor_speedup``) is measured under the same conditions; the result also lists the aten operators
that take the most time in one profiled training step and one inference per precision
(``ops_ms``: what stays slow, e.g. in float32) and the machine's load average before and after the
rounds (``load_average``), since ratios measured under load are less reliable.

Numbers from a shared 2-core machine drift with whatever else runs, so absolute times mean little;
ratios measured in the same run do. Each method is timed in interleaved rounds (A, B, A, B, ...)
and the median of each method's rounds is reported, together with its ratio to the first
(reference) method. Inputs are real SynthShapes (or the config's dataset) training samples, so the
assigners see realistic ground truth; weights are random (pretrained weights do not change the
arithmetic), and the inference timing includes post-processing (per-level top-k, NMS).
"""
from __future__ import annotations

import copy
import os
import statistics
import time
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from ..config import Config
from ..data.collate import collate_batch
from .. import build
from .builders import build_train_dataset, build_optimizer
from .memory_format import images_in, set_model_format
from .precision import autocast, check_precision


def _inputs(cfg: Config, batch_size: int,
            input_size: Optional[tuple[int, int]] = None) -> tuple[torch.Tensor, list[dict]]:
    """A training batch of the config's dataset; with ``input_size`` (H, W) every image and its
    boxes are resized to H x W (e.g. COCO's 1333 x 800 without COCO on disk)."""
    dataset = build_train_dataset(cfg)
    samples = [dataset[i] for i in range(batch_size)]
    if input_size is not None:
        samples = [_resized(image, target, input_size) for image, target in samples]
    return collate_batch(samples, cfg.data.size_divisor)


def _resized(image: torch.Tensor, target: dict, size: tuple[int, int]) -> tuple[torch.Tensor, dict]:
    h, w = image.shape[-2:]
    out = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    scale = torch.tensor([size[1] / w, size[0] / h, size[1] / w, size[0] / h])
    target = {**target, "boxes": target["boxes"] * scale, "img_shape": tuple(size)}
    return out, target


def _time_train(model, optimizer, images, targets, iters: int, precision: str = "fp32") -> float:
    model.train()
    start = time.perf_counter()
    for _ in range(iters):
        with autocast(precision, images.device):
            losses = model(images, targets)
        optimizer.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        optimizer.step()
    return (time.perf_counter() - start) / iters


@torch.no_grad()
def _time_infer(model, images, targets, iters: int, precision: str = "fp32") -> float:
    model.eval()
    start = time.perf_counter()
    for i in range(iters):
        k = i % images.shape[0]
        with autocast(precision, images.device):
            model(images[k:k + 1], targets[k:k + 1])
    return (time.perf_counter() - start) / iters


def _backbone(model) -> torch.nn.Module:
    return getattr(model, "proposal_network", model).backbone


def _time_floor(backbone, images, iters: int, precision: str = "fp32") -> float:
    """Backbone + FPN forward and backward on the batch (what any head must at least cost)."""
    backbone.train()
    start = time.perf_counter()
    for _ in range(iters):
        backbone.zero_grad(set_to_none=True)
        with autocast(precision, images.device):
            feats = backbone(images)
        sum(f.float().mean() for f in feats).backward()
    return (time.perf_counter() - start) / iters


def _flops(model, images, targets) -> tuple[int, int]:
    """Forward floating-point operations of one training step and of its floor, as
    ``torch.utils.flop_counter`` counts them: convolutions and matrix products only (not
    ``grid_sample``, element-wise ops, NMS). Their ratio approximates the step's arithmetic floor
    (a backward pass costs about twice its forward for every layer alike): a head whose
    convolutions add 20% of the backbone's FLOPs cannot cost less than about 1.2x the floor.
    Forward only, because torch 2.14's counter charges a grouped convolution's backward ``groups``
    times over (a depthwise 3x3 on 96 channels: 687 MFLOP counted for 14 real), and MobileNetV2 is
    made of them."""
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        _backbone(model)(images)
    floor = counter.get_total_flops()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(images, targets)
    return counter.get_total_flops(), floor


TOP_OPS = 15   # aten operators listed per profiled step (``ops_ms``)


def _top_ops(prof) -> dict[str, float]:
    """The ``TOP_OPS`` aten operators with the most self CPU time, in milliseconds."""
    events = sorted((e for e in prof.key_averages() if e.key.startswith("aten::")),
                    key=lambda e: e.self_cpu_time_total, reverse=True)[:TOP_OPS]
    return {e.key: round(e.self_cpu_time_total / 1000, 3) for e in events}


def _breakdown(model, optimizer, images, targets, precision: str = "fp32") -> tuple[dict, dict]:
    """Milliseconds under each ``scrpn::`` label in one profiled training step and one profiled
    inference on image 0 (``infer:`` keys), plus ``backward`` (the whole backward pass); and the
    top aten operators by self time of each (``train`` / ``infer``)."""
    from torch.profiler import ProfilerActivity, profile

    out: dict[str, float] = {}
    model.train()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with autocast(precision, images.device):
            losses = model(images, targets)
        optimizer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        sum(losses.values()).backward()
        out["backward"] = 1000 * (time.perf_counter() - start)
    out.update({e.key.removeprefix("scrpn::"): e.cpu_time_total / 1000 for e in prof.key_averages()
                if e.key.startswith("scrpn::")})
    ops = {"train": _top_ops(prof)}
    model.eval()
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        with autocast(precision, images.device):
            model(images[:1], targets[:1])
    out.update({"infer:" + e.key.removeprefix("scrpn::"): e.cpu_time_total / 1000
                for e in prof.key_averages() if e.key.startswith("scrpn::")})
    ops["infer"] = _top_ops(prof)
    return {k: round(v, 3) for k, v in sorted(out.items())}, ops


def benchmark(configs: Sequence[Config], rounds: int = 5, iters: int = 3, warmup: int = 2,
              input_size: Optional[tuple[int, int]] = None,
              precisions: Optional[Sequence[str]] = None) -> dict:
    """Median seconds per training iteration and per inference image of each config, and ratios.

    All configs must share the data section (same images); the first is the reference.
    ``input_size`` (H, W) resizes the batch (see :func:`_inputs`). ``precisions``: time every
    config in each (the first is the base of the speed-ups; default: each config's own
    ``train.precision`` only); see the module docstring.
    """
    nchw_images, targets = _inputs(configs[0], configs[0].train.batch_size, input_size)
    for p in precisions or ():
        check_precision(p, nchw_images.device, "--precisions")
    runs = []
    for cfg in configs:
        own = list(precisions) if precisions else [cfg.train.precision]
        check_precision(own[0], nchw_images.device)
        torch.manual_seed(cfg.train.seed)
        model = build.build_model(cfg)
        model.set_generator(torch.Generator().manual_seed(cfg.train.seed))
        nchw_backbone = set_model_format(copy.deepcopy(_backbone(model)), "contiguous")
        set_model_format(model, cfg.train.memory_format)
        base = {"cfg": cfg, "model": model, "opt": build_optimizer(model, cfg.train),
                "images": images_in(nchw_images, cfg.train.memory_format), "nchw_backbone": nchw_backbone,
                "precision": own[0], "base": None}
        for p in own:   # the same model, optimiser and batch in each precision
            runs.append({**base, "precision": p, "base": None if p == own[0] else base,
                         "train": [], "infer": [], "floor": [], "floor_nchw": []})
    for run in runs if warmup > 0 else []:                                 # warm-up, untimed
        _time_train(run["model"], run["opt"], run["images"], targets, warmup, run["precision"])
        _time_infer(run["model"], run["images"], targets, warmup, run["precision"])
        if run["base"] is None:
            _time_floor(run["nchw_backbone"], nchw_images, 1)
    load_before = os.getloadavg()
    for _ in range(rounds):
        for run in runs:
            p = run["precision"]
            run["train"].append(_time_train(run["model"], run["opt"], run["images"], targets, iters, p))
            run["infer"].append(_time_infer(run["model"], run["images"], targets, iters, p))
            run["floor"].append(_time_floor(_backbone(run["model"]), run["images"], iters, p))
            if run["base"] is None:
                run["floor_nchw"].append(_time_floor(run["nchw_backbone"], nchw_images, iters))
    load_after = os.getloadavg()
    for run in runs:
        run["breakdown_ms"], run["ops_ms"] = _breakdown(run["model"], run["opt"], run["images"],
                                                        targets, run["precision"])
        if run["base"] is None:
            run["flops"] = _flops(run["model"], run["images"], targets)
    result = _summarise([r for r in runs if r["base"] is None], nchw_images)
    result["load_average"] = {"before": [round(v, 2) for v in load_before],
                              "after": [round(v, 2) for v in load_after], "cpus": os.cpu_count()}
    for run in runs:
        name = run["cfg"].name
        method = result["methods"][name]
        if run["base"] is None:
            method["precision"] = run["precision"]
            method["ops_ms"] = {run["precision"]: run["ops_ms"]}
            continue
        method["ops_ms"][run["precision"]] = run["ops_ms"]
        method.setdefault("precisions", {})[run["precision"]] = _precision_summary(run, method)
    return result


def _precision_summary(run: dict, base: dict) -> dict:
    """One config in another precision: its medians and the base precision's time over its own."""
    train, infer, floor = (statistics.median(run[k]) for k in ("train", "infer", "floor"))
    return {"train_seconds_per_iter": train, "infer_seconds_per_image": infer,
            "floor_seconds_per_iter": floor,
            "train_speedup": base["train_seconds_per_iter"] / train,
            "infer_speedup": base["infer_seconds_per_image"] / infer,
            "floor_speedup": base["floor_seconds_per_iter"] / floor,
            "train_ratio_to_floor": train / floor, "breakdown_ms": run["breakdown_ms"],
            "train_rounds": run["train"], "infer_rounds": run["infer"], "floor_rounds": run["floor"]}


def _summarise(runs: list[dict], images: torch.Tensor) -> dict:
    ref = runs[0]
    ref_train, ref_infer = statistics.median(ref["train"]), statistics.median(ref["infer"])
    methods = {}
    for run in runs:
        train, infer = statistics.median(run["train"]), statistics.median(run["infer"])
        methods[run["cfg"].name] = {
            "train_seconds_per_iter": train, "infer_seconds_per_image": infer,
            "train_images_per_second": images.shape[0] / train, "infer_images_per_second": 1.0 / infer,
            "train_ratio_to_reference": train / ref_train, "infer_ratio_to_reference": infer / ref_infer,
            "memory_format": run["cfg"].train.memory_format,
            "floor_seconds_per_iter": statistics.median(run["floor"]),
            "train_ratio_to_floor": train / statistics.median(run["floor"]),
            "train_forward_gflops": run["flops"][0] / 1e9, "floor_forward_gflops": run["flops"][1] / 1e9,
            "flops_ratio_to_floor": run["flops"][0] / run["flops"][1],
            "floor_nchw_seconds_per_iter": statistics.median(run["floor_nchw"]),
            "floor_speedup_over_nchw": statistics.median(run["floor_nchw"]) / statistics.median(run["floor"]),
            "breakdown_ms": run["breakdown_ms"],
            "train_rounds": run["train"], "infer_rounds": run["infer"], "floor_rounds": run["floor"],
            "floor_nchw_rounds": run["floor_nchw"]}
    return {"reference": ref["cfg"].name, "batch_size": int(images.shape[0]),
            "input_size": list(images.shape[-2:]), "backbone": ref["cfg"].model.backbone.name,
            "torch_threads": torch.get_num_threads(), "methods": methods}
