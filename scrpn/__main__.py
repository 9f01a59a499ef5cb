"""``python -m scrpn`` and the ``scrpn`` console script (``pyproject.toml``: ``scrpn.__main__:main``).

SIGTERM raises from the first line on (:func:`scrpn.interrupts.raise_on_sigterm`), before torch is
imported: a SIGTERM or Ctrl-C while the command line is still starting up is one line saying that
nothing was written, exit 128 + the signal, instead of a silent death or a traceback out of the
torch import (``tests/test_bad_input_eval.py``). Python's own start-up, before this module runs,
is the only window left to the default disposition.
"""
import signal
import sys

from scrpn.interrupts import raise_on_sigterm, signal_of


def main() -> int:
    raise_on_sigterm()
    try:
        from scrpn.cli import main as run_command
    except KeyboardInterrupt as exc:
        signum = signal_of(exc)
        print(f"scrpn: interrupted ({signal.Signals(signum).name}) while starting up (importing "
              "torch and the package): nothing was written", file=sys.stderr, flush=True)
        return 128 + signum
    return run_command()


if __name__ == "__main__":
    raise SystemExit(main())
