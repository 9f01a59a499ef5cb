"""The ``scrpn`` command line: ``train``, ``evaluate``, ``data stats`` and ``bench``.

Every subcommand is one small ``_add_<name>`` function (its arguments) plus one ``cmd_<name>``
function (what it does), so that new subcommands slot in without touching the others.

Conventions:

* Commands that compute metrics print a readable line and then, as the very last line of
  stdout, one JSON object with the metrics (NaN written as ``null``) for scripts to parse.
  Progress bars and notes go to stderr.
* A problem with the user's input (config, data, checkpoint, proposals file, weights, output
  folder) prints one line ``scrpn: error: ...`` to stderr and exits with code 2, without a
  traceback; when training had started, ``latest.pth`` is saved first (``--resume`` continues
  once the input is fixed). An interrupted training run exits with 128 + the signal number after
  saving ``latest.pth``. ``scrpn train`` prints what the loaders skipped before it trains.
  ``docs/bad-input.md`` lists each class of bad input and what the tool does with it.
* Outputs: every file is written atomically (:mod:`scrpn.outputs`; a full disk is one line and
  leaves the previous file); ``scrpn train`` and ``scrpn evaluate --out`` hold a lock on their
  folder (a second process there is refused with the first one's pid); ``evaluate --out`` never
  writes into a training run's folder and replaces an earlier evaluation only with
  ``--overwrite``; ``train --study`` never replaces the study's ``metrics.json``. Ctrl-C or
  SIGTERM outside the training loop, in any command and from start-up on (the handler is
  installed before torch is imported, :mod:`scrpn.interrupts`), prints one line saying what was
  and was not written and exits with 128 + the signal (``tests/test_bad_input_eval.py``).
* A config key given twice on the command line (two ``--set`` items, or ``--set`` and the
  option that sets it) is a usage error naming both values (:func:`check_repeated_keys`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from scrpn.config import (Config, ConfigError, Provenance, config_from_dict, load_config,
                          overrides_with_sources)
from scrpn.data.errors import DataError, error_line
from scrpn.engine.builders import build_eval_dataset, build_train_dataset, build_val_dataset
from scrpn.engine.checkpoint import (CheckpointError, check_config_matches, check_finite_weights,
                                     load_checkpoint, remove_stale_temporaries)
from scrpn.engine.distributed import cleanup_distributed, init_distributed
from scrpn.engine.evaluator import check_evaluable, evaluate_model, write_metrics
from scrpn.engine.memory_estimate import check_batch_fits, check_inference_fits
from scrpn.engine.seeding import configure_torch
from scrpn.engine.trainer import TrainingError, TrainingInterrupted, new_trainer
from scrpn.evaluation import (EvaluationError, evaluate_proposals_file, format_metrics,
                              json_safe_metrics)
from scrpn.inputs import input_problem
from scrpn.interrupts import Interrupted, raise_on_sigterm, signal_of
from scrpn.models.weights import WeightsError
from scrpn.outputs import (LockedError, RunLock, WriteError, atomic_write, atomic_write_text,
                           written_files)
from scrpn.pyramid import MINI_ANCHOR_SCALE, level_base_scale

__all__ = ["Interrupted", "UsageError", "build_parser", "default_run_dir", "main"]


class UsageError(ValueError):
    """Arguments that argparse cannot reject by itself (e.g. an incomplete combination)."""


USER_ERRORS = (ConfigError, DataError, CheckpointError, EvaluationError, UsageError, WeightsError,
               WriteError, LockedError)
# a folder holding any of these is a training run's: `evaluate --out` never writes into it
TRAINING_RUN_FILES = ("latest.pth", "final.pth", "log.jsonl")
# what `evaluate --out` writes; an earlier evaluation's are replaced only with --overwrite
EVALUATION_OUTPUTS = ("metrics.json", "proposals.json")


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(name: str) -> str:
    """``--device``: a torch device this machine has (``cpu``, or ``cuda[:i]`` with that GPU);
    anything else is a ``UsageError`` before any work, not a traceback at the first tensor."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise UsageError(f"--device {name}: not a torch device (expected cpu, cuda or cuda:N)"
                         ) from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: no CUDA GPU is available on this machine "
                             "(use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: this machine has {torch.cuda.device_count()} "
                             "CUDA GPU(s)")
    elif device.type != "cpu":
        raise UsageError(f"--device {name}: scrpn runs on cpu or cuda, not {device.type}")
    return name


def default_run_dir(cfg: Config) -> Path:
    """``work_dirs/<config name>/seed<seed>``."""
    return Path("work_dirs") / cfg.name / f"seed{cfg.train.seed}"


def load_cli_config(path: str, overrides: Sequence[str], seed: Optional[int] = None) -> Config:
    """``load_config`` with the ``--set`` items, and ``--seed`` applied last."""
    items = list(overrides)
    if seed is not None:
        items.append(f"train.seed={seed}")
    return load_config(path, items)


def _set_key(item: str) -> Optional[str]:
    """The dotted key of a ``--set KEY=VALUE`` item (None without '=': the config says so)."""
    return item.split("=", 1)[0].strip() if "=" in item else None


def _overlap(key: str, other: str) -> bool:
    """The same key, or one inside the other (``train`` and ``train.max_iters``)."""
    return key == other or key.startswith(other + ".") or other.startswith(key + ".")


# options that set a config key besides --set, per command (the value None: not given)
FLAG_KEYS = {"train": (("--seed", "seed", "train.seed"),),
             "data": (("--dataset", "dataset", "data.dataset"),),
             "config": (("--seed", "seed", "train.seed"),)}


def check_repeated_keys(args: argparse.Namespace) -> None:
    """One value per config key on the command line: a key given by two ``--set`` items (or by
    ``--set`` and an option that sets it, ``--seed`` for ``train.seed``) used to keep the last
    value without a word; it is a ``UsageError`` naming the key and both values, before any
    work. A key and a key inside it (``train={...}`` and ``train.max_iters=5``) overlap the same
    way: the later item would replace part or all of the earlier one. Every command that takes
    ``--set`` is checked (``tests/test_bad_input_cli.py``)."""
    given: list[tuple[str, str]] = []  # (key, how it was given)
    for item in getattr(args, "set", None) or []:
        key = _set_key(item)
        if key is not None:
            given.append((key, f"--set {item}"))
    for flag, attr, key in FLAG_KEYS.get(getattr(args, "command", None), ()):
        value = getattr(args, attr, None)
        if value is not None:
            given.append((key, f"{flag} {value}"))
    for i, (key, first) in enumerate(given):
        for other, second in given[i + 1:]:
            if key == other:
                raise UsageError(f"'{key}' is given twice on the command line ({first} and "
                                 f"{second}): give each config key once")
            if _overlap(key, other):
                outer, inner = (key, other) if other.startswith(key + ".") else (other, key)
                raise UsageError(f"'{outer}' and '{inner}' overlap on the command line ({first} "
                                 f"and {second}: the later would replace part of the earlier): "
                                 "give each config key once")


def writable_dir(path: Path) -> Path:
    """Create ``path`` if needed and check that a file can be written there; a read-only folder
    or a path through a file raises ``UsageError`` naming it (before any work is done)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the output directory "
                         f"({exc.strerror or type(exc).__name__})") from exc
    return path


def check_fresh_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse to start a run over another one: ``latest.pth`` needs ``--resume``, and a finished
    run (``final.pth`` or ``metrics.json``) without ``latest.pth`` cannot be resumed either."""
    latest = run_dir / "latest.pth"
    problem = input_problem(latest)
    if problem not in (None, "not found"):   # a folder or a FIFO there is named, not "no checkpoint"
        raise CheckpointError(f"{latest}: checkpoint {problem}")
    if resume and not latest.is_file():
        raise CheckpointError(f"{latest}: no checkpoint to resume from "
                              "(run without --resume to start the run)")
    if not resume and latest.is_file():
        raise CheckpointError(f"{latest}: the run directory already holds a checkpoint; "
                              "pass --resume to continue it or --out to start elsewhere")
    finished = [name for name in ("final.pth", "metrics.json") if (run_dir / name).is_file()]
    if not resume and finished:
        raise CheckpointError(f"{run_dir}: holds {' and '.join(finished)} of an earlier run; "
                              "pass --out to start elsewhere (nothing was overwritten)")


def check_evaluation_out(out: Path, overwrite: bool) -> None:
    """``evaluate --out``: never into a training run's folder (its metrics.json and
    proposals.json are that run's results); an earlier evaluation's outputs only with
    ``--overwrite``. Checked before the model runs; nothing is written when refused."""
    training = [name for name in TRAINING_RUN_FILES if (out / name).is_file()]
    if training:
        raise UsageError(f"{out}: is a training run's folder (holds {', '.join(training)}); "
                         "evaluate writes to a folder of its own: pass another --out "
                         "(nothing was written)")
    earlier = [name for name in EVALUATION_OUTPUTS if (out / name).is_file()]
    if earlier and not overwrite:
        raise UsageError(f"{out}: already holds {' and '.join(earlier)} of an earlier "
                         "evaluation; pass --overwrite to replace them or another --out "
                         "(nothing was written)")


def study_target(cfg: Config, study_root: Path) -> Path:
    """``<study_root>/<name>/seed<seed>``: where ``train --study`` copies the run's results."""
    return study_root / cfg.name / f"seed{cfg.train.seed}"


def check_study_target(target: Path) -> None:
    """``train --study`` never replaces the metrics of an earlier run (refused before training,
    and again before the copy)."""
    if (target / "metrics.json").is_file():
        raise UsageError(f"{target / 'metrics.json'}: holds the metrics of an earlier run, which "
                         "--study never replaces; move it away or pass another --study-dir "
                         "(nothing was overwritten)")


def print_metrics(metrics: dict[str, Any]) -> None:
    """A readable line, then the metrics as one JSON object (the last line of stdout)."""
    print(format_metrics(metrics, digits=2))
    print(json.dumps(json_safe_metrics(metrics)), flush=True)


def copy_to_study(run_dir: Path, cfg: Config, study_root: Path) -> Path:
    """Copy ``log.jsonl`` and then ``metrics.json`` (atomically) to
    ``<study_root>/<name>/seed<seed>/``; an existing ``metrics.json`` there is never replaced."""
    target = study_target(cfg, study_root)
    check_study_target(target)
    for name in ("log.jsonl", "metrics.json"):
        if (run_dir / name).is_file():
            data = (run_dir / name).read_bytes()
            atomic_write(target / name, lambda stream, data=data: stream.write(data))
    return target


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="override config values, e.g. --set train.max_iters=50 "
                             "model.head.iou_mask.enabled=false (values parsed as YAML)")
    parser.add_argument("--device", default=default_device(),
                        help="torch device (default: cuda if available, else cpu)")


# ----------------------------------------------------------------------------------------------
# scrpn train
# ----------------------------------------------------------------------------------------------

def _add_train(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="train a proposal network, then evaluate it",
                              description="Train on the config's training split, evaluate on its "
                                          "validation split and print the metrics (last line: JSON).")
    p.add_argument("--config", required=True, help="YAML config file")
    p.add_argument("--out", help="run directory (default: work_dirs/<config name>/seed<seed>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its latest.pth")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--study", action="store_true",
                   help="also copy metrics.json and log.jsonl to <study-dir>/<name>/seed<seed>/")
    p.add_argument("--study-dir", default="results/runs", help="root of the study's results")
    p.add_argument("--dump-proposals", action="store_true",
                   help="write the validation proposals to <out>/proposals.json")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_common(p)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    """``scrpn train``; under ``torchrun`` each process joins the process group first (NCCL on
    CUDA, gloo on the CPU) and only rank 0 writes the run directory and prints the metrics."""
    check_device(args.device)
    info, args.device = init_distributed(args.device)
    try:
        return _train(args, is_main=info.is_main)
    finally:
        cleanup_distributed()


def _train(args: argparse.Namespace, is_main: bool = True) -> int:
    """Rank 0 holds the run folder's lock (:class:`scrpn.outputs.RunLock`) for the whole run: a
    second ``scrpn train`` on the same ``--out`` is refused with the first one's pid."""
    cfg = load_cli_config(args.config, args.set, args.seed)
    run_dir = Path(args.out) if args.out else default_run_dir(cfg)
    if args.study:
        check_study_target(study_target(cfg, Path(args.study_dir)))
    if not is_main:
        check_fresh_run_dir(run_dir, args.resume)
        check_batch_fits(cfg, args.config, args.device)
        return _train_locked(args, cfg, run_dir, is_main)
    created = not run_dir.exists()
    writable_dir(run_dir)
    try:
        # the lock first: a run in progress there is named (pid) before anything else is said
        with RunLock(run_dir, "scrpn train", note=note):
            check_fresh_run_dir(run_dir, args.resume)
            check_batch_fits(cfg, args.config, args.device)
            return _train_locked(args, cfg, run_dir, is_main)
    except USER_ERRORS:
        if created and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # refused before anything was written: leave no empty folder
        raise


def _train_locked(args: argparse.Namespace, cfg: Config, run_dir: Path, is_main: bool) -> int:
    trainer = new_trainer(cfg, run_dir, device=args.device, progress=not args.no_progress)
    val_set = build_val_dataset(cfg)
    if is_main:  # what the loaders skipped or clipped, before hours of training
        for dataset in (trainer.dataset, val_set):
            note(dataset.report())
    check_evaluable(val_set, cfg)  # an all-null evaluation is refused before training
    if args.resume:
        trainer.resume()
        note(f"resumed {run_dir / 'latest.pth'} at iteration {trainer.iteration}/{trainer.max_iters}")
    result = trainer.train()
    proposals = run_dir / "proposals.json" if args.dump_proposals else None
    metrics = evaluate_model(trainer.model, val_set, cfg, args.device, proposals_path=proposals,
                             progress=not args.no_progress)
    if not is_main:
        return 0  # rank 0 gathered this rank's proposals and reports for the whole job
    trainer.logger.log({"type": "eval", "iter": result.iterations, **json_safe_metrics(metrics)})
    write_metrics(run_dir / "metrics.json", metrics, cfg, result.train_seconds, result.iterations,
                  train_log=trainer.logger.path, training_parts=trainer.provenance)
    if args.study:
        note(f"study results: {copy_to_study(run_dir, cfg, Path(args.study_dir))}")
    note(f"run directory: {run_dir}")
    print_metrics(metrics)
    return 0


# ----------------------------------------------------------------------------------------------
# scrpn evaluate
# ----------------------------------------------------------------------------------------------

def _add_evaluate(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate a checkpoint, or a dumped proposals file",
        description="Either --config and --checkpoint (run the model on the validation split) or "
                    "--proposals and --annotations (score a proposals json). Prints the metrics; "
                    "the last line is one JSON object.")
    p.add_argument("--config", help="YAML config the checkpoint was trained with")
    p.add_argument("--checkpoint", help="a .pth written by `scrpn train`")
    p.add_argument("--out", help="write metrics.json (and, with --dump-proposals, proposals.json) "
                                 "to this directory; never a training run's folder")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the metrics.json / proposals.json of an earlier evaluation in --out")
    p.add_argument("--proposals", help="proposals json (COCO results format)")
    p.add_argument("--annotations", help="COCO ground-truth json for --proposals")
    p.add_argument("--gt-reading", choices=("scrpn", "pycocotools"), default="scrpn",
                   help="how --annotations is read: 'scrpn' (default) counts what the training-"
                        "time evaluation counts (degenerate, outside and ignore:1 boxes skipped, "
                        "boxes clipped to the image); 'pycocotools' counts every annotation as "
                        "COCOeval does and scores with COCOeval itself (docs/bad-input.md)")
    p.add_argument("--split", choices=("val", "train"), default="val",
                   help="split to run the checkpoint on (train: e.g. to dump the training "
                        "proposals Fast R-CNN learns from; no flip); default: val")
    p.add_argument("--dump-proposals", action="store_true",
                   help="write the proposals to <out>/proposals.json (needs --out); cut them "
                        "with --set model.test.max_per_img=N")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_common(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.proposals or args.annotations:
        if not (args.proposals and args.annotations) or args.config or args.checkpoint:
            raise UsageError("evaluate takes either --proposals with --annotations, "
                             "or --config with --checkpoint")
        if args.dump_proposals:
            raise UsageError("--dump-proposals is for --checkpoint (the proposals file is given)")
        if not args.out:
            return _evaluate_file(args, None)
        out = writable_dir(Path(args.out))
        check_evaluation_out(out, args.overwrite)
        with RunLock(out, "scrpn evaluate", note=note):
            check_evaluation_out(out, args.overwrite)
            remove_stale_temporaries(out)
            return _evaluate_file(args, out)
    if not (args.config and args.checkpoint):
        raise UsageError("evaluate needs --config and --checkpoint (or --proposals and --annotations)")
    return _evaluate_checkpoint(args)


def _evaluate_file(args: argparse.Namespace, out: Optional[Path]) -> int:
    """``evaluate --proposals P --annotations A [--gt-reading R] [--out D]``."""
    metrics = dict(evaluate_proposals_file(args.proposals, args.annotations, note=note,
                                           reading=args.gt_reading))
    metrics["seconds_per_image"] = float("nan")  # not measured for a file
    if out is not None:
        record = {"proposals": str(args.proposals), **json_safe_metrics(metrics)}
        atomic_write_text(out / "metrics.json", json.dumps(record, indent=2) + "\n")
    print_metrics(metrics)
    return 0


def _evaluate_checkpoint(args: argparse.Namespace) -> int:
    check_device(args.device)
    if args.dump_proposals and not args.out:
        raise UsageError("--dump-proposals needs --out DIR")
    out = writable_dir(Path(args.out)) if args.out else None
    if out is None:
        return _evaluate_checkpoint_to(args, None)
    check_evaluation_out(out, args.overwrite)
    with RunLock(out, "scrpn evaluate", note=note):
        check_evaluation_out(out, args.overwrite)
        remove_stale_temporaries(out)  # left by an evaluation killed while writing
        return _evaluate_checkpoint_to(args, out)


def _evaluate_checkpoint_to(args: argparse.Namespace, out: Optional[Path]) -> int:
    from scrpn.build import build_model

    # The weights come from the checkpoint: do not load ImageNet weights first.
    cfg = load_cli_config(args.config, [*args.set, "model.backbone.pretrained=false"])
    check_inference_fits(cfg, args.config, args.device)
    state = load_checkpoint(args.checkpoint)
    check_finite_weights(args.checkpoint, state["model"])
    # Test-time settings (model.test.*) do not change the weights: they may differ.
    test_keys = tuple(f"model.test.{k}" for k in cfg.to_dict()["model"]["test"])
    check_config_matches(args.checkpoint, state["config"], cfg.to_dict(), sections=("model",),
                         ignore=("model.backbone.pretrained", *test_keys))
    configure_torch(cfg.train.deterministic, cfg.train.num_threads, cfg.train.cpu_deterministic_kernels)
    model = build_model(cfg)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{args.checkpoint}: does not fit the model of {args.config}: "
                              f"{reason}") from exc
    model.to(args.device)
    dataset = build_val_dataset(cfg) if args.split == "val" else build_eval_dataset(cfg, "train")
    note(dataset.report())
    if args.split == "train":
        cfg.data.val_limit = None  # every training image gets its proposals
    check_evaluable(dataset, cfg)
    metrics = evaluate_model(model, dataset, cfg, args.device,
                             proposals_path=out / "proposals.json" if args.dump_proposals else None,
                             progress=not args.no_progress)
    if out is not None:
        write_metrics(out / "metrics.json", metrics, cfg, state.get("train_seconds"),
                      state.get("iteration"), training_parts=state.get("provenance") or [])
    print_metrics(metrics)
    return 0


# ----------------------------------------------------------------------------------------------
# scrpn data stats
# ----------------------------------------------------------------------------------------------

def _add_data(subparsers: Any) -> None:
    p = subparsers.add_parser("data", help="dataset utilities",
                              description="Dataset utilities.")
    data_sub = p.add_subparsers(dest="data_command", metavar="{stats}")
    s = data_sub.add_parser("stats", help="print the dataset card of a split",
                            description="Print the dataset card (sizes, FPN levels, aspect ratios, "
                                        "categories) of one split as markdown tables.")
    s.add_argument("--dataset", choices=("synthshapes", "coco", "deepforest"),
                   help="dataset (default: the config's, else synthshapes)")
    s.add_argument("--config", help="YAML config: its data section and its level base scale")
    s.add_argument("--split", choices=("train", "val"), default="val", help="default: val")
    s.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override config values")
    s.set_defaults(func=cmd_data_stats)
    p.set_defaults(func=lambda args: _missing_subcommand(p))


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _stats_config(args: argparse.Namespace) -> tuple[Config, float]:
    """The config to read the data section from, and the FPN level base scale to use."""
    overrides = list(args.set) + ([f"data.dataset={args.dataset}"] if args.dataset else [])
    if args.config:
        cfg = load_config(args.config, overrides)
        return cfg, cfg.level_base_scale
    raw, sources = overrides_with_sources(({}, {}), overrides)
    cfg = config_from_dict(raw, Provenance(sources, "<command line>"))
    if cfg.data.dataset == "synthshapes":  # the images the mini profile trains on
        return cfg, level_base_scale(MINI_ANCHOR_SCALE)
    return cfg, cfg.level_base_scale


def cmd_data_stats(args: argparse.Namespace) -> int:
    from scrpn.data.stats import dataset_card, format_card

    cfg, base_scale = _stats_config(args)
    dataset = build_train_dataset(cfg) if args.split == "train" else build_val_dataset(cfg)
    note(dataset.report())
    print(format_card(dataset_card(dataset.ann_file, base_scale)), end="")
    return 0


# ----------------------------------------------------------------------------------------------
# scrpn bench
# ----------------------------------------------------------------------------------------------

def _add_bench(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="time methods side by side and report speed ratios",
                              description="Measure, in one process on the same backbone, images and "
                                          "size, training seconds per iteration and inference "
                                          "seconds per image of each config, and their ratios to "
                                          "the first (last line: JSON).")
    p.add_argument("--configs", nargs="+", default=["configs/mini/rpn.yaml", "configs/mini/sc_rpn.yaml"],
                   help="configs to compare; the first is the reference")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (median)")
    p.add_argument("--iters", type=int, default=3, help="iterations / images per round")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations before timing")
    p.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="resize the batch to H x W (e.g. 800 1333, COCO's input, without COCO: "
                        "SynthShapes images and boxes are resized)")
    p.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"), default=None,
                   help="time every config in each precision, interleaved in the same rounds; the "
                        "first is the base of the speed-ups (default: each config's train.precision)")
    p.add_argument("--out", default="results/bench/speed.json", help="JSON file to write")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override values of every config (e.g. data.image_size=512)")
    p.set_defaults(func=cmd_bench)


def check_bench_args(args: argparse.Namespace) -> Path:
    """``scrpn bench``'s numbers and its ``--out`` file, checked before minutes of timing: at
    least one round and one iteration, no negative warm-up, a positive input size, and an output
    file whose folder can be written (the run used to fail only after the benchmark)."""
    for flag, value, low in (("--rounds", args.rounds, 1), ("--iters", args.iters, 1),
                             ("--warmup", args.warmup, 0)):
        if value < low:
            raise UsageError(f"{flag} {value}: must be at least {low}")
    if args.input_size is not None and min(args.input_size) < 1:
        raise UsageError(f"--input-size {args.input_size[0]} {args.input_size[1]}: both sides "
                         "must be at least 1 pixel")
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"--out {out}: is a directory (expected a JSON file to write)")
    writable_dir(out.parent)
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"--out {out}: cannot write the file (permission denied)")
    return out


def cmd_bench(args: argparse.Namespace) -> int:
    from scrpn.engine.bench import benchmark

    out = check_bench_args(args)
    extra = ["model.backbone.pretrained=false"]
    if args.input_size is not None:  # any config (COCO's too) runs on resized SynthShapes images
        extra += ["data.dataset=synthshapes", "data.image_size=512", "data.root=null"]
    configs = [load_cli_config(path, list(args.set) + extra) for path in args.configs]
    for path, cfg in zip(args.configs, configs):
        check_batch_fits(cfg, path, "cpu", input_size=tuple(args.input_size) if args.input_size
                         else None)
    configure_torch(True, configs[0].train.num_threads, configs[0].train.cpu_deterministic_kernels)
    result = benchmark(configs, rounds=args.rounds, iters=args.iters, warmup=args.warmup,
                       input_size=tuple(args.input_size) if args.input_size else None,
                       precisions=args.precisions)
    atomic_write_text(out, json.dumps(result, indent=2))
    for name, m in result["methods"].items():
        print(f"{name}: train {m['train_seconds_per_iter']:.3f} s/iter, "
              f"{m['train_images_per_second']:.3f} img/s (x{m['train_ratio_to_reference']:.2f} time), "
              f"inference {1000 * m['infer_seconds_per_image']:.1f} ms/image, "
              f"{m['infer_images_per_second']:.3f} img/s (x{m['infer_ratio_to_reference']:.2f} time); "
              f"floor (backbone + FPN fwd + bwd, {m['memory_format']}) {m['floor_seconds_per_iter']:.3f} s, "
              f"step x{m['train_ratio_to_floor']:.2f} the floor (x{m['flops_ratio_to_floor']:.2f} its FLOPs); "
              f"the floor is "
              f"x{m['floor_speedup_over_nchw']:.2f} faster than eager NCHW's")
        print("    breakdown (ms, profiled): " + ", ".join(f"{k} {v:.1f}" for k, v in m["breakdown_ms"].items()))
        for precision, v in m.get("precisions", {}).items():
            print(f"    {precision}: train {v['train_seconds_per_iter']:.3f} s/iter "
                  f"(x{v['train_speedup']:.2f} faster than {m['precision']}), inference "
                  f"{1000 * v['infer_seconds_per_image']:.1f} ms/image (x{v['infer_speedup']:.2f}), "
                  f"floor {v['floor_seconds_per_iter']:.3f} s (x{v['floor_speedup']:.2f})")
    load = result["load_average"]
    print(f"load average (1, 5, 15 min) before {load['before']}, after {load['after']} "
          f"on {load['cpus']} CPUs")
    print(json.dumps({k: {**{kk: v[kk] for kk in ("train_ratio_to_reference", "infer_ratio_to_reference",
                                                  "train_ratio_to_floor", "flops_ratio_to_floor",
                                                  "floor_speedup_over_nchw")},
                          **{f"{p}_{kk}": pv[kk] for p, pv in v.get("precisions", {}).items()
                             for kk in ("train_speedup", "infer_speedup", "floor_speedup")}}
                      for k, v in result["methods"].items()}))
    return 0


# ----------------------------------------------------------------------------------------------
# scrpn study / scrpn reproduce
# ----------------------------------------------------------------------------------------------

def _add_study_options(p: argparse.ArgumentParser) -> None:
    from scrpn.study.runs import PROFILE_CONFIG_DIRS

    p.add_argument("--profile", default="mini", choices=tuple(PROFILE_CONFIG_DIRS),
                   help="smoke, mini (the study), full (COCO), a schedule rung of the mini rows "
                        "(2x, 4x, 8x, 16x: runs named s<n>x_<row>) or converged (the rung experiment "
                        "10 chose)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of every row")
    p.add_argument("--dataset", default=None, help="run the rows on another dataset (deepforest)")
    p.add_argument("--results-dir", default="results", help="where runs, tables and figures go")
    p.add_argument("--retrain", action="store_true", help="ignore cached results")


def _add_study(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "study", help="train (or load cached) study rows and print their metrics",
        description="Train every ROW x seed that has no up-to-date result under "
                    "<results-dir>/runs/<row>/seed<k>/ (resuming interrupted runs), evaluate it and "
                    "write metrics.json, log.jsonl and proposal_stats.npz there. Rows are config "
                    "names of the profile (configs/mini/<row>.yaml); a table name "
                    "(e.g. table03_components) stands for all of its rows. "
                    "`scrpn study verify ROW` retrains a committed run and compares it bit for bit "
                    "(scrpn study verify --help).")
    p.add_argument("rows", nargs="*", help="config names or table names")
    p.add_argument("--experiment", type=int, default=None, metavar="N",
                   help="train a pre-registered cause experiment's runs in its registered order "
                        "(scrpn/study/experiments/: each stage's rows, seeds and dataset) instead of ROWS")
    p.add_argument("--allow-dirty", action="store_true",
                   help="accept runs trained (or to be trained) from a tree with uncommitted changes "
                        "under scrpn/ or configs/ (refused by default: a table or verdict reads only "
                        "runs of committed code)")
    p.add_argument("--estimate", action="store_true",
                   help="train nothing: print the plan's machine hours (what is missing, and from "
                        "scratch) from a short bench of each distinct method")
    p.add_argument("--rate", choices=("bench", "records"), default="bench",
                   help="with --estimate: time a short bench (default), or read the measured rate "
                        "off the committed runs of the same rows (the fastest seed; a schedule "
                        "rung s<n>x_ROW reads ROW's runs)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train N runs side by side, one process each (resumable; each run's lines "
                        "prefixed, one progress bar per job); with --estimate: the wall hours at "
                        "the runs-per-hour rate measured for N jobs (results/bench/jobs.json)")
    p.add_argument("--threads-per-job", type=int, default=None, metavar="T",
                   help="with --jobs: torch threads of each job (default: the CPUs / N, at least 1; "
                        "the threads are part of a run's arithmetic, recorded with it)")
    _add_study_options(p)
    p.set_defaults(func=cmd_study)


RECORD_KEYS = ("name", "seed", "AR100", "AR300", "AR1000", "AP", "AP50", "wall_seconds")


def _print_record(record: dict) -> None:
    """One run's summary as the JSON line every ``scrpn study`` path prints."""
    print(json.dumps({k: record.get(k) for k in RECORD_KEYS}), flush=True)


def _print_failed(failed: list) -> None:
    """The one error line for study jobs that exited non-zero (each resumes on a rerun)."""
    print("scrpn: error: " + "; ".join(f"{job.label} exited with {job.returncode}" for job in failed)
          + " (rerun the same command to resume)", file=sys.stderr)


def cmd_study(args: argparse.Namespace) -> int:
    from scrpn.study import Study
    from scrpn.study.tables import TABLES, study_rows

    study = Study(profile=args.profile, retrain=args.retrain, seeds=args.seeds,
                  dataset=args.dataset, results_dir=args.results_dir, log=note, allow_dirty=args.allow_dirty,
                  work_dir=os.environ.get("SCRPN_WORK_DIR", "work_dirs"),  # as the notebooks' Session
                  progress=sys.stderr.isatty())
    if args.experiment is not None:
        return _study_experiment(study, args)
    if not args.rows:
        raise UsageError("scrpn study: name rows, tables or --experiment N")
    plan = [row for name in args.rows for row in (study_rows(TABLES[name]) if name in TABLES else [name])]
    plan = list(dict.fromkeys(plan))
    for row in plan:
        study.config(row)  # a typo fails here, before hours of training
    if args.jobs < 1 or (args.threads_per_job is not None and args.threads_per_job < 1):
        raise UsageError("--jobs and --threads-per-job take a whole number >= 1")
    if args.estimate:
        return _print_estimate(study, plan, rate=args.rate, jobs=args.jobs)
    if args.jobs > 1 or args.threads_per_job is not None:   # --jobs 1 --threads-per-job T: one job, T threads
        return _study_jobs(study, plan, args)
    for name in args.rows:
        rows = study_rows(TABLES[name]) if name in TABLES else [name]
        for record in study.runs(rows):
            _print_record(record)
    return 0


def _study_experiment(study: Any, args: argparse.Namespace) -> int:
    """``scrpn study --experiment N``: the experiment's stages in order (cached runs skipped);
    with ``--estimate``, the machine hours of the stages it would train now (nothing trains)."""
    import dataclasses

    from scrpn.study.experiments import REGISTRY, experiment_plan, run_experiment

    if args.experiment not in REGISTRY:
        raise UsageError(f"--experiment {args.experiment}: no such experiment (registered: "
                          f"{', '.join(map(str, sorted(REGISTRY)))})")
    if args.rows:
        raise UsageError("--experiment N trains the experiment's own rows: give no ROWS")
    if args.jobs < 1 or (args.threads_per_job is not None and args.threads_per_job < 1):
        raise UsageError("--jobs and --threads-per-job take a whole number >= 1")
    if args.estimate:
        steps = [(dataclasses.replace(sub, seeds=list(seeds)), rows)
                 for sub, rows, seeds in experiment_plan(args.experiment, study, log=note)]
        return _print_estimate(study, [], rate=args.rate, jobs=args.jobs, steps=steps)
    if args.jobs > 1 or args.threads_per_job is not None:
        return _experiment_jobs(study, args)
    for record in run_experiment(args.experiment, study, log=note):
        _print_record(record)
    return 0


def _experiment_jobs(study: Any, args: argparse.Namespace) -> int:
    """``scrpn study --experiment N --jobs J``: each stage's missing runs side by side, at most J at
    a time, in the registered stage order (a stage is planned only after the stages before it have
    finished, as without ``--jobs``). A stage with fewer missing runs than J runs them with the
    CPUs shared among those runs only (one missing run trains with every thread, as ``--jobs 1``
    does). A failed run stops the experiment there: later stages may read it."""
    from scrpn.study.experiments import experiment_steps
    from scrpn.study.jobs import default_threads, run_jobs

    for sub, rows, seeds in experiment_steps(args.experiment, study, log=note):
        runs = [(row, seed) for row in rows for seed in seeds]
        missing = [run for run in runs if sub.cached(*run) is None]
        if missing:
            width = min(args.jobs, len(missing))
            threads = args.threads_per_job or default_threads(width)
            note(f"{len(missing)} runs to train, {width} at a time, {threads} thread(s) each")
            jobs = run_jobs(sub, missing, width, threads=threads,
                            extra_args=["--allow-dirty"] if args.allow_dirty else [],
                            progress=sys.stderr.isatty(), emit=note)
            failed = [job for job in jobs if job.returncode != 0]
            if failed:
                _print_failed(failed)
                return 1
        for row, seed in runs:
            record = sub.cached(row, seed) or {}
            _print_record(record)
    return 0


def _study_jobs(study: Any, plan: list[str], args: argparse.Namespace) -> int:
    """``scrpn study --jobs N``: the plan's runs N at a time (``scrpn.study.jobs``), then each
    run's record as one JSON line, as ``--jobs 1`` prints them."""
    from scrpn.study.jobs import default_threads, run_jobs

    runs = [(row, seed) for row in plan for seed in study.seeds]
    threads = args.threads_per_job or default_threads(args.jobs)
    note(f"{len(runs)} runs, {args.jobs} at a time, {threads} thread(s) each")
    jobs = run_jobs(study, runs, args.jobs, threads=threads,
                    extra_args=["--allow-dirty"] if args.allow_dirty else [],
                    progress=sys.stderr.isatty(), emit=note)
    failed = [job for job in jobs if job.returncode != 0]
    for job in jobs:
        if job.returncode == 0:
            record = study.cached(job.row, job.seed) or {}
            _print_record(record)
    if failed:
        _print_failed(failed)
        return 1
    return 0


def _jobs_rate(results_dir: Path, jobs: int) -> Optional[float]:
    """Runs per hour of ``jobs`` trainings side by side over one at a time, as measured by
    ``benchmarks/bench_jobs.py`` (``<results>/bench/jobs.json``); None when not measured."""
    path = Path(results_dir) / "bench" / "jobs.json"
    try:
        measured = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    value = measured.get("runs_per_hour_ratio", {}).get(str(jobs))
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _print_estimate(study: Any, plan: list[str], rate: str = "bench", jobs: int = 1,
                    steps: Optional[list[tuple[Any, list[str]]]] = None) -> int:
    """``scrpn study --estimate``: machine hours of the plan, from a short bench per method;
    ``steps``: ``(study, rows)`` pairs instead (an experiment's stages, each at its own dataset,
    profile and seeds), summed."""
    import copy

    from scrpn.engine.bench import benchmark
    from scrpn.study.estimate import estimate_plan, recorded_bench

    def bench(cfg: Config) -> tuple[float, float]:
        cfg = copy.deepcopy(cfg)
        cfg.model.backbone.pretrained = False
        speed = benchmark([cfg], rounds=1, iters=2, warmup=1)["methods"][cfg.name]
        return speed["train_seconds_per_iter"], speed["infer_seconds_per_image"]

    steps = steps if steps is not None else [(study, plan)]
    if not any(rows for _, rows in steps):
        print(json.dumps({"rows": 0, "seeds": list(study.seeds), "runs": 0, "missing_runs": 0,
                          "missing_machine_hours": 0.0, "from_scratch_machine_hours": 0.0,
                          "missing_machine_seconds": 0.0, "from_scratch_machine_seconds": 0.0,
                          **_jobs_estimate(study, 0.0, jobs)}))
        return 0
    first_study, first_rows = next((sub, rows) for sub, rows in steps if rows)
    first = first_study.config(first_rows[0]).train
    configure_torch(True, first.num_threads, first.cpu_deterministic_kernels)
    if rate == "records":
        bench = recorded_bench(study.results_dir, bench, log=note)
    result = estimate_plan(*steps[0], bench, log=note)
    for sub, rows in steps[1:]:
        more = estimate_plan(sub, rows, bench, log=note)
        for key in ("missing_seconds", "scratch_seconds", "runs", "missing_runs"):
            setattr(result, key, getattr(result, key) + getattr(more, key))
    plan = [row for _, rows in steps for row in rows]
    print(json.dumps({"rows": len(plan), "seeds": list(study.seeds), "runs": result.runs,
                      "missing_runs": result.missing_runs,
                      "missing_machine_hours": round(result.missing_hours, 2),
                      "from_scratch_machine_hours": round(result.scratch_hours, 2),
                      "missing_machine_seconds": round(result.missing_seconds, 1),
                      "from_scratch_machine_seconds": round(result.scratch_seconds, 1),
                      **_jobs_estimate(study, result.missing_hours, jobs)}))
    return 0


def build_verify_parser() -> argparse.ArgumentParser:
    """``scrpn study verify`` (its own parser: ``scrpn study`` takes row names as positionals)."""
    from scrpn.study.runs import PROFILE_CONFIG_DIRS

    p = argparse.ArgumentParser(
        prog="scrpn study verify",
        description="Retrain a committed run at its recorded commit (a temporary git worktree) with its "
                    "recorded settings (threads, memory format, deterministic mode, precision) and "
                    "compare every logged loss, and for a whole run every metric, bit for bit. Prints "
                    "'identical' or the first difference. Exit 0 identical, 1 different, 2 cannot "
                    "verify (e.g. no recorded commit: then the retraining at HEAD is compared with "
                    "the spread of the committed seeds).")
    p.add_argument("row", help="study row (config name), e.g. rpn, or a run's name, e.g. s4x_t3_sads "
                               "(t3_sads at --profile 4x) or deepforest_rpn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=None,
                   help="retrain only the first N iterations and compare their logged losses")
    p.add_argument("--profile", default="mini", choices=tuple(PROFILE_CONFIG_DIRS),
                   help="the run's profile: a schedule rung (2x ... 16x) or converged for experiment 10's runs")
    p.add_argument("--dataset", default=None, help="the run's dataset (deepforest)")
    p.add_argument("--results-dir", default="results", help="where the committed runs are")
    p.add_argument("--commit", default=None,
                   help="rebuild at this commit instead of the recorded one (a candidate for a run "
                        "that records none)")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="settings for the retraining, replacing the recorded ones")
    p.add_argument("--keep", default=None, metavar="DIR",
                   help="copy the retraining's log.jsonl (and metrics.json) to DIR")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_study_verify)
    return p


def cmd_study_verify(args: argparse.Namespace) -> int:
    from scrpn.study import Study
    from scrpn.study.experiments import run_study
    from scrpn.study.verify import verify_run

    if args.iterations is not None and args.iterations < 1:
        raise UsageError(f"--iterations {args.iterations}: expected a positive number of iterations")
    study = Study(profile=args.profile, dataset=args.dataset, results_dir=args.results_dir, log=note)
    study, row = run_study(study, args.row)     # a run's own name: s4x_t3_sads, deepforest_rpn
    study.config(row, args.seed)  # a typo fails here, as one line
    result = verify_run(study, row, args.seed, iterations=args.iterations, overrides=args.set,
                        commit=args.commit, progress=not args.no_progress and sys.stderr.isatty(), log=note,
                        keep=Path(args.keep) if args.keep else None)
    for line in result.lines:
        print(line, flush=True)
    return result.status


def _jobs_estimate(study: Any, missing_hours: float, jobs: int) -> dict:
    """With ``--jobs N``: the wall hours of what is missing at the measured runs-per-hour ratio
    of N jobs (1.0, said so, where none was measured)."""
    if jobs <= 1:
        return {}
    ratio = _jobs_rate(study.results_dir, jobs)
    if ratio is None:
        note(f"no measured rate for --jobs {jobs} in {Path(study.results_dir) / 'bench' / 'jobs.json'} "
             "(benchmarks/bench_jobs.py): counted as x1.00")
    return {"jobs": jobs, "jobs_runs_per_hour_ratio": ratio,
            "missing_wall_hours_with_jobs": round(missing_hours / (ratio or 1.0), 2)}


def _add_reproduce(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "reproduce", help="run every notebook in order: the paper's tables and figures",
        description="Execute the notebooks' sources, notebooks/NN_*.py (jupytext), in order with "
                    "papermill (cached rows reused, missing rows trained), writing "
                    "<results-dir>/tables and <results-dir>/figures and each executed "
                    "notebooks/NN_*.ipynb (replaced unless --output-dir is given). With -p, the "
                    "notebooks, tables and figures go to --output-dir (then required), so the "
                    "committed ones stay the canonical renders.")
    _add_study_options(p)
    p.add_argument("--notebooks", default="notebooks", help="folder of the numbered notebooks")
    p.add_argument("--output-dir", default=None, help="write executed notebooks here instead")
    p.add_argument("--only", nargs="+", default=None, help="notebook number prefixes, e.g. 01 03")
    p.add_argument("--no-train", action="store_true",
                   help="train nothing: tables and figures from cached runs only (others 'pending')")
    p.add_argument("-p", "--parameter", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   dest="parameters",
                   help="a papermill parameter of the notebooks' parameters cell, e.g. -p image_index=3 "
                        "(value read as YAML); requires --output-dir")
    p.set_defaults(seeds=[0, 1, 2])  # the study's seeds (Tables I, III, IV, X use all three)
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from scrpn.study.notebooks import NotebookFailures, parse_parameters, run_notebooks

    try:
        parameters = parse_parameters(args.parameters)
        run_notebooks(Path(args.notebooks), profile=args.profile, seeds=args.seeds,
                      dataset=args.dataset or "synthshapes", results_dir=args.results_dir,
                      retrain=args.retrain, train_missing=not args.no_train,
                      output_dir=args.output_dir, only=args.only, parameters=parameters, log=note)
    except ValueError as err:    # a bad -p, or a dataset a notebook cannot use: before any kernel
        raise UsageError(str(err)) from err
    except NotebookFailures as err:
        for name, error in err.failed.items():
            print(f"error: notebook {name} failed: {error}", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# scrpn config show
# ----------------------------------------------------------------------------------------------

def _add_config(subparsers: Any) -> None:
    p = subparsers.add_parser("config", help="inspect a study row's resolved config")
    sub = p.add_subparsers(dest="config_command")
    s = sub.add_parser("show", help="print a row's resolved config, each key with the file that set it",
                       description="Every key of the row's resolved config (profile, dataset overlay "
                                   "and --set included), one per line as 'key: value  # source', "
                                   "the source being the config file, overlay or --set item that "
                                   "set it last, or 'default' for the schema's default.")
    s.add_argument("row", help="a study row (config name of the profile, e.g. sc_rpn) or a config "
                               "file's path (e.g. configs/mini/sc_rpn.yaml)")
    from scrpn.study.runs import PROFILE_CONFIG_DIRS

    s.add_argument("--profile", choices=tuple(PROFILE_CONFIG_DIRS), default="mini")
    s.add_argument("--dataset", default=None, help="dataset overlay (deepforest)")
    s.add_argument("--seed", type=int, default=None,
                   help="train.seed (default: a --set train.seed item, else 0)")
    s.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override config values")
    s.set_defaults(func=cmd_config_show)
    p.set_defaults(func=lambda args: _missing_subcommand(p))


def config_lines(cfg: Config, sources: dict[str, str], root: Path) -> list[str]:
    """``key: value  # source`` for every leaf of ``cfg`` (sources relative to ``root``)."""
    def leaves(tree: dict, prefix: str = ""):
        for key, value in tree.items():
            if isinstance(value, dict) and value:
                yield from leaves(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    def where(key: str) -> str:
        source = sources.get(key, "default")
        path = Path(source.split(" (")[0])
        if path.is_absolute() and path.is_relative_to(root):
            return str(path.relative_to(root)) + source[len(str(path)):]
        return source
    rows = [(key, json.dumps(value), where(key)) for key, value in leaves(cfg.to_dict())]
    width = min(max(len(k) + len(v) for k, v, _ in rows) + 4, 60)
    return [f"{f'{k}: {v}':<{width - 2}}  # {w}" for k, v, w in rows]


def _config_show_seed(args: argparse.Namespace) -> int:
    """``config show``'s seed: ``--seed``, else a ``--set train.seed=N`` item's N (it used to be
    replaced by the default 0 without a word), else 0. Both together are refused earlier
    (:func:`check_repeated_keys`)."""
    from scrpn.config import parse_override

    if args.seed is not None:
        return int(args.seed)
    for item in args.set:
        if _set_key(item) == "train.seed":
            value = parse_override(item)[1]
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"--set {item}: 'train.seed' has the wrong type (expected a "
                                  "whole number)")
            return value
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from scrpn.study import Study
    args.seed = _config_show_seed(args)
    study = Study(profile=args.profile, dataset=args.dataset, overrides=args.set)
    row = args.row
    if row.endswith((".yaml", ".yml")) or os.sep in row:
        path = Path(row)
        problem = input_problem(path)
        if problem is not None:   # a FIFO or a folder is named as such, not "no such file"
            raise ConfigError(f"{path}: config file {problem}" if problem != "not found"
                              else f"{path}: no such config file")
        if _is_row_file(study, path):
            row = path.stem             # a study row's file: shown as the row (overlays included)
        else:
            return _show_config_file(path, args)
    cfg, sources = study.config_with_sources(row, args.seed)
    for line in config_lines(cfg, sources, study.config_root.resolve().parent):
        print(line)
    return 0


def _is_row_file(study: Any, path: Path) -> bool:
    try:
        return study._row_file(path.stem)[0].resolve() == path.resolve()
    except ConfigError:
        return False


def _show_config_file(path: Path, args: argparse.Namespace) -> int:
    """``scrpn config show FILE`` for a config outside the study's rows: the file's own chain."""
    from scrpn.config import Provenance, apply_overrides, load_raw_with_sources, merge_with_sources

    raw, sources = load_raw_with_sources(path)
    for item in [*args.set, f"train.seed={int(args.seed)}"]:
        sources = merge_with_sources((raw, sources), apply_overrides({}, [item]), f"--set {item}")[1]
        raw = apply_overrides(raw, [item])
    cfg = config_from_dict(raw, Provenance(sources, str(path)))   # an error names the file or --set item
    for line in config_lines(cfg, sources, Path.cwd().resolve()):
        print(line)
    return 0


COMMANDS: tuple[Callable[[Any], None], ...] = (_add_train, _add_evaluate, _add_data, _add_bench,
                                               _add_study, _add_reproduce, _add_config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrpn", description="SC-RPN reproduction: train and evaluate region proposal networks.")
    subparsers = parser.add_subparsers(dest="command")
    for add in COMMANDS:
        add(subparsers)
    subparsers.metavar = "{" + ",".join(subparsers.choices) + "}"   # every command, `config` included
    return parser


# SIGTERM, like Ctrl-C, raises wherever the command is (Interrupted, a KeyboardInterrupt), so that
# a write under way is abandoned (its temporary removed) and locks are released on the way out;
# every command ends with one line (interrupted_line) and exit 128 + the signal. Inside the
# training loop the trainer's own flag takes over (scrpn.engine.trainer._SignalFlag restores
# this handler when the loop ends). `scrpn` installs it before torch is imported
# (scrpn/__main__.py); main() installs it again for in-process callers and restores theirs.


@contextlib.contextmanager
def sigterm_raises() -> Any:
    """While the command runs, SIGTERM raises :class:`Interrupted` (main thread only); the
    previous handler is put back afterwards."""
    previous = raise_on_sigterm()
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def expected_outputs(args: argparse.Namespace) -> list[Path]:
    """What ``scrpn evaluate --out`` writes when it finishes (none without ``--out``)."""
    if getattr(args, "command", None) != "evaluate" or not args.out:
        return []
    names = ["metrics.json"] + (["proposals.json"] if args.dump_proposals else [])
    return [Path(args.out) / name for name in names]


def _some(paths: Sequence[Path], most: int = 3) -> str:
    """``a, b, c`` or ``a, b, c and 4 more``."""
    shown = ", ".join(map(str, paths[:most]))
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def interrupted_line(args: Optional[argparse.Namespace], signum: int, written: list[Path]) -> str:
    """The one line of an interrupted command: the signal, what it wrote before it stopped and
    what it did not write (an earlier file of that name is unchanged: writes are atomic).
    ``args`` is None when the signal came before the arguments were read."""
    out = Path(args.out).resolve() if getattr(args, "out", None) else None
    own = [p for p in written if out is not None and Path(p).resolve().is_relative_to(out)]
    done = {Path(p).resolve() for p in own}
    missing = [p for p in expected_outputs(args) if p.resolve() not in done]
    command = " ".join(filter(None, (getattr(args, "command", None),
                                     getattr(args, "data_command", None),
                                     getattr(args, "config_command", None)))) or "scrpn"
    line = f"scrpn: interrupted ({signal.Signals(signum).name}): {command} stopped before the end; "
    if out is not None:
        line += ("wrote " + ", ".join(map(str, own))) if own else f"nothing was written to {args.out}"
    else:
        line += f"wrote {_some(written)} (complete)" if written else "no file was written"
    if missing:
        line += (f"; {', '.join(map(str, missing))} not written (an earlier file there is "
                 "unchanged)")
    if out is not None and len(written) > len(own):
        line += f"; {len(written) - len(own)} cache file(s) written complete"
    return line + "; no partial file is left (writes are atomic)"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 bad input, 128+n on signal n)."""
    with sigterm_raises():
        return _main(list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    args: Optional[argparse.Namespace] = None
    already_written = len(written_files())
    try:
        parser = build_verify_parser() if argv[:2] == ["study", "verify"] else build_parser()
        args = parser.parse_args(argv[2:] if argv[:2] == ["study", "verify"] else argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return 2
        check_repeated_keys(args)
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        print(f"scrpn: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except TrainingError as exc:
        print(f"scrpn: training failed: {exc}", file=sys.stderr)
        return 1
    except TrainingInterrupted as exc:
        print(f"scrpn: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM outside training, in any command
        signum = signal_of(exc)
        kept = [*written_files()[already_written:], *getattr(exc, "kept", ())]
        print(interrupted_line(args, signum, kept), file=sys.stderr, flush=True)
        return 128 + signum
