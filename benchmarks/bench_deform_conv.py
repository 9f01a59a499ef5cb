"""Benchmark the deformable convolution implementations on CPU.

Times forward + backward (gradients w.r.t. input, offset, weight and bias) of
``torchvision.ops.deform_conv2d`` and ``scrpn.ops.deform_conv2d_fast`` on the
same tensors in the same process, interleaving the two so that machine load
affects both alike, and reports the median of several repeats.

Usage::

    python benchmarks/bench_deform_conv.py [OUTPUT_JSON] [--repeats N] [--size B C H W]

The default output is ``results/bench/deform_conv.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from torchvision.ops import deform_conv2d as tv_deform_conv2d  # noqa: E402

from _bench_io import machine_record, write_result  # noqa: E402  (benchmarks/, the script's folder)
from scrpn.ops import deform_conv2d_fast  # noqa: E402


def _make_inputs(batch: int, channels: int, height: int, width: int, out_channels: int) -> Dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "input": torch.randn(batch, channels, height, width, generator=generator).requires_grad_(),
        # fractional offsets of a few pixels, some pointing outside the image
        "offset": (torch.randn(batch, 18, height, width, generator=generator) * 2.0).requires_grad_(),
        "weight": (torch.randn(out_channels, channels, 3, 3, generator=generator) * 0.05).requires_grad_(),
        "bias": torch.randn(out_channels, generator=generator).requires_grad_(),
    }


def _step(fn: Callable, tensors: Dict[str, torch.Tensor]) -> None:
    for tensor in tensors.values():
        tensor.grad = None
    output = fn(tensors["input"], tensors["offset"], tensors["weight"], tensors["bias"], padding=(1, 1))
    output.sum().backward()


def _time_once(fn: Callable, tensors: Dict[str, torch.Tensor]) -> float:
    start = time.perf_counter()
    _step(fn, tensors)
    return time.perf_counter() - start


def run(batch: int, channels: int, height: int, width: int, repeats: int) -> Dict[str, object]:
    load_before = os.getloadavg()[0]
    tensors = _make_inputs(batch, channels, height, width, channels)
    impls: Dict[str, Callable] = {"torchvision": tv_deform_conv2d, "fast": deform_conv2d_fast}
    for fn in impls.values():  # warm-up
        _step(fn, tensors)
    times: Dict[str, List[float]] = {name: [] for name in impls}
    for _ in range(repeats):
        for name, fn in impls.items():
            times[name].append(_time_once(fn, tensors))
    plain = torch.nn.Conv2d(channels, channels, 3, padding=1)
    plain_times = []
    for _ in range(repeats):
        start = time.perf_counter()
        plain(tensors["input"]).sum().backward()
        plain_times.append(time.perf_counter() - start)
    median_ms = {name: 1000.0 * statistics.median(values) for name, values in times.items()}
    return {
        "shape": [batch, channels, height, width],
        "kernel": [3, 3],
        "out_channels": channels,
        "measure": "forward+backward, median wall-clock",
        "repeats": repeats,
        "median_ms": median_ms,
        "min_ms": {name: 1000.0 * min(values) for name, values in times.items()},
        "all_ms": {name: [round(1000.0 * t, 2) for t in values] for name, values in times.items()},
        "plain_conv_median_ms": 1000.0 * statistics.median(plain_times),
        "speedup_fast_vs_torchvision": median_ms["torchvision"] / median_ms["fast"],
        # other processes on the machine inflate both timings (the fast path, being
        # multi-threaded and memory-bound, suffers more); the record keeps the 1-minute load
        # average so that a run taken under load can be recognised
        **machine_record(load_before),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", nargs="?", default="results/bench/deform_conv.json")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, nargs=4, default=[2, 64, 64, 64], metavar=("B", "C", "H", "W"))
    args = parser.parse_args()
    result = run(*args.size, repeats=args.repeats)
    print(
        f"deform_conv2d fwd+bwd {tuple(result['shape'])}, 3x3, {result['out_channels']} out, "
        f"{result['torch_threads']} threads, median of {result['repeats']}:"
    )
    for name, value in result["median_ms"].items():
        print(f"  {name:12s} {value:8.1f} ms")
    print(f"  {'plain conv':12s} {result['plain_conv_median_ms']:8.1f} ms")
    print(f"  speed-up fast vs torchvision: {result['speedup_fast_vs_torchvision']:.1f}x")
    print(f"  load average before/after: {result['loadavg_1min_before_after']}")
    write_result(args.output, result)


if __name__ == "__main__":
    main()
