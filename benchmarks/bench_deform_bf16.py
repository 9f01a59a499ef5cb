"""Where SC-RPN's bf16 training step loses its speed-up: the deformable convolution (issue 37).

One 3x3 deformable convolution at SC-RPN's P2 shape in the mini profile (batch 4, 64 -> 128
channels, 64 x 64, ``channels_last``), forward and backward, against a plain 3x3 convolution of
the same shape, each in fp32 and under bfloat16 autocast, interleaved in the same rounds (median),
1 thread; then one profiled call per precision lists its operators' self time. Under autocast the
deformable convolution's ``bmm`` runs in bfloat16 while ``grid_sample`` (autocast's float32 list)
stays in float32 and its input and output are cast around it.

Usage::

    python benchmarks/bench_deform_bf16.py [OUTPUT_JSON] [--rounds 5]

Default output: ``results/bench/deform_conv_bf16.json``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._bench_io import machine_record, write_result  # noqa: E402
from scrpn.ops.deform_conv import deform_conv2d_fast  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
B, C, H, W, OUT = 4, 64, 64, 64, 128


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(ROOT / "results" / "bench" / "deform_conv_bf16.json"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, C, H, W, generator=g).contiguous(memory_format=torch.channels_last).requires_grad_()
    offset = (torch.randn(B, 18, H, W, generator=g) * 2).requires_grad_()
    weight = (torch.randn(OUT, C, 3, 3, generator=g) * 0.05).requires_grad_()
    conv = torch.nn.Conv2d(C, OUT, 3, padding=1).to(memory_format=torch.channels_last)

    def deform(precision: str) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            y = deform_conv2d_fast(x, offset, weight, None, 1, 1, 1)
        y.float().sum().backward()

    def plain(precision: str) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            y = conv(x)
        y.float().sum().backward()

    cases = {f"{f.__name__}_{p}": (f, p) for f in (deform, plain) for p in ("fp32", "bf16")}
    for f, p in cases.values():
        f(p)
    rounds: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for key, (f, p) in cases.items():
            start = time.perf_counter()
            f(p)
            rounds[key].append(time.perf_counter() - start)
    median = {k: statistics.median(v) for k, v in rounds.items()}
    from torch.profiler import profile
    ops = {}
    for p in ("fp32", "bf16"):
        with profile() as prof:
            deform(p)
        ops[p] = {e.key: round(e.self_cpu_time_total / 1000, 2) for e in
                  sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:8]}
    result = {"shape": {"batch": B, "in": C, "out": OUT, "height": H, "width": W},
              "median_seconds": median, "rounds": rounds,
              "deform_bf16_speedup": median["deform_fp32"] / median["deform_bf16"],
              "conv_bf16_speedup": median["plain_fp32"] / median["plain_bf16"],
              "deform_ops_ms": ops, "load_average_after": list(os.getloadavg()),
              **machine_record(load_before)}
    print(f"deformable conv x{result['deform_bf16_speedup']:.2f} faster in bf16, plain conv "
          f"x{result['conv_bf16_speedup']:.2f} (load {os.getloadavg()[0]:.1f})")
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
