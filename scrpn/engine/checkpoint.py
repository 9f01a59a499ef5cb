"""Checkpoints: atomic writes, safe reads, and a check that a checkpoint fits the config.

A checkpoint is a dict of tensors and plain python containers only::

    {"format": 1, "model": state_dict, "optimizer": state_dict, "iteration": int, "epoch": int,
     "rng": {...}, "config": cfg.to_dict(), "train_seconds": float, "train_cpu_seconds": float,
     "provenance": [{"from_iteration": 0, "commit": ..., "dirty": ..., ...}, ...]}

(``provenance``: one entry per training process, :mod:`scrpn.engine.provenance`; checkpoints
written before it lack the key and still load)

so that it loads with ``torch.load(..., weights_only=True)``, which refuses to unpickle arbitrary
objects (a checkpoint downloaded from elsewhere cannot run code).

Writes go to a temporary file in the same directory, are flushed to disk, and then replace the
target with ``os.replace`` (atomic on POSIX and Windows): a run killed while writing leaves the
previous checkpoint intact and at worst a stray ``.<name>.*.tmp`` file, which
:func:`remove_stale_temporaries` deletes when a run starts or resumes in that directory.
"""
from __future__ import annotations

import math
import pickle
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from scrpn.config import LATER_KEYS_AT_FIRST_VALUE
from scrpn.inputs import InputFileError, open_input
from scrpn.outputs import TMP_SUFFIX, atomic_write

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "RUN_OUTPUTS",
    "check_finite_weights",
    "checkpoint_count",
    "checkpoint_seconds",
    "config_difference",
    "check_config_matches",
    "load_checkpoint",
    "remove_stale_temporaries",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = 1
_REQUIRED_KEYS = ("format", "model", "config")
# the files of a run folder that are written atomically (scrpn.outputs.atomic_write)
RUN_OUTPUTS = ("latest.pth", "final.pth", "metrics.json", "proposals.json", "log.jsonl",
               "config.yaml")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not belong to the current config."""


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (:func:`scrpn.outputs.atomic_write`: temporary file
    + ``os.replace``); a full disk raises :class:`~scrpn.outputs.WriteError` naming ``path`` and
    leaves the previous checkpoint intact."""
    return atomic_write(path, lambda stream: torch.save(dict(state), stream))


def checkpoint_count(state: Mapping[str, Any], key: str, path: str | Path) -> int:
    """``state[key]`` as a count (an int >= 0, not a bool); anything else is a
    ``CheckpointError`` naming the file and the key (a resumed run would go astray)."""
    value = state.get(key)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(f"{path}: '{key}' must be a whole number >= 0, got "
                              f"{str(value)[:40]!r}")
    return value


def checkpoint_seconds(state: Mapping[str, Any], key: str, path: str | Path,
                       default: float | None) -> float | None:
    """``state[key]`` as a finite number of seconds >= 0 (``default`` when absent)."""
    value = state.get(key, default)
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise CheckpointError(f"{path}: '{key}' must be a number of seconds >= 0, got "
                              f"{str(value)[:40]!r}")
    return float(value)


def remove_stale_temporaries(directory: str | Path, names: Iterable[str] = RUN_OUTPUTS) -> int:
    """Delete the temporary files that writes of ``names`` killed mid-way (SIGKILL, power loss)
    left in ``directory``; return how many. Call it only where no other process is writing."""
    removed = 0
    for name in names:
        for stale in Path(directory).glob(f".{name}.*{TMP_SUFFIX}"):
            stale.unlink(missing_ok=True)
            removed += 1
    return removed


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU with ``weights_only=True``; every failure names the file. A
    path that is not a regular file is named as what it is (a directory, a FIFO, which is never
    opened blocking, a socket: :func:`scrpn.inputs.open_input`), not as "not found"."""
    path = Path(path)
    try:
        stream = open_input(path)
    except InputFileError as exc:
        raise CheckpointError(f"{path}: checkpoint {exc.problem}") from exc
    try:
        with stream:
            state = torch.load(stream, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile,
            pickle.UnpicklingError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: cannot read checkpoint (truncated or corrupt file?): "
                              f"{reason}") from exc
    if not isinstance(state, dict) or any(key not in state for key in _REQUIRED_KEYS):
        raise CheckpointError(f"{path}: not an scrpn checkpoint (expected keys {_REQUIRED_KEYS})")
    for key in ("model", "config"):
        if not isinstance(state[key], dict):
            raise CheckpointError(f"{path}: not an scrpn checkpoint ('{key}' is a "
                                  f"{type(state[key]).__name__}, not a mapping)")
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state['format']} is not supported "
                              f"(expected {CHECKPOINT_FORMAT})")
    return state


def check_finite_weights(path: str | Path, model_state: Mapping[str, Any]) -> None:
    """Refuse weights holding NaN or inf (a run that diverged): evaluating them would report
    AR 0.0 as if it were a result. Raises ``CheckpointError`` naming the file, the first bad
    tensor and how many tensors are affected (``tests/test_bad_input_eval.py``)."""
    bad = [name for name, value in model_state.items()
           if isinstance(value, torch.Tensor) and value.is_floating_point()
           and not bool(torch.isfinite(value).all())]
    if bad:
        more = f" (and {len(bad) - 1} more tensors)" if len(bad) > 1 else ""
        raise CheckpointError(f"{path}: the weights hold NaN or inf values in '{bad[0]}'{more}: "
                              "the run diverged; nothing to evaluate")


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def config_difference(saved: Mapping[str, Any], current: Mapping[str, Any],
                      sections: Iterable[str], ignore: Iterable[str] = ()) -> list[str]:
    """Dotted keys under ``sections`` whose values differ between two config dicts."""
    ignored = set(ignore)
    sections = tuple(sections)
    old, new = _flatten(saved), _flatten(current)
    keys = sorted(k for k in set(old) | set(new)
                  if k.split(".")[0] in sections and k not in ignored)
    # a key added after the checkpoint was written is no difference at its first value
    later = {k: v for k, v in LATER_KEYS_AT_FIRST_VALUE.items() if k not in old}
    return [k for k in keys if old.get(k, later.get(k, "<missing>")) != new.get(k, "<missing>")]


def check_config_matches(path: str | Path, saved: Mapping[str, Any], current: Mapping[str, Any],
                         sections: Iterable[str], ignore: Iterable[str] = ()) -> None:
    """Raise ``CheckpointError`` if the checkpoint's config differs under ``sections``.

    Evaluation compares only ``model`` (what the weights depend on); resuming compares the whole
    run except settings that do not change the result (log and checkpoint intervals, threads).
    """
    diff = config_difference(saved, current, sections, ignore)
    if diff:
        old, new = _flatten(saved), _flatten(current)
        first = diff[0]
        raise CheckpointError(
            f"{path}: checkpoint comes from another config (config '{saved.get('name')}'): "
            f"'{first}' is {old.get(first, '<missing>')!r} there but {new.get(first, '<missing>')!r} "
            f"now" + (f" (and {len(diff) - 1} more differences)" if len(diff) > 1 else ""))
