"""Reading the project's JSON inputs (COCO annotations, proposal files), written once.

:func:`read_json` parses a file and turns every way it can fail (missing, not UTF-8, invalid
JSON) into one error naming the file; the caller chooses the error class (``DataError`` for
training data, ``EvaluationError`` for evaluation inputs) through ``error``. :func:`is_int` and
:func:`is_number` are the value checks the validators of both word their errors with (JSON's
``true`` is a Python bool, which is an ``int``: neither accepts it).
"""
from __future__ import annotations

import io
import json
import math
import os
from typing import Any, Callable, Union

from scrpn.inputs import InputFileError, open_input

__all__ = ["is_int", "is_number", "read_json"]

PathLike = Union[str, "os.PathLike[str]"]


def read_json(path: PathLike, what: str, error: Callable[[str, str], Exception]) -> Any:
    """The parsed content of ``path``; ``error(file name, problem)`` builds what is raised.

    A syntax error names the line, column and character offset where parsing stopped, which is
    where a truncated file ends.
    """
    name = os.fspath(path)
    try:  # a directory or a FIFO is named as such; a FIFO is never opened blocking
        stream = open_input(name)
    except InputFileError as exc:
        raise error(name, f"{what} {exc.problem}") from exc
    try:
        with io.TextIOWrapper(stream, encoding="utf-8") as handle:
            return json.load(handle)
    except RecursionError as exc:
        raise error(name, f"{what} is nested too deeply to read (more levels of [ ] or {{ }} "
                          "than Python's recursion limit)") from exc
    except json.JSONDecodeError as exc:
        raise error(name, f"invalid JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}) "
                          f"of the {what}: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise error(name, f"{what} is not a UTF-8 text file ({exc})") from exc


def is_int(value: Any) -> bool:
    """A JSON integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any, finite: bool = True) -> bool:
    """A JSON number (not a bool); ``finite``: NaN and infinities (Python's JSON reads them) fail,
    and so does an integer beyond the float range (``1`` followed by 400 zeros), which no float
    computation could use."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    if not finite:
        return True
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large to convert to float
        return False
