"""Errors raised by the data layer.

Every problem with input data is reported as a :class:`DataError` whose message names the file and,
where relevant, the image id or annotation id, so that a user can fix the input without a debugger.
All validation happens when a dataset is constructed; the only error raised while iterating is an
unreadable image file (see :class:`scrpn.data.coco.CocoDetection`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "EvaluationError", "data_error", "error_line"]


class DataError(ValueError):
    """Bad or missing input data. The message names the file and the problem."""


class EvaluationError(DataError):
    """Bad input to evaluation: the message names the file (or entry) and the problem.

    A ``DataError`` (hence a ``ValueError``), so that the CLI's handling of bad input data
    covers bad proposals / annotation files too. Raised by :mod:`scrpn.data.proposal_files`
    and :mod:`scrpn.evaluation`.
    """


def data_error(path: str | Path, problem: str, *, image_id: int | str | None = None,
               ann_id: int | None = None) -> DataError:
    """Build a :class:`DataError` with the uniform message
    ``<file>[: image id i][: annotation id a]: <problem>``."""
    parts = [str(path)]
    if image_id is not None:
        parts.append(f"image id {image_id}")
    if ann_id is not None:
        parts.append(f"annotation id {ann_id}")
    parts.append(problem)
    return DataError(": ".join(parts))


def error_line(exc: BaseException) -> str:
    """The message of ``exc`` as one line. An error raised in a ``DataLoader`` worker arrives
    wrapped in the worker's traceback ("Caught DataError in DataLoader worker process 0 ...
    Original Traceback ..."): only its last line, the original message, is kept."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if len(lines) > 1 and any("Traceback" in line for line in lines):
        last, prefix = lines[-1], f"{type(exc).__name__}: "
        return last.split(prefix, 1)[1] if prefix in last else last
    return " ".join(lines)
