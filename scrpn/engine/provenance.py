"""What trained a run, recorded when its training starts: the code and the settings that decide the bits.

A run's config fingerprint says *what* was trained, not *which code and machine settings* trained it.
Those are recorded here, once per training process, when :meth:`scrpn.engine.trainer.Trainer.train`
starts (not when the run's record is written at the end, which may be a later re-evaluation by
other code). Each process that trains a part of the run adds one *part* to the checkpoint's
``provenance`` list, so a run resumed twice says which commit trained iterations 0-300, 300-500
and 500-700. A part holds (:func:`training_part`):

* ``from_iteration``: the iteration the part started at;
* ``commit`` and ``dirty`` (:func:`code_version`): the checkout's HEAD and whether ``scrpn/`` or
  ``configs/`` held changes git does not have: edited or staged tracked files, and files git does
  not track and does not ignore (a new module or config can change a run as much as an edit).
  Nothing outside those two folders counts: untracked ``results/``, notebooks or docs leave the
  tree clean. Outside a git checkout both are ``None`` (unknown, never guessed);
* the software: ``python``, ``torch``, ``torchvision``, ``numpy``;
* the machine: ``threads`` (``torch.get_num_threads()``), ``cpu_capability``
  (``torch.backends.cpu.get_cpu_capability()``, the instruction set torch's kernels dispatch to),
  ``cpu_model`` (``/proc/cpuinfo``'s model name; ``None`` elsewhere), ``isa_env`` (the variables
  of :data:`ISA_ENV` that are set), ``device``, ``world_size``;
* the run-time settings outside the fingerprint: ``memory_format``, ``deterministic_algorithms``
  (torch's deterministic mode as it was when the part started), ``cpu_deterministic_kernels`` (the
  config key that decides it on a CPU-only machine) and ``precision`` (``train.precision``; "fp32"
  when the config has no such key).

:func:`record_fields` turns the parts into the run record's fields (``metrics.json``), all of them
additive. ``tests/test_training_provenance.py`` pins the recording, the dirty rule and a resumed
run's two parts.
"""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import torch

__all__ = ["CODE_PATHS", "CHECKOUT", "ISA_ENV", "SETTINGS", "code_version", "cpu_model", "describe_parts",
           "environment", "record_fields", "training_part"]

CODE_PATHS = ("scrpn", "configs")  # what "the code that trained it" means for dirtiness
CHECKOUT = Path(__file__).resolve().parents[2]  # the checkout whose scrpn/ is running
# the part's fields that a retraining can set from the command line (``scrpn study verify``)
SETTINGS = ("threads", "memory_format", "cpu_deterministic_kernels", "precision")
# environment variables that lower the instruction set torch's kernels (ATen) and oneDNN's
# convolutions dispatch to: they change the bits (issue 36), so a part records those that are set
ISA_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")


def git(root: str | Path, *args: str) -> Optional[str]:
    """``git -C root args`` stdout, ``None`` when git fails or is missing."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def code_version(root: str | Path = CHECKOUT) -> dict:
    """``{"code_commit": sha | None, "code_dirty": bool | None}`` of the checkout at ``root``
    (dirty: see the module docstring)."""
    head = git(root, "rev-parse", "HEAD")
    if head is None:
        return {"code_commit": None, "code_dirty": None}
    status = git(root, "status", "--porcelain", "--untracked-files=all", "--", *CODE_PATHS)
    return {"code_commit": head.strip(), "code_dirty": None if status is None else bool(status.strip())}


def cpu_model() -> Optional[str]:
    """The first ``model name`` of ``/proc/cpuinfo`` (Linux), else ``platform.processor()`` or None."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _cpu_capability() -> Optional[str]:
    backend = getattr(torch.backends, "cpu", None)
    getter = getattr(backend, "get_cpu_capability", None)
    return str(getter()) if getter is not None else None


def environment() -> dict[str, Any]:
    """The software and machine fields of a part (see the module docstring)."""
    import numpy
    try:
        import torchvision
        vision = str(torchvision.__version__)
    except ImportError:  # pragma: no cover - a dependency
        vision = None
    return {"python": platform.python_version(), "torch": str(torch.__version__), "torchvision": vision,
            "numpy": str(numpy.__version__), "threads": int(torch.get_num_threads()),
            "cpu_capability": _cpu_capability(), "cpu_model": cpu_model(),
            "isa_env": {k: os.environ[k] for k in ISA_ENV if os.environ.get(k)}}


def training_part(train_cfg: Any, from_iteration: int, device: str = "cpu", world_size: int = 1,
                  root: str | Path = CHECKOUT) -> dict[str, Any]:
    """One training process's part (plain values only: it is stored in ``weights_only`` checkpoints)."""
    version = code_version(root)
    return {"from_iteration": int(from_iteration), "commit": version["code_commit"],
            "dirty": version["code_dirty"], **environment(), "device": str(device),
            "world_size": int(world_size), "memory_format": str(getattr(train_cfg, "memory_format", "contiguous")),
            "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
            "cpu_deterministic_kernels": bool(getattr(train_cfg, "cpu_deterministic_kernels", True)),
            "precision": str(getattr(train_cfg, "precision", "fp32")),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _state(part: Mapping[str, Any]) -> str:
    if not part.get("commit"):
        return "unknown code"
    return f"{part['commit'][:10]} ({'dirty' if part.get('dirty') else 'clean' if part.get('dirty') is False else 'dirtiness unknown'})"


def describe_parts(parts: Optional[Sequence[Mapping[str, Any]]], iterations: Optional[int] = None) -> str:
    """"trained by <sha> (clean)" for one part (or parts that all share one commit and state);
    "trained in N parts: iterations 0-300 by <sha> (clean), 300-700 by ..." otherwise; and
    "trained by unknown code (the checkpoint predates provenance)" without parts."""
    if not parts:
        return "trained by unknown code (the checkpoint predates provenance)"
    states = [_state(p) for p in parts]
    if len(set(states)) == 1:
        return f"trained by {states[0]}" + (f" in {len(parts)} parts" if len(parts) > 1 else "")
    ends = [int(p.get("from_iteration", 0)) for p in parts[1:]] + [iterations]
    spans = [f"{int(p.get('from_iteration', 0))}-{'?' if end is None else end} by {state}"
             for p, end, state in zip(parts, ends, states)]
    return f"trained in {len(parts)} parts: iterations " + ", ".join(spans)


def record_fields(parts: Optional[Sequence[Mapping[str, Any]]], iterations: Optional[int] = None) -> dict[str, Any]:
    """The run record's provenance fields, from the checkpoint's parts.

    ``training_parts`` (the parts, or ``None`` when the checkpoint predates them), ``trained_by``
    (:func:`describe_parts`), and ``code_commit`` / ``code_dirty``: the commit of the last part
    (the code that finished the training) and whether any part was dirty; ``None`` when unknown.
    These two fields used to hold the HEAD of whatever process wrote the record."""
    parts = [dict(p) for p in parts] if parts else None
    if not parts:
        commit, dirty = None, None
    else:
        commit = parts[-1].get("commit")
        flags = [p.get("dirty") for p in parts]
        dirty = True if any(f is True for f in flags) else (None if any(f is None for f in flags) else False)
    return {"training_parts": parts, "trained_by": describe_parts(parts, iterations),
            "code_commit": commit, "code_dirty": dirty}
