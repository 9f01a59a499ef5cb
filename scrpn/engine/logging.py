"""Run logs: a JSON-lines file (one object per record) and short text for the progress bar.

``log.jsonl`` holds one object per ``log_interval`` iterations, e.g.::

    {"type": "train", "iter": 20, "epoch": 0, "lr": 0.0012, "loss_cls": 0.61, "loss": 0.93,
     "sec_per_iter": 0.41}

and one ``{"type": "eval", ...}`` record with the metrics at the end. JSON lines rather than one
JSON document: every line is complete as soon as it is written, so a killed run leaves a readable
log, and a resumed run appends to it. On resume the records written after the checkpoint (which
the resumed run will write again) are dropped first, so the log reads like an uninterrupted run.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from scrpn.outputs import atomic_write_text

__all__ = ["DIAGNOSTIC_PREFIXES", "JsonlLogger", "format_losses", "read_jsonl",
           "summarise_diagnostics"]


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN / Infinity
    return value


class JsonlLogger:
    """Append-only JSON-lines log; each record is flushed as soon as it is written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, record: Mapping[str, Any]) -> None:
        line = json.dumps({key: _json_value(value) for key, value in record.items()})
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")

    def truncate_after(self, iteration: int) -> int:
        """Drop records with ``iter > iteration`` and eval records; return how many were dropped."""
        if not self.path.is_file():
            return 0
        kept, dropped = [], 0
        for record in read_jsonl(self.path):
            if record.get("type") == "eval" or record.get("iter", 0) > iteration:
                dropped += 1
            else:
                kept.append(json.dumps(record))
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        return dropped


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines file; a torn last line (killed mid-write) is skipped."""
    with Path(path).open("r", encoding="utf-8") as stream:
        for line in stream:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def format_losses(losses: Mapping[str, float], digits: int = 3) -> dict[str, str]:
    """Compact ``{name: value}`` strings for the tqdm postfix (``loss_`` prefix dropped; the
    diagnostics, which go to the log only, left out)."""
    return {key.removeprefix("loss_"): f"{value:.{digits}f}" for key, value in losses.items()
            if key.startswith("loss")}


DIAGNOSTIC_PREFIXES = ("diag_", "grad_norm", "clip_fired")


def summarise_diagnostics(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``metrics.json``'s ``diagnostics``: for each diagnostic of the training log (``diag_*``,
    ``grad_norm``, ``clip_fired``), its value in the first and the last log window and its mean
    over all windows. Windows without the key (e.g. no positives) are skipped."""
    series: dict[str, list[float]] = {}
    for record in records:
        if record.get("type") != "train":
            continue
        for key, value in record.items():
            if key.startswith(DIAGNOSTIC_PREFIXES) and isinstance(value, (int, float)):
                series.setdefault(key, []).append(float(value))
    return {key: {"first": values[0], "last": values[-1], "mean": sum(values) / len(values)}
            for key, values in sorted(series.items())}
