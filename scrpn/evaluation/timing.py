"""Wall-clock inference time per image (the paper's "Time(s)" column of Table I).

``time.perf_counter`` is used because it is monotonic and has the best available resolution.
GPU work is asynchronous: without a synchronisation before reading the clock, a timer measures
only the kernel launches. Both helpers therefore take an optional ``synchronize`` callable (pass
``torch.cuda.synchronize`` on a GPU; leave it ``None`` on the CPU). Disabling autograd
(``torch.no_grad()`` / ``torch.inference_mode()``) is the caller's job, inside ``fn``.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Type


class Timer:
    """Context manager measuring the seconds spent in its block.

    Example::

        with Timer(synchronize=torch.cuda.synchronize) as timer:
            model(images)
        print(timer.seconds)
    """

    def __init__(self, synchronize: Optional[Callable[[], Any]] = None) -> None:
        self.synchronize = synchronize
        self.seconds: float = float("nan")
        self._start: Optional[float] = None

    def _sync(self) -> None:
        if self.synchronize is not None:
            self.synchronize()

    def __enter__(self) -> "Timer":
        self._sync()  # do not bill earlier, still-running work to this block
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self._sync()
        assert self._start is not None
        self.seconds = time.perf_counter() - self._start


class TimingResult(NamedTuple):
    """Mean seconds per image and the individual timings (one per input, in input order)."""

    mean_seconds: float
    seconds: List[float]


def measure_seconds_per_image(
    fn: Callable[[Any], Any],
    inputs: Sequence[Any],
    warmup: int = 3,
    synchronize: Optional[Callable[[], Any]] = None,
) -> TimingResult:
    """Time ``fn(x)`` for every ``x`` in ``inputs``, after ``warmup`` untimed calls.

    Each input is one image (a batch of one), so the mean is seconds per image. The warm-up
    calls cycle through ``inputs`` and are not recorded: first calls pay for memory allocation,
    cuDNN autotuning and lazy initialisation, which a steady-state number should not include.
    Every input is then timed once, so no input is left out of the mean.
    """
    if len(inputs) == 0:
        raise ValueError("measure_seconds_per_image needs at least one input")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for i in range(warmup):
        fn(inputs[i % len(inputs)])
    seconds: List[float] = []
    for x in inputs:
        with Timer(synchronize=synchronize) as timer:
            fn(x)
        seconds.append(timer.seconds)
    return TimingResult(mean_seconds=sum(seconds) / len(seconds), seconds=seconds)
