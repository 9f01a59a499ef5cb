"""Everything the tool writes: one atomic write, and the lock on a run folder.

:func:`atomic_write` is the only way ``scrpn`` replaces a file it owns (checkpoints,
``metrics.json``, ``proposals.json``, ``config.yaml``, a rewritten ``log.jsonl``, bench results,
study records): the content goes to a temporary ``.<name>.<random>.tmp`` in the target's folder,
is flushed and ``fsync``-ed, and then replaces the target with ``os.replace`` (atomic on POSIX
and Windows). A process killed while writing (SIGKILL, Ctrl-C, power loss) therefore leaves the
previous file intact, and a write that fails (a full disk: ``ENOSPC``) raises :class:`WriteError`
naming the file, removes its temporary and leaves the previous file intact too. A killed write
can leave its temporary behind; ``scrpn.engine.checkpoint.remove_stale_temporaries`` deletes those
when a run starts or resumes in that folder. ``tests/test_bad_input_eval.py`` pins both (ENOSPC
by monkeypatch, SIGKILL in a subprocess during the proposals dump).

:class:`RunLock` is the lock ``scrpn train`` (and ``scrpn evaluate --out``) holds on its output
folder for the whole run: a ``.scrpn.lock`` file holding the owner's pid, locked with ``flock``.
A second process on the same folder is refused with one line naming the first one's pid. The
kernel releases ``flock`` when its process dies, so a lock left by a killed run is stale by
construction: the next run takes it over (and says so). Without ``fcntl`` (Windows) the pid in
the file is checked for liveness instead.
"""
from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Optional, Union

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "TMP_SUFFIX", "LockedError", "RunLock", "WriteError", "atomic_write",
           "atomic_write_text", "written_files"]

PathLike = Union[str, "os.PathLike[str]"]
TMP_SUFFIX = ".tmp"  # atomic_write writes ".<name>.<random>.tmp", then renames it
LOCK_NAME = ".scrpn.lock"
_WRITTEN: list[Path] = []  # every file atomic_write completed in this process, in order


def written_files() -> list[Path]:
    """The files :func:`atomic_write` has completed in this process, in order (a copy): what an
    interrupted command reports it wrote (``scrpn.cli``)."""
    return list(_WRITTEN)


class WriteError(RuntimeError):
    """An output file could not be written (e.g. the disk is full); the previous file is intact."""


class LockedError(RuntimeError):
    """The output folder is in use by another ``scrpn`` process."""


def _file_mode() -> int:
    """``0o666`` less the umask: what ``open(path, "w")`` would give (mkstemp gives 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Replace ``path`` by what ``write(stream)`` writes to a binary stream, atomically.

    Parent folders are created. On any failure the temporary file is removed and the previous
    ``path`` is left as it was; an ``OSError`` (full disk, read-only folder) becomes
    :class:`WriteError` naming ``path``; anything else (``KeyboardInterrupt`` included) is raised
    as it is.
    """
    path = Path(path)
    tmp_name: Optional[str] = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX,
                                            dir=path.parent)
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp_name, _file_mode())
        os.replace(tmp_name, path)
        tmp_name = None
        _WRITTEN.append(path)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write ({exc.strerror or type(exc).__name__}); "
                         "the previous file, if any, is unchanged") from exc
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    """:func:`atomic_write` of ``text`` encoded as UTF-8."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda stream: stream.write(data))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def _read_owner(path: Path) -> tuple[Optional[int], str]:
    """``(pid, text)`` of a lock file's content (``pid`` None when it holds no pid)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None, ""
    first = text.split()[0] if text else ""
    return (int(first) if first.isdigit() else None), text


class RunLock:
    """The lock on an output folder, held from :meth:`acquire` to :meth:`release` (a context
    manager). ``note`` is told when a stale lock of a killed process is taken over."""

    def __init__(self, folder: PathLike, command: str = "scrpn",
                 note: Optional[Callable[[str], None]] = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command
        self.note = note
        self._fd: Optional[int] = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _refuse(self, pid: Optional[int]) -> LockedError:
        who = f"pid {pid}" if pid is not None else "another process"
        return LockedError(f"{self.folder}: in use by another scrpn process ({who}, lock file "
                           f"{self.path}); wait for it to finish or pass another --out")

    def acquire(self) -> None:
        """Take the lock, or raise :class:`LockedError` naming the pid that holds it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"{self.folder}: cannot create the output folder "
                             f"({exc.strerror or type(exc).__name__})") from exc
        for _ in range(10):  # the file may be removed by its owner between open and flock
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise WriteError(f"{self.path}: cannot create the lock file "
                                 f"({exc.strerror or type(exc).__name__})") from exc
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError as exc:
                        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                            raise self._refuse(_read_owner(self.path)[0]) from None
                        # no flock here (some network file systems): judge by the pid alone
                        if self._held_by_live_pid():
                            raise self._refuse(_read_owner(self.path)[0]) from None
                    if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                        os.close(fd)  # we locked a file its owner has just removed: retry
                        continue
            except FileNotFoundError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            pid, _ = _read_owner(self.path)
            if pid is not None and pid != os.getpid():
                if fcntl is None and self._held_by_live_pid():
                    os.close(fd)
                    raise self._refuse(pid)
                if self.note is not None:
                    self.note(f"{self.path}: took over the stale lock of pid {pid} "
                              "(that process is gone)")
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()} {socket.gethostname()} {self.command}\n".encode())
            except OSError as exc:
                os.close(fd)
                raise WriteError(f"{self.path}: cannot write the lock file "
                                 f"({exc.strerror or type(exc).__name__})") from exc
            self._fd = fd
            return
        raise self._refuse(None)

    def _held_by_live_pid(self) -> bool:
        """Without ``flock``: is the pid in the lock file another process that still runs?"""
        pid = _read_owner(self.path)[0]
        return pid is not None and pid != os.getpid() and _pid_alive(pid)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked: nobody else holds this inode
        except OSError:
            pass
        os.close(self._fd)  # closing releases flock
        self._fd = None
