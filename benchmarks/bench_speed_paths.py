"""The speed paths issue 19 asked us to try, each timed against today's path in one process.

Three questions, each answered by interleaved rounds on the same tensors (median of the rounds;
ratios, not absolute times, are what a shared 2-core machine can measure):

1. **Backbone + FPN forward and backward** (the mini profile's MobileNetV2 + FPN, batch 4, 256 px):
   eager NCHW (the path every run before issue 19 trained with), ``channels_last``
   (``train.memory_format``), frozen batch norms folded into the preceding convolutions, and
   ``torch.compile`` (inductor) of the NCHW and of the folded NHWC backbone, with its compile time.
2. **Deformable sampling** at SC-RPN's P2 shape (B 4, 64 -> 128 channels, 64 x 64, 3 x 3):
   today's ``grid_sample`` + ``bmm`` (:func:`scrpn.ops.deform_conv2d_fast`) against one
   gather-based bilinear kernel (:func:`deform_conv2d_gather` below: four row gathers of an NHWC
   input, autograd for the backward), forward and backward.
3. **The projection** of the sampled columns ``(B, C*K, L)`` onto the weight: ``bmm`` (today)
   against a 1x1 convolution (NCHW and NHWC) and one ``mm`` over the whole batch.

Every alternative is checked against today's output before it is timed (``max_rel_diff``).
Usage::

    python benchmarks/bench_speed_paths.py [OUTPUT_JSON] [--rounds N] [--no-compile]

The default output is ``results/bench/speed_paths.json``; the README's "Speed" paragraph reads it.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops.misc import FrozenBatchNorm2d

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _bench_io import machine_record, write_result  # noqa: E402  (benchmarks/, the script's folder)
from scrpn.engine.memory_format import images_in, set_model_format  # noqa: E402
from scrpn.ops.deform_conv import _output_size, _pair, deform_conv2d_fast  # noqa: E402


# ---------------------------------------------------------------------------------------- 1
class FoldedConvBN(nn.Module):
    """``bn(conv(x))`` with a frozen ``bn`` computed as one convolution: weight * scale, bias."""

    def __init__(self, conv: nn.Conv2d, bn: FrozenBatchNorm2d) -> None:
        super().__init__()
        self.conv, self.bn = conv, bn

    def forward(self, x: Tensor) -> Tensor:
        scale = self.bn.weight * (self.bn.running_var + self.bn.eps).rsqrt()
        bias = self.bn.bias - self.bn.running_mean * scale
        conv = self.conv
        return F.conv2d(x, conv.weight * scale.view(-1, 1, 1, 1), bias, conv.stride, conv.padding,
                        conv.dilation, conv.groups)


def fold_frozen_bn(module: nn.Module) -> nn.Module:
    """Replace each (bias-free Conv2d, FrozenBatchNorm2d) pair inside a Sequential, in place."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Sequential):
            kids, new, i = list(child.children()), [], 0
            while i < len(kids):
                pair = kids[i:i + 2]
                if (len(pair) == 2 and isinstance(pair[0], nn.Conv2d) and pair[0].bias is None
                        and isinstance(pair[1], FrozenBatchNorm2d)):
                    new.append(FoldedConvBN(*pair))
                    i += 2
                else:
                    new.append(fold_frozen_bn(kids[i]))
                    i += 1
            setattr(module, name, nn.Sequential(*new))
        else:
            fold_frozen_bn(child)
    return module


def _backbone_step(net: nn.Module, x: Tensor) -> list[Tensor]:
    net.zero_grad(set_to_none=True)
    out = net(x)
    sum(f.float().mean() for f in out).backward()
    return [f.detach() for f in out]


def backbone_paths(rounds: int, compile_: bool) -> dict:
    from scrpn.models.backbones import build_backbone

    torch.manual_seed(0)
    base = build_backbone("mobilenet_v2", 64, pretrained=False, frozen_stages=1).train()
    x = torch.rand(4, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    nhwc = images_in(x, "channels_last")
    paths: dict[str, tuple[nn.Module, Tensor]] = {
        "eager_nchw": (base, x),
        "channels_last": (set_model_format(copy.deepcopy(base), "channels_last"), nhwc),
        "folded_bn_nchw": (fold_frozen_bn(copy.deepcopy(base)), x),
        "folded_bn_channels_last": (set_model_format(fold_frozen_bn(copy.deepcopy(base)), "channels_last"), nhwc),
    }
    compile_seconds = {}
    if compile_:
        for name, (net, inp) in (("compiled_nchw", paths["eager_nchw"]),
                                 ("compiled_folded_channels_last", paths["folded_bn_channels_last"])):
            start = time.perf_counter()
            compiled = torch.compile(copy.deepcopy(net))
            _backbone_step(compiled, inp)   # the first call compiles forward and backward
            compile_seconds[name] = time.perf_counter() - start
            paths[name] = (compiled, inp)
    return _timed(paths, lambda net, inp: _backbone_step(net, inp), "eager_nchw", rounds,
                  extra={"input": [4, 3, 256, 256], "compile_seconds": compile_seconds})


# ---------------------------------------------------------------------------------------- 2
def deform_conv2d_gather(input: Tensor, offset: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                         stride=1, padding=0, dilation=1) -> Tensor:
    """The same function as :func:`deform_conv2d_fast` (offset groups 1, no mask) with the
    bilinear sampling as four row gathers of the NHWC input (``index_select``) weighted by the
    corner weights, zero outside the image; the columns are ``(B, L, K*C)`` and the projection one
    ``matmul``. Backward by autograd (``index_select``'s is an ``index_add``)."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    c_out, _, kh, kw = weight.shape
    b, c, h, w = input.shape
    oh, ow = _output_size(h, kh, sh, ph, dh), _output_size(w, kw, sw, pw, dw)
    k, num = kh * kw, oh * ow
    off = offset.view(b, k, 2, oh, ow)
    tap_y = (torch.arange(kh, dtype=input.dtype) * dh).repeat_interleave(kw).view(1, k, 1, 1)
    tap_x = (torch.arange(kw, dtype=input.dtype) * dw).repeat(kh).view(1, k, 1, 1)
    y = (torch.arange(oh, dtype=input.dtype) * sh - ph).view(1, 1, oh, 1) + tap_y + off[:, :, 0]
    x = (torch.arange(ow, dtype=input.dtype) * sw - pw).view(1, 1, 1, ow) + tap_x + off[:, :, 1]
    y = y.permute(0, 2, 3, 1).reshape(b, num * k)          # (B, L*K): location-major, tap-minor
    x = x.permute(0, 2, 3, 1).reshape(b, num * k)
    y0, x0 = torch.floor(y), torch.floor(x)
    wy1, wx1 = y - y0, x - x0
    y0i, x0i = y0.long(), x0.long()
    rows = input.permute(0, 2, 3, 1).reshape(b * h * w, c)  # one row per pixel, channels last
    first = (torch.arange(b) * (h * w)).view(b, 1)
    columns = None
    for dy, wy in ((0, 1 - wy1), (1, wy1)):
        for dx, wx in ((0, 1 - wx1), (1, wx1)):
            yy, xx = y0i + dy, x0i + dx
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            index = (first + yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).reshape(-1)
            term = rows.index_select(0, index) * (wy * wx * inside).reshape(-1, 1)
            columns = term if columns is None else columns + term
    kernel = weight.permute(0, 2, 3, 1).reshape(c_out, k * c)              # (C_out, K*C), (k, c) order
    out = torch.matmul(columns.view(b, num, k * c), kernel.t())            # (B, L, C_out)
    out = out.transpose(1, 2).reshape(b, c_out, oh, ow)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def _dcn_step(fn: Callable, t: dict[str, Tensor]) -> list[Tensor]:
    for v in t.values():
        v.grad = None
    out = fn(t["input"], t["offset"], t["weight"], t["bias"], padding=1)
    out.sum().backward()
    return [out.detach(), *(v.grad for v in t.values())]


def deform_paths(rounds: int) -> dict:
    g = torch.Generator().manual_seed(0)
    t = {"input": torch.randn(4, 64, 64, 64, generator=g).requires_grad_(),
         "offset": (torch.randn(4, 18, 64, 64, generator=g) * 2.0).requires_grad_(),
         "weight": (torch.randn(128, 64, 3, 3, generator=g) * 0.05).requires_grad_(),
         "bias": torch.randn(128, generator=g).requires_grad_()}
    paths = {"grid_sample_bmm": (deform_conv2d_fast, t), "gather": (deform_conv2d_gather, t)}
    return _timed(paths, _dcn_step, "grid_sample_bmm", rounds,
                  extra={"input": [4, 64, 64, 64], "out_channels": 128, "kernel": [3, 3],
                         "measure": "forward + backward (input, offset, weight, bias)"})


# ---------------------------------------------------------------------------------------- 3
def projection_paths(rounds: int) -> dict:
    b, c, k, h, w, c_out = 4, 64, 9, 64, 64, 128
    g = torch.Generator().manual_seed(0)
    t = {"cols": torch.randn(b, c * k, h * w, generator=g).requires_grad_(),
         "weight": (torch.randn(c_out, c, 3, 3, generator=g) * 0.05).requires_grad_()}

    def bmm(cols, weight):
        return torch.bmm(weight.reshape(1, c_out, c * k).expand(b, -1, -1), cols).view(b, c_out, h, w)

    def conv1x1(cols, weight):
        return F.conv2d(cols.view(b, c * k, h, w), weight.reshape(c_out, c * k, 1, 1))

    def conv1x1_nhwc(cols, weight):
        return F.conv2d(images_in(cols.view(b, c * k, h, w), "channels_last"),
                        images_in(weight.reshape(c_out, c * k, 1, 1), "channels_last"))

    def mm(cols, weight):
        flat = cols.permute(1, 0, 2).reshape(c * k, b * h * w)
        return (weight.reshape(c_out, c * k) @ flat).view(c_out, b, h, w).permute(1, 0, 2, 3)

    def step(fn, tensors):
        for v in tensors.values():
            v.grad = None
        out = fn(tensors["cols"], tensors["weight"])
        out.sum().backward()
        return [out.detach(), *(v.grad for v in tensors.values())]

    paths = {name: (fn, t) for name, fn in (("bmm", bmm), ("conv1x1_nchw", conv1x1),
                                            ("conv1x1_nhwc", conv1x1_nhwc), ("mm", mm))}
    return _timed(paths, step, "bmm", rounds, extra={"columns": [b, c * k, h * w], "out_channels": c_out})


# ---------------------------------------------------------------------------------------- common
def _timed(paths: dict, step: Callable, reference: str, rounds: int, extra: dict) -> dict:
    """Median seconds of ``step(*path)`` per path over interleaved rounds, the speed-up over the
    reference path, and each path's largest relative difference from the reference's outputs."""
    outputs = {name: step(*args) for name, args in paths.items()}          # warm-up and check
    ref = outputs[reference]
    diff = {name: max(float((a - r).abs().max() / r.abs().max().clamp_min(1e-12)) for a, r in zip(out, ref))
            for name, out in outputs.items()}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, args in paths.items():
            start = time.perf_counter()
            step(*args)
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(v) for name, v in times.items()}
    return {**extra, "reference": reference,
            "median_ms": {n: round(1000 * v, 2) for n, v in median.items()},
            "speedup_over_reference": {n: round(median[reference] / v, 3) for n, v in median.items()},
            "max_rel_diff": diff,
            "all_ms": {n: [round(1000 * t, 2) for t in v] for n, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", nargs="?", default="results/bench/speed_paths.json")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile arms")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("SCRPN_NUM_THREADS", "2")))
    load_before = os.getloadavg()[0]
    result = {"backbone_fpn": backbone_paths(args.rounds, not args.no_compile),
              "deform_conv": deform_paths(args.rounds),
              "projection": projection_paths(args.rounds),
              **machine_record(load_before)}
    for part in ("backbone_fpn", "deform_conv", "projection"):
        print(part + ":")
        for name, ms in result[part]["median_ms"].items():
            print(f"  {name:32s} {ms:8.1f} ms  x{result[part]['speedup_over_reference'][name]:.2f}  "
                  f"(max rel diff {result[part]['max_rel_diff'][name]:.1e})")
    if result["backbone_fpn"]["compile_seconds"]:
        print("compile seconds:", {k: round(v, 1) for k, v in result["backbone_fpn"]["compile_seconds"].items()})
    write_result(args.output, result)


if __name__ == "__main__":
    main()
