"""The learning-rate schedule of the paper (Section IV-A) as pure functions of the iteration.

The recipe is mmdetection's 1x schedule: SGD at ``lr = base_lr * batch_size / base_batch_size``
(the linear scaling rule; the paper trains at 0.005 with a total batch of 4), a linear warm-up over
the first ``warmup_iters`` iterations in which the factor grows from ``warmup_ratio`` to 1, and a
step decay by ``lr_gamma`` at each of ``lr_steps``.

The steps are counted in epochs when ``train.by_epoch`` (the paper: 12 epochs, steps [8, 11] mean
"divide by 10 after 8 and after 11 epochs", i.e. from the first iteration of epoch index 8 on) and
in iterations otherwise. mmdetection applies the warm-up factor on top of the stepped rate, and so
do we. Nothing here keeps state: a resumed run recomputes the rate of iteration ``k`` from ``k``
alone, so no scheduler state has to be checkpointed.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

from scrpn.config import TrainConfig

__all__ = ["iters_per_epoch", "lr_at", "scaled_lr", "set_lr", "total_iters", "warmup_factor"]


def scaled_lr(cfg_train: TrainConfig) -> float:
    """The linearly scaled peak learning rate for the configured batch size."""
    return cfg_train.base_lr * cfg_train.batch_size / cfg_train.base_batch_size


def iters_per_epoch(num_samples: int, batch_size: int) -> int:
    """Batches in one pass over the data; the last, smaller batch is kept (nothing is dropped)."""
    if num_samples <= 0:
        raise ValueError("the training set is empty")
    return math.ceil(num_samples / batch_size)


def total_iters(cfg_train: TrainConfig, epoch_iters: int) -> int:
    """Length of the run in iterations: ``max_epochs`` epochs or ``max_iters`` iterations."""
    return cfg_train.max_epochs * epoch_iters if cfg_train.by_epoch else cfg_train.max_iters


def warmup_factor(iteration: int, warmup_iters: int, warmup_ratio: float) -> float:
    """mmdetection's linear warm-up: ``warmup_ratio`` at iteration 0, rising to 1 at ``warmup_iters``."""
    if iteration >= warmup_iters:
        return 1.0
    return warmup_ratio + (1.0 - warmup_ratio) * iteration / warmup_iters


def _num_decays(position: int, steps: Iterable[int]) -> int:
    return sum(1 for step in steps if position >= step)


def lr_at(iteration: int, cfg_train: TrainConfig, epoch_iters: int) -> float:
    """Learning rate of the 0-based ``iteration`` (the one about to run).

    Args:
        iteration: number of iterations already done.
        cfg_train: the ``train`` section of the config.
        epoch_iters: iterations per epoch (used only when ``cfg_train.by_epoch``).
    """
    if iteration < 0:
        raise ValueError(f"iteration must be >= 0, got {iteration}")
    position = iteration // epoch_iters if cfg_train.by_epoch else iteration
    stepped = scaled_lr(cfg_train) * cfg_train.lr_gamma ** _num_decays(position, cfg_train.lr_steps)
    return stepped * warmup_factor(iteration, cfg_train.warmup_iters, cfg_train.warmup_ratio)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Write ``lr`` into every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
