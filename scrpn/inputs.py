"""Input files the user names (configs, checkpoints, weights, annotation and proposal jsons,
images): regular files only, opened without ever blocking.

A path that exists but is not a regular file is reported as what it is, never as "not found":
"is a directory, not a file", "is a named pipe (FIFO), not a regular file", "is a socket, not a
regular file", "is a character device, ..." or "is a block device, ...". :func:`open_input` checks the path with ``stat`` first, then opens it
non-blocking and checks the open descriptor again with ``fstat`` (no window between check and
read), so a named pipe put in place of an input never blocks the reader: ``open()`` on a FIFO
would wait forever for a writer. Each caller words the error in its own class with the file's
role (``checkpoint``, ``config file``, ...): ``f"{path}: {role} {exc.problem}"``.

Pinned by ``tests/test_bad_input_cli.py`` (a FIFO, a folder and a socket in place of each
input the CLI opens) and ``tests/test_bad_input_eval.py`` (images, annotation files).
"""
from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO, Optional, Union

__all__ = ["InputFileError", "input_problem", "open_input"]

PathLike = Union[str, "os.PathLike[str]"]

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class InputFileError(OSError):
    """An input path that cannot be read as a file; ``problem`` says why, without the path
    (``not found``, ``is a directory, not a file``, ``is a named pipe (FIFO), not a regular file``,
    ...)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _mode_problem(mode: int) -> Optional[str]:
    """None for a regular file, else what the file is, as a predicate."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    kind = next((name for test, name in _KINDS if test(mode)), "something else")
    return f"is {kind}, not a regular file"


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "not found"
    return f"cannot be opened ({exc.strerror or type(exc).__name__})"


def input_problem(path: PathLike) -> Optional[str]:
    """None when ``path`` is a regular file (after symbolic links), else the problem:
    ``not found`` (a broken link too), ``is a directory, not a file``, ``is a named pipe (FIFO),
    not a regular file`` ..., or ``cannot be opened (<reason>)``. Never opens the file."""
    try:
        return _mode_problem(os.stat(path).st_mode)
    except OSError as exc:
        return _os_problem(exc)


def open_input(path: PathLike) -> BinaryIO:
    """``path`` opened for binary reading if it is a regular file; else :class:`InputFileError`
    with the problem (:func:`input_problem`'s words). A FIFO is never opened blocking."""
    problem = input_problem(path)
    if problem is not None:
        raise InputFileError(problem)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputFileError(_os_problem(exc)) from exc
    try:
        problem = _mode_problem(os.fstat(fd).st_mode)  # replaced since the stat above
        if problem is not None:
            raise InputFileError(problem)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
