"""The arithmetic of the forward pass: ``fp32``, or ``bf16`` under ``torch.autocast`` (issue 37).

``train.precision`` (training) and ``eval.precision`` (evaluation; ``train`` = the same) choose it.

* ``fp32``: nothing changes. No autocast region is opened, so runs stay bit for bit what they
  were before the key existed (it is left out of the fingerprint at fp32).
* ``bf16`` on the CPU: ``torch.autocast("cpu", dtype=torch.bfloat16)`` around the model's forward
  pass. Autocast runs the matrix products (convolutions, ``bmm``, ``linear``) in bfloat16 and keeps
  its float32 list (``grid_sample``, most losses) in float32. The model casts the head's outputs
  back to float32 and computes its assigners, samplers, losses, decoding checks and NMS outside the
  autocast region (``ProposalNetwork``); weights, gradients and the SGD step stay float32. A CPU
  without bfloat16 arithmetic would emulate it at a fraction of fp32's speed: such a CPU is refused
  with one line (:func:`check_precision`), detected from ``/proc/cpuinfo``'s flags
  (``avx512_bf16``, ``amx_bf16``; ``bf16`` on ARM) or torch's CPU capability string.
* ``bf16`` on CUDA: ``torch.autocast("cuda", dtype=torch.bfloat16)``, the same split; no
  ``GradScaler`` (bfloat16 has float32's exponent range). ``train.amp`` (float16) and bf16 exclude
  each other (a config error).

bf16 changes the numbers (8 bits of mantissa in every product): it is part of the fingerprint
unless the pre-registered equivalence test (``results/REPORT.md``, issue 37) shows it equivalent.
``tests/test_precision.py`` pins the refusal (by faking the capability) and bounds the bf16 losses
of a 20-iteration smoke training against fp32's.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Optional

import torch

from scrpn.config import ConfigError

__all__ = ["BF16_CPU_FLAGS", "PRECISIONS", "autocast", "check_precision", "cpu_bf16_support",
           "eval_precision"]

PRECISIONS = ("fp32", "bf16")
# /proc/cpuinfo flags of a CPU with native bfloat16 products (x86: AVX512-BF16, AMX; ARM: BF16)
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def _cpuinfo_flags(path: Path = Path("/proc/cpuinfo")) -> Optional[set[str]]:
    """The CPU's feature flags (``flags`` on x86, ``Features`` on ARM); None where unreadable."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


def _capability() -> str:
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):   # torch < 2.1 has no such query
        return "unknown"


def cpu_bf16_support(capability: Optional[str] = None,
                     flags: Optional[Iterable[str]] = None) -> tuple[bool, str]:
    """Whether this CPU multiplies bfloat16 natively, and what says so (for the refusal's line).

    ``capability`` / ``flags`` default to torch's CPU capability and ``/proc/cpuinfo``'s flags
    (tests pass fakes). Supported when a flag of :data:`BF16_CPU_FLAGS` is present or the
    capability names BF16 or AMX."""
    capability = _capability() if capability is None else capability
    found = _cpuinfo_flags() if flags is None else set(flags)
    present = sorted(set(BF16_CPU_FLAGS) & (found or set()))
    if present:
        return True, f"CPU flags {', '.join(present)}"
    if "BF16" in capability.upper() or "AMX" in capability.upper():
        return True, f"torch CPU capability {capability}"
    seen = "no CPU flags readable" if found is None else f"none of {', '.join(BF16_CPU_FLAGS)} in the CPU flags"
    return False, f"torch CPU capability {capability}, {seen}"


def check_precision(precision: str, device: torch.device | str, source: str = "train.precision",
                    support: Optional[Callable[[], tuple[bool, str]]] = None) -> None:
    """Refuse bf16 on a CPU without bfloat16 arithmetic (one ``ConfigError`` line); anything
    else passes. ``source`` names the key that asked for it; ``support`` defaults to
    :func:`cpu_bf16_support` (looked up at the call, so that tests can fake it)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"{source}: precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision != "bf16" or torch.device(device).type != "cpu":
        return
    ok, why = (support or cpu_bf16_support)()
    if not ok:
        raise ConfigError(f"{source}: bf16 needs a CPU with bfloat16 arithmetic (avx512_bf16 or "
                          f"amx_bf16); this one has none ({why}): use fp32")


def eval_precision(eval_value: str, train_value: str) -> str:
    """``eval.precision`` resolved: ``train`` means ``train.precision``'s value."""
    return train_value if eval_value == "train" else eval_value


def autocast(precision: str, device: torch.device | str) -> ContextManager:
    """The region a forward pass runs in: nothing for fp32, bfloat16 autocast for bf16."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
