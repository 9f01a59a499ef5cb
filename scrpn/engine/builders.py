"""From a :class:`~scrpn.config.Config` to the objects a run needs: datasets, loaders, optimizer.

Design choices:

* The training order is a pure function of ``(seed, epoch)`` (:func:`scrpn.engine.seeding.
  epoch_permutation`), served by :class:`EpochSampler` starting at any batch of the epoch. A run
  resumed at iteration ``k`` in the middle of an epoch therefore visits exactly the batches an
  uninterrupted run would have visited, without re-drawing or replaying anything.
* A fresh ``DataLoader`` is built for each epoch after ``dataset.set_epoch(epoch)`` (the flip
  decisions depend on the epoch), so worker processes always copy the up-to-date dataset.
* The last, smaller batch of an epoch is kept (``drop_last=False``): every image is seen each epoch.
* SGD follows mmdetection's 1x recipe: one parameter group, weight decay on every trainable
  parameter, frozen parameters (``requires_grad=False``) left out.
"""
from __future__ import annotations

import functools
from typing import Any, Iterator, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from scrpn.config import Config, TrainConfig
from scrpn.data.collate import collate_batch
from scrpn.engine.schedule import scaled_lr
from scrpn.engine.distributed import seed_worker, shard_epoch_order
from scrpn.engine.seeding import derive_seed, epoch_permutation

__all__ = [
    "EpochSampler",
    "build_eval_dataset",
    "build_optimizer",
    "build_train_dataset",
    "build_val_dataset",
    "dataset_kwargs",
    "first_n",
    "make_train_loader",
    "make_val_loader",
]


class EpochSampler(Sampler[int]):
    """Indices of one epoch's permutation (rank ``rank``'s shard), after the first ``skip``."""

    def __init__(self, num_samples: int, seed: int, epoch: int, skip: int = 0, rank: int = 0,
                 world_size: int = 1, batch_size: int = 1) -> None:
        order = epoch_permutation(num_samples, seed, epoch)
        self.order = shard_epoch_order(order, rank, world_size, batch_size)[skip:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def _collate_fn(size_divisor: int) -> functools.partial:
    # A partial of a module-level function pickles for worker processes; a lambda would not.
    return functools.partial(collate_batch, size_divisor=size_divisor)


def make_train_loader(dataset: Dataset, cfg: Config, epoch: int, skip_batches: int = 0,
                      rank: int = 0, world_size: int = 1) -> DataLoader:
    """The loader of training epoch ``epoch``, skipping its first ``skip_batches`` batches.

    With ``world_size > 1`` it serves rank ``rank``'s shard of the epoch's permutation
    (:func:`scrpn.engine.distributed.shard_epoch_order`); ``cfg.train.batch_size`` is per rank.
    Loader workers are seeded from ``(seed, epoch[, rank])`` through ``seed_worker``.
    """
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    batch_size = cfg.train.batch_size
    sampler = EpochSampler(len(dataset), cfg.train.seed, epoch, skip=skip_batches * batch_size,
                           rank=rank, world_size=world_size, batch_size=batch_size)
    seed_parts = (cfg.train.seed, 3, epoch) + ((rank,) if world_size > 1 else ())
    worker_seed = torch.Generator().manual_seed(derive_seed(*seed_parts))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=False,
                      num_workers=cfg.data.num_workers, collate_fn=_collate_fn(cfg.data.size_divisor),
                      generator=worker_seed, worker_init_fn=seed_worker)


def make_val_loader(dataset: Dataset, cfg: Config, batch_size: int = 1) -> DataLoader:
    """Sequential loader over ``dataset`` (already cut to ``val_limit`` by the caller)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False,
                      num_workers=cfg.data.num_workers, collate_fn=_collate_fn(cfg.data.size_divisor))


def build_optimizer(model: nn.Module, cfg_train: TrainConfig) -> torch.optim.SGD:
    """SGD at the linearly scaled learning rate; the schedule overwrites ``lr`` every iteration."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    return torch.optim.SGD(params, lr=scaled_lr(cfg_train), momentum=cfg_train.momentum,
                           weight_decay=cfg_train.weight_decay)


def dataset_kwargs(cfg: Config, split: str, train: bool) -> dict[str, Any]:
    """Keyword arguments of ``scrpn.data.build_dataset`` for one split of the configured dataset.

    Flipping is on for training only. ``data.root`` is the dataset root for COCO and the cache
    directory otherwise (``None``: the data layer's default). SynthShapes and DeepForest images
    are used at their native size; only COCO is resized to ``data.max_size``.
    """
    data = cfg.data
    kwargs: dict[str, Any] = {"flip_prob": data.flip_prob if train else 0.0}
    if data.dataset == "synthshapes":
        kwargs.update(image_size=data.image_size, num_train=data.num_train, num_val=data.num_val,
                      seed=data.data_seed, cache_dir=data.root)
    elif data.dataset == "coco":
        kwargs.update(max_size=tuple(data.max_size), filter_empty=train, seed=cfg.train.seed)
        if data.root is not None:
            kwargs["root"] = data.root
    elif data.dataset == "deepforest":
        kwargs.update(tile_size=data.image_size, cache_dir=data.root, filter_empty=train,
                      seed=cfg.train.seed)
    return kwargs


def _build(cfg: Config, split: str, train: bool) -> Dataset:
    from scrpn.data import build_dataset  # imported late: the data package is optional for tests
    return build_dataset(cfg.data.dataset, split, **dataset_kwargs(cfg, split, train))


def build_train_dataset(cfg: Config) -> Dataset:
    return _build(cfg, cfg.data.train_split, train=True)


def build_val_dataset(cfg: Config) -> Dataset:
    return _build(cfg, cfg.data.val_split, train=False)


def build_eval_dataset(cfg: Config, which: str = "val") -> Dataset:
    """The ``train`` or ``val`` split of the config, without augmentation (no flip, nothing
    dropped): what the proposals for Fast R-CNN are computed on (``scrpn evaluate --split``)."""
    if which not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {which!r}")
    return _build(cfg, cfg.data.train_split if which == "train" else cfg.data.val_split, train=False)


def first_n(dataset: Dataset, limit: int | None) -> Sequence[int]:
    """Indices of the images to evaluate: all of them, or the first ``limit``."""
    n = len(dataset)
    return range(n if limit is None else min(limit, n))
