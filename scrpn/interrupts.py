"""SIGTERM raised as an exception, from the command line's first line on.

SIGTERM (what ``kill``, a scheduler or a container stop sends) used to end ``scrpn`` without a
word wherever no handler was installed: while torch was being imported at start-up (seconds,
minutes on a loaded machine) and in every command but ``train`` and ``evaluate``. The command
line now starts in :mod:`scrpn.__main__`, which calls :func:`raise_on_sigterm` before it imports
anything heavy; :func:`scrpn.cli.main` keeps the handler for the whole command. A SIGTERM then
raises :class:`Interrupted` where the program is, as Ctrl-C raises ``KeyboardInterrupt``: a write
under way is abandoned (its temporary removed, :mod:`scrpn.outputs`), locks are released, and the
command ends with one line naming the signal and what was kept, exit 128 + 15. Inside the
training loop the trainer's own flag takes over (it saves ``latest.pth``) and puts this handler
back when the loop ends.

Standard library only, so that importing it costs nothing. Pinned by
``tests/test_bad_input_eval.py`` (SIGTERM during the torch import, during ``evaluate``'s dump,
during ``data stats``).
"""
from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["Interrupted", "raise_on_sigterm", "signal_of"]


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) outside the training loop, raised where the program is; ``signum`` is
    the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def raise_on_sigterm() -> Any:
    """From now on SIGTERM raises :class:`Interrupted`; returns the handler it replaces (None off
    the main thread, where Python cannot install one: nothing changes there)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise)


def signal_of(exc: BaseException) -> int:
    """The signal behind an interruption: :class:`Interrupted`'s, else SIGINT (Ctrl-C)."""
    return int(getattr(exc, "signum", signal.SIGINT))
