"""Data-parallel training on PyTorch's own engine (``torchrun`` + ``DistributedDataParallel``).

``torchrun --nproc_per_node=N -m scrpn train --config ...`` starts N processes with the
environment variables ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR`` /
``MASTER_PORT``);
:func:`init_distributed` reads them and joins the process group: NCCL when the run is on CUDA
(one GPU per process, ``cuda:LOCAL_RANK``), gloo on the CPU. Without those variables (or with
``WORLD_SIZE=1``) nothing is initialised and every helper here is a no-op, so a plain
``scrpn train`` is exactly the single-process program.

Design choices:

* ``train.batch_size`` is the batch of ONE process. The global batch is ``world_size x
  batch_size``; the learning rate is scaled linearly on the global batch, and an epoch has
  ``ceil(num_images / global_batch)`` iterations.
* Sharding keeps the single-process data order. Global batch ``k`` of an epoch is the ``k``-th
  slice of ``world_size x batch_size`` indices of the deterministic ``(seed, epoch)`` permutation,
  and rank ``r`` takes the ``r``-th block of ``batch_size`` indices of it
  (:func:`shard_epoch_order`). With gradients averaged by DDP, N processes at batch ``b`` then
  take the same steps as one process at batch ``N x b`` (up to float rounding), which
  ``tests/test_distributed.py`` checks. The last, incomplete global batch is split evenly over
  the ranks, padded with the epoch's first indices where it does not divide (as
  ``DistributedSampler`` pads), so that every rank runs the same number of iterations.
* Only rank 0 writes: checkpoints, ``log.jsonl``, ``config.yaml``, ``metrics.json`` and stdout.
  The losses it logs are averaged over the ranks (:func:`mean_over_ranks`).
* Evaluation is sharded too: rank ``r`` runs images ``r, r + N, ...`` and rank 0 gathers every
  rank's proposals (``torch.distributed.gather_object``) and computes AR on all of them.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["DistInfo", "all_gather_cat", "cleanup_distributed", "dist_info", "env_world_size",
           "gather_to_main", "init_distributed", "mean_over_ranks", "seed_worker",
           "shard_epoch_order"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the job (``world_size == 1``: not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world_size() -> int:
    """``WORLD_SIZE`` as set by ``torchrun`` (1 when unset)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def dist_info() -> DistInfo:
    """The current process group's rank and size (local rank from ``LOCAL_RANK``)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def init_distributed(device: str) -> tuple[DistInfo, str]:
    """Join the process group described by torchrun's environment; return (info, device).

    The backend is NCCL when ``device`` is CUDA (the process then uses ``cuda:LOCAL_RANK``),
    gloo otherwise. Without ``WORLD_SIZE > 1`` nothing happens and ``device`` is returned as is.
    """
    if env_world_size() <= 1:
        return DistInfo(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    on_cuda = torch.device(device).type == "cuda"
    if on_cuda:
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if on_cuda else "gloo", init_method="env://")
    return dist_info(), device


def cleanup_distributed() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_epoch_order(order: Sequence[int], rank: int, world_size: int,
                      batch_size: int) -> list[int]:
    """Rank ``rank``'s share of one epoch's ``order``, batch by batch (see the module docstring).

    The result holds ``batch_size`` indices per full global batch and ``ceil(m / world_size)``
    for a last global batch of ``m`` indices (padded from the start of ``order``).
    """
    order = list(order)
    if world_size == 1:
        return order
    global_batch = world_size * batch_size
    shard: list[int] = []
    for start in range(0, len(order), global_batch):
        block = order[start:start + global_batch]
        per_rank = -(-len(block) // world_size)
        padded = block + order[:per_rank * world_size - len(block)]
        shard.extend(padded[rank * per_rank:(rank + 1) * per_rank])
    return shard


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed python and numpy in a loader worker from its torch seed.

    The ``DataLoader`` gives worker ``i`` the torch seed ``base + i``, with ``base`` drawn from the
    loader's generator (seeded from ``(seed, epoch, rank)``), so every worker's streams are fixed.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def mean_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """Average a (detached) tensor over the ranks; identity when not distributed."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    reduced = values.detach().clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / dist.get_world_size()


def gather_to_main(obj: Any) -> Optional[list[Any]]:
    """Every rank's ``obj`` as a list on rank 0 (``None`` on the others); ``[obj]`` alone."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    gathered: Optional[list[Any]] = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def all_gather_cat(items: list[Any]) -> list[Any]:
    """Concatenation of every rank's list, on every rank (rank order)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(items)
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in part]
