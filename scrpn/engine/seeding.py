"""Seeds, determinism and random-number-generator state that survives a checkpoint.

Three sources of randomness matter for a run:

* the data order, a pure function of ``(seed, epoch)`` (:func:`epoch_permutation`), so that a run
  resumed in the middle of an epoch skips exactly the batches it has already seen;
* the model's own sampling (positive/negative samples of the heads), drawn from a dedicated
  ``torch.Generator`` owned by the trainer (:func:`make_generator`);
* the process-global generators (torch, python ``random``, numpy) that third-party code may use.

All of them are captured by :func:`capture_rng_state` and restored by :func:`restore_rng_state`.
The captured state holds only tensors and plain python containers (ints, floats, lists, dicts), so
that checkpoints can be read back with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

__all__ = [
    "THREADS_ENV",
    "capture_rng_state",
    "configure_torch",
    "derive_seed",
    "epoch_permutation",
    "make_generator",
    "restore_rng_state",
    "seed_everything",
    "threads_override",
]

_SEED_MASK = 0x7FFF_FFFF_FFFF_FFFF  # torch.Generator.manual_seed wants a non-negative int64


def derive_seed(*values: int) -> int:
    """A well-mixed 63-bit seed from integers (numpy's SeedSequence hash, stable across versions).

    Seeding with ``seed + epoch`` would make run (seed=0, epoch=1) replay run (seed=1, epoch=0);
    hashing the tuple keeps every (seed, purpose, epoch) stream independent.
    """
    state = np.random.SeedSequence([int(v) for v in values]).generate_state(1, np.uint64)[0]
    return int(state) & _SEED_MASK


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global generator and torch's global generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_torch(deterministic: bool, num_threads: int = 0, cpu_deterministic_kernels: bool = True) -> None:
    """Ask torch for deterministic kernels (warning only where none exists) and set its threads.

    ``warn_only=True``: a few CPU/GPU ops (e.g. some scatter/index-add backward passes) have no
    deterministic implementation; failing the run for them would be worse than a warning.

    ``cpu_deterministic_kernels=False`` (``train.cpu_deterministic_kernels``, a speed setting, issue
    19) leaves torch's deterministic-algorithm mode off on a machine without CUDA. On the CPU that
    mode changes no result we compute: the kernels it replaces (the backward of indexing,
    ``index_put_`` with accumulation) already run serially there, and the mode swaps them for
    sort-based ones that cost 8-12% of a mini-profile step. ``tests/test_speed_options.py``
    trains 20 smoke iterations of every method both ways and requires bit-identical weights.
    With CUDA present the mode stays on whatever this says.
    """
    if deterministic:
        # cuBLAS needs this workspace setting for reproducible matmuls; it must be set before
        # the first CUDA call, and it is harmless on the CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    mode = bool(deterministic) and (cpu_deterministic_kernels or torch.cuda.is_available())
    torch.use_deterministic_algorithms(mode, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = bool(deterministic)
    threads = threads_override()
    if threads is None and num_threads > 0:
        threads = int(num_threads)
    if threads is not None:
        torch.set_num_threads(threads)


THREADS_ENV = "SCRPN_NUM_THREADS"


def threads_override() -> int | None:
    """``$SCRPN_NUM_THREADS`` when set: it wins over every config's ``train.num_threads``.

    A speed setting like the thread count itself (outside the run fingerprint). It lets two
    processes share the machine without oversubscribing its cores, e.g. the test suite's two
    pytest-xdist workers (``tests/conftest.py`` sets it to 1 per worker).
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${THREADS_ENV}={value!r}: expected a positive number of threads")
    return int(value)


def make_generator(seed: int, purpose: int = 1) -> torch.Generator:
    """A CPU ``torch.Generator`` for one purpose (1 = the model's sampling), seeded from ``seed``."""
    return torch.Generator().manual_seed(derive_seed(seed, purpose))


def epoch_permutation(num_samples: int, seed: int, epoch: int) -> list[int]:
    """The order in which epoch ``epoch`` visits the ``num_samples`` training samples.

    Purpose tag 2 separates this stream from the model's generator (tag 1).
    """
    generator = torch.Generator().manual_seed(derive_seed(seed, 2, epoch))
    return torch.randperm(num_samples, generator=generator).tolist()


def capture_rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every RNG state of this process as tensors / plain containers (``weights_only``-safe)."""
    version, py_state, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": int(version), "state": list(py_state), "gauss": gauss},
        "numpy": {"name": str(np_name), "keys": [int(k) for k in np_keys], "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def restore_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], np.asarray(npy["keys"], dtype=np.uint32), npy["pos"],
                         npy["has_gauss"], npy["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
