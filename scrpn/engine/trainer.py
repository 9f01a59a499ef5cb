"""The training loop: iteration-based SGD with checkpoints that resume bit-exactly.

Design choices:

* Internally everything counts iterations. A run lasts ``max_iters`` iterations, or
  ``max_epochs * iters_per_epoch`` when ``train.by_epoch``; an epoch is one pass of the loader.
  The learning rate of iteration ``k`` is :func:`scrpn.engine.schedule.lr_at` of ``k`` alone.
* Exact resume. The data order is a function of ``(seed, epoch)`` and a resumed run starts its
  epoch's loader after the batches already seen; the model's sampling draws from
  :attr:`Trainer.generator`; the RNG states (torch, the generator, python, numpy) are captured at
  the start of every iteration and stored with the model and optimizer. Resuming at iteration
  ``k`` therefore replays iterations ``k, k+1, ...`` exactly as an uninterrupted run would (on the
  CPU, where kernels are deterministic).
* Bad data met while training (an unreadable image, in the main process or in a loader worker)
  stops the run with ``latest.pth`` saved at the last finished iteration and a one-line
  :class:`~scrpn.data.errors.DataError` naming the file, so that ``--resume`` continues once the
  file is fixed. An empty training set is refused before anything runs.
* Interruption. SIGINT and SIGTERM only raise a flag; the loop finishes the current iteration,
  writes ``latest.pth`` and raises :class:`TrainingInterrupted`. A second signal, or a
  ``KeyboardInterrupt`` where no handler could be installed, stops at once: ``latest.pth`` is then
  written from the last consistent state (unless the weights were being updated at that moment).
* The model receives the generator through ``model.set_generator(generator)`` when it has one.
* Data parallel (``torchrun``, :mod:`scrpn.engine.distributed`): the forward pass goes through
  ``DistributedDataParallel`` (gradients averaged over the ranks), each rank reads its shard of
  the epoch, the schedule and the epoch length use the global batch (``world_size x
  batch_size``), and only rank 0 writes checkpoints and the log (losses averaged over the ranks).
* Provenance (:mod:`scrpn.engine.provenance`): when :meth:`Trainer.train` starts, the process
  records the commit it runs, whether the tree is dirty, the software versions and the settings
  that decide the bits (threads, memory format, deterministic mode, precision) as one *part* of the
  checkpoint's ``provenance`` list; a resumed run keeps the earlier parts and adds its own
  (``tests/test_training_provenance.py``).
* Mixed precision (``train.amp``, CUDA only): forward under ``torch.autocast`` (float16) and a
  ``GradScaler`` (unscaled before gradient clipping), whose state is checkpointed. On the CPU
  the flag is ignored: runs there stay in float32 and bit-exact.
* ``train.precision: bf16`` (issue 37, :mod:`scrpn.engine.precision`): the forward pass under
  bfloat16 autocast, on the CPU (refused where the CPU has no bfloat16 arithmetic) or CUDA; the
  losses, the backward's gradients in the parameters and the SGD step stay float32, no scaler.
"""
from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, Optional

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset
from tqdm import tqdm

from scrpn.config import Config, dump_config
from scrpn.data.errors import DataError, error_line
from scrpn.engine.builders import build_optimizer, make_train_loader
from scrpn.engine.checkpoint import (CHECKPOINT_FORMAT, CheckpointError, check_config_matches,
                                     checkpoint_count, checkpoint_seconds, load_checkpoint,
                                     remove_stale_temporaries, save_checkpoint)
from scrpn.engine.distributed import dist_info, mean_over_ranks
from scrpn.engine.logging import JsonlLogger, format_losses
from scrpn.engine.memory_format import images_in, set_model_format
from scrpn.engine.provenance import training_part
from scrpn.engine.precision import autocast as precision_autocast, check_precision
from scrpn.engine.schedule import iters_per_epoch, lr_at, set_lr, total_iters
from scrpn.engine.seeding import capture_rng_state, make_generator, restore_rng_state

__all__ = ["RESUME_IGNORED_KEYS", "TrainResult", "Trainer", "TrainingError", "TrainingInterrupted",
           "new_trainer"]

# Settings that may change between an interrupted run and its resumption without changing the
# result: how often to log / checkpoint, threads, and the run length (the schedule does not depend
# on it, so a finished run can be extended). Evaluation settings are not compared at all.
RESUME_IGNORED_KEYS = ("train.log_interval", "train.checkpoint_interval", "train.num_threads",
                       "train.memory_format", "train.cpu_deterministic_kernels",
                       "train.max_iters", "train.max_epochs", "data.num_workers", "data.val_limit",
                       "data.root")


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message names the iteration."""


class TrainingInterrupted(Exception):
    """Raised after a SIGINT/SIGTERM once ``latest.pth`` has been written."""

    def __init__(self, iteration: int, checkpoint: Optional[Path], signum: int) -> None:
        self.iteration, self.checkpoint, self.signum = iteration, checkpoint, signum
        where = f"saved {checkpoint}" if checkpoint else "weights were being updated, nothing saved"
        super().__init__(f"interrupted by {signal.Signals(signum).name} at iteration {iteration}: "
                         f"{where}; continue with --resume")


@dataclass
class TrainResult:
    iterations: int
    train_seconds: float
    checkpoint: Path


class _SignalFlag:
    """Context manager turning the first SIGINT/SIGTERM into a flag; a second one interrupts."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> "_SignalFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _grad_scaler(enabled: bool) -> Any:
    """A CUDA ``GradScaler`` (inactive unless ``enabled``); torch < 2.3 has it in ``torch.cuda.amp``."""
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda", enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def _loss_values(losses: dict[str, Tensor], total: Tensor) -> dict[str, float]:
    """The losses and their sum (``loss``) as floats, averaged over the ranks when distributed."""
    stacked = mean_over_ranks(torch.stack([v.detach() for v in [*losses.values(), total]]))
    values = dict(zip([*losses, "loss"], stacked.tolist()))
    return values


def gradient_diagnostics(params: list[Tensor], grad_clip: Optional[float]) -> dict[str, float]:
    """Clip the gradients when ``grad_clip`` is set, and say what the norm was before.

    Returns ``grad_norm`` (the total 2-norm before clipping) and, with clipping, ``clip_fired``
    (1.0 when the norm exceeded ``grad_clip``; its mean over a log window is how often it fired).
    The clipping itself is ``clip_grad_norm_``'s, unchanged; without clipping the norm is only
    read.
    """
    if grad_clip is not None:
        norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
        return {"grad_norm": norm, "clip_fired": float(norm > grad_clip)}
    grads = [p.grad.detach() for p in params if p.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))\
        if grads else 0.0
    return {"grad_norm": norm}


def _targets_to(targets: list[dict[str, Any]], device: torch.device) -> list[dict[str, Any]]:
    return [{k: v.to(device) if isinstance(v, Tensor) else v for k, v in t.items()}
            for t in targets]


class Trainer:
    """Trains ``model`` on ``train_dataset`` as configured by ``cfg.train``, in ``run_dir``.

    The caller seeds the process (:func:`scrpn.engine.seeding.seed_everything`) before building
    the model so that its initial weights are reproducible; call :meth:`resume` before
    :meth:`train` to continue from ``run_dir/latest.pth``.
    """

    def __init__(self, cfg: Config, model: nn.Module, train_dataset: Dataset, run_dir: str | Path,
                 device: str | torch.device = "cpu", progress: bool = True) -> None:
        if len(train_dataset) == 0:
            source = getattr(train_dataset, "ann_file", "the training set")
            raise DataError(f"{source}: the training split has no images left to train on "
                            "(images without annotations are dropped for training)")
        self.cfg = cfg
        self.device = torch.device(device)
        self.model = set_model_format(model.to(self.device), cfg.train.memory_format)
        self.dist = dist_info()
        self.net = self._wrap(self.model)  # the forward pass goes through DDP when distributed
        self.dataset = train_dataset
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.generator = make_generator(cfg.train.seed)
        if hasattr(model, "set_generator"):
            model.set_generator(self.generator)
        # The schedule sees the global batch: linear lr scaling and epoch length.
        self.schedule_cfg = replace(cfg.train, batch_size=cfg.train.batch_size * self.dist.world_size)
        self.optimizer = build_optimizer(self.model, self.schedule_cfg)
        self.epoch_iters = iters_per_epoch(len(train_dataset), self.schedule_cfg.batch_size)
        self.max_iters = total_iters(cfg.train, self.epoch_iters)
        check_precision(cfg.train.precision, self.device)
        self.amp = bool(cfg.train.amp) and self.device.type == "cuda"
        self.scaler = _grad_scaler(self.amp)
        self.iteration = 0
        # wall and CPU seconds of the training steps so far, over every process that trained this
        # run (resumes included); CPU is None after resuming a checkpoint that predates its count
        self.train_seconds = 0.0
        self.train_cpu_seconds: Optional[float] = 0.0
        self.resumed = False
        # one entry per process that trained a part of this run (scrpn.engine.provenance)
        self.provenance: list[dict[str, Any]] = []
        self.logger = JsonlLogger(self.run_dir / "log.jsonl")
        self._rng_state = capture_rng_state(self.generator)
        self._stepping = False

    def _wrap(self, model: nn.Module) -> nn.Module:
        """``DistributedDataParallel`` around ``model`` when distributed, else ``model`` itself.

        ``find_unused_parameters``: some heads leave branches out of the loss (e.g. a stage
        without classification), whose parameters then get no gradient in an iteration.
        """
        if not self.dist.enabled:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids,
                                                   find_unused_parameters=True)

    @property
    def epoch(self) -> int:
        """The epoch the next iteration belongs to."""
        return self.iteration // self.epoch_iters

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue after the iterations done so far."""
        return {"format": CHECKPOINT_FORMAT, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "iteration": self.iteration,
                "epoch": self.epoch, "rng": self._rng_state, "config": self.cfg.to_dict(),
                "train_seconds": self.train_seconds, "train_cpu_seconds": self.train_cpu_seconds,
                "provenance": [dict(part) for part in self.provenance],
                **({"scaler": self.scaler.state_dict()} if self.amp else {})}

    def save(self, *names: str) -> Path:
        """Write the current state under each of ``names`` in the run directory; return the last.

        Only rank 0 writes (the weights are the same on every rank); the others return the path.
        """
        if not self.dist.is_main:
            return self.run_dir / names[-1]
        state = self.state_dict()
        path = self.run_dir
        for name in names:
            path = save_checkpoint(self.run_dir / name, state)
        return path

    def resume(self, path: str | Path | None = None) -> None:
        """Load model, optimizer, iteration and RNG states from ``path`` (default latest.pth)."""
        path = Path(path) if path is not None else self.run_dir / "latest.pth"
        state = load_checkpoint(path)
        check_config_matches(path, state["config"], self.cfg.to_dict(),
                             sections=("name", "data", "model", "train"), ignore=RESUME_IGNORED_KEYS)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.amp and "scaler" in state:
                self.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise CheckpointError(f"{path}: does not fit the model: {reason}") from exc
        self.iteration = checkpoint_count(state, "iteration", path)
        if self.iteration > self.max_iters:  # before config.yaml or the log are touched
            key = "train.max_epochs" if self.cfg.train.by_epoch else "train.max_iters"
            raise CheckpointError(f"{path}: the run is at iteration {self.iteration}, past the "
                                  f"{self.max_iters} iterations that '{key}' now asks for: raise "
                                  "it to continue the run, or start a new one with --out "
                                  "(nothing was changed)")
        self.train_seconds = checkpoint_seconds(state, "train_seconds", path, default=0.0)
        self.train_cpu_seconds = checkpoint_seconds(state, "train_cpu_seconds", path, default=None)
        self._rng_state = state.get("rng")
        parts = state.get("provenance")
        if isinstance(parts, list) and parts:
            if not all(isinstance(part, dict) for part in parts):
                raise CheckpointError(f"{path}: 'provenance' must be a list of mappings")
            self.provenance = [dict(part) for part in parts]
        elif self.iteration > 0:  # a checkpoint written before provenance: an unknown first part
            self.provenance = [{"from_iteration": 0, "commit": None, "dirty": None}]
        try:
            restore_rng_state(self._rng_state, self.generator)
        except (TypeError, ValueError, KeyError, IndexError, RuntimeError, AttributeError) as exc:
            raise CheckpointError(f"{path}: 'rng' is not a valid random-number state "
                                  f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                                  ) from None
        self.resumed = True

    # ------------------------------------------------------------------ the loop
    def train(self) -> TrainResult:
        """Train up to ``max_iters``; write ``latest.pth`` and ``final.pth``; return a summary."""
        self._prepare_run_dir()
        if self.iteration < self.max_iters:  # this process trains a part: record what it runs
            self.provenance.append(training_part(self.cfg.train, self.iteration, device=self.device.type,
                                                 world_size=self.dist.world_size))
        bar = tqdm(total=self.max_iters, initial=self.iteration, desc=self.cfg.name,
                   disable=not (self.progress and self.dist.is_main), dynamic_ncols=True)
        try:
            with _SignalFlag() as flag:
                while self.iteration < self.max_iters:
                    self._run_epoch(flag, bar)
        except KeyboardInterrupt:
            self._on_hard_interrupt()
        except DataError as exc:
            raise self._on_data_error(exc) from exc
        finally:
            bar.close()
        path = self.save("latest.pth", "final.pth")
        return TrainResult(self.iteration, self.train_seconds, path)

    def _prepare_run_dir(self) -> None:
        if not self.dist.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.run_dir)  # left by a run killed while writing a checkpoint
        latest = self.run_dir / "latest.pth"
        if not self.resumed:
            if latest.exists():
                raise CheckpointError(f"{latest}: the run directory already holds a checkpoint; "
                                      "pass --resume to continue it or --out to start elsewhere")
            self.logger.path.unlink(missing_ok=True)
        else:
            self.logger.truncate_after(self.iteration)
        dump_config(self.cfg, self.run_dir / "config.yaml")

    def _run_epoch(self, flag: _SignalFlag, bar: tqdm) -> None:
        """Run the rest of the current epoch (or until ``max_iters``)."""
        epoch, done = divmod(self.iteration, self.epoch_iters)
        loader = make_train_loader(self.dataset, self.cfg, epoch, skip_batches=done,
                                   rank=self.dist.rank, world_size=self.dist.world_size)
        window: dict[str, list[float]] = {}
        tick, cpu_tick = time.perf_counter(), time.process_time()
        for images, targets in loader:
            losses = self._step(images, targets)
            now, cpu_now = time.perf_counter(), time.process_time()
            self.train_seconds += now - tick
            if self.train_cpu_seconds is not None:
                self.train_cpu_seconds += cpu_now - cpu_tick
            cpu_tick = cpu_now
            for key, value in {**losses, "sec_per_iter": now - tick}.items():
                window.setdefault(key, []).append(value)
            tick = now
            bar.update(1)
            bar.set_postfix(format_losses(losses), refresh=False)
            if self.iteration % self.cfg.train.log_interval == 0 or self.iteration == self.max_iters:
                self._log(window)
                window = {}
            self._after_iteration(flag)
            if self.iteration >= self.max_iters:
                break

    def _step(self, images: Tensor, targets: list[dict[str, Any]]) -> dict[str, float]:
        """One SGD iteration; returns the losses as floats (``loss`` = their sum)."""
        set_lr(self.optimizer, lr_at(self.iteration, self.schedule_cfg, self.epoch_iters))
        self.model.train()
        autocast = (torch.autocast(device_type=self.device.type, dtype=torch.float16)
                    if self.amp else precision_autocast(self.cfg.train.precision, self.device))
        with autocast:
            outputs = self.net(images_in(images.to(self.device), self.cfg.train.memory_format),
                               _targets_to(targets, self.device))
        losses = {k: v.float() for k, v in outputs.items() if k.startswith("loss")}
        total = sum(losses.values())
        values = _loss_values(losses, total)  # averaged over the ranks: they all agree below
        if not math.isfinite(values["loss"]):
            bad = {k: v for k, v in values.items() if k != "loss"}
            raise TrainingError(f"iteration {self.iteration}: the loss is not finite: {bad}")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)  # the true gradients (no-op without AMP)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        diagnostics = self.model.diagnostics() if hasattr(self.model, "diagnostics") else {}
        diagnostics.update(gradient_diagnostics(params, self.cfg.train.grad_clip))
        self._stepping = True  # from here until the RNG capture the state is not consistent
        self.scaler.step(self.optimizer)  # optimizer.step() without AMP
        self.scaler.update()
        self.iteration += 1
        self._rng_state = capture_rng_state(self.generator)  # what a resume at this point restores
        self._stepping = False
        return {**values, **diagnostics}

    def _log(self, window: dict[str, list[float]]) -> None:
        if not self.dist.is_main:
            return
        record: dict[str, Any] = {"type": "train", "iter": self.iteration,
                                  "epoch": (self.iteration - 1) // self.epoch_iters,
                                  "lr": self.optimizer.param_groups[0]["lr"]}
        record.update({k: sum(v) / len(v) for k, v in window.items()})
        self.logger.log(record)

    def _after_iteration(self, flag: _SignalFlag) -> None:
        interval = self.cfg.train.checkpoint_interval
        if interval and self.iteration % interval == 0 and self.iteration < self.max_iters:
            self.save("latest.pth")
        if flag.signum is not None:
            raise TrainingInterrupted(self.iteration, self.save("latest.pth"), flag.signum)

    def _on_data_error(self, exc: DataError) -> DataError:
        """Bad input met mid-run: save the last finished iteration, then say how to go on."""
        path = self.save("latest.pth")  # the loader raises between steps: the state is consistent
        return DataError(f"{error_line(exc)} (training stopped at iteration {self.iteration}: "
                         f"saved {path}; fix the input and continue with --resume)")

    def _on_hard_interrupt(self) -> None:
        """A ``KeyboardInterrupt`` in the middle of an iteration: save the last consistent state."""
        if self._stepping:
            raise TrainingInterrupted(self.iteration, None, signal.SIGINT)
        raise TrainingInterrupted(self.iteration, self.save("latest.pth"), signal.SIGINT)


def new_trainer(cfg: Config, run_dir: str | Path, device: str | torch.device = "cpu",
                progress: bool = True) -> Trainer:
    """A trainer for ``cfg`` with a freshly initialised model: threads configured, training data
    built, then the process seeded right before the model's initial weights (so that they depend
    on ``train.seed`` only). ``scrpn train`` and the study (``scrpn.study``) both start runs here."""
    from scrpn.engine.builders import build_train_dataset
    from scrpn.engine.seeding import configure_torch, seed_everything
    from scrpn.build import build_model  # late: the model classes are not needed to train

    configure_torch(cfg.train.deterministic, cfg.train.num_threads, cfg.train.cpu_deterministic_kernels)
    train_set = build_train_dataset(cfg)
    seed_everything(cfg.train.seed)
    model = build_model(cfg)
    return Trainer(cfg, model, train_set, run_dir, device=device, progress=progress)
