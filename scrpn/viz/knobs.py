"""The teaching knobs of the notebooks' parameters cells: their types and ranges, checked before
a notebook runs.

A knob out of range or of the wrong type (``scrpn reproduce --only 10 -p gt=999``, ``-p k=0``,
``-p nms_thr=abc``) used to fail inside the kernel, minutes later, with a traceback. Now
``scrpn reproduce`` checks every ``-p`` against :data:`KNOBS` before papermill starts (one line
``scrpn: error: 10_sads_inspector.py: -p gt=999: ...``, exit 2; ``scrpn.study.notebooks``), and
notebook 10's data-dependent ranges (the validation image, the object of that image) against the
data it will read (:func:`scrpn.viz.sads_inspector.inspector_object`), as is notebook 11's image
(:func:`scrpn.viz.teaching.teaching_image`). Run directly in Jupyter, notebooks 10 and 11 call the
same checks in their first code cell after the parameters, and in the cell that picks the image,
and raise one :class:`ParameterError`.

A knob is a whole number (``int``; ``True`` and ``3.0`` are not) or a number (``int`` or
``float``) in a closed or half-open range; ``None`` where the notebook chooses by itself.
Imports nothing of ``scrpn``: the notebooks, the inspector and ``scrpn reproduce`` share it. Pinned
by ``tests/test_bad_input_cli.py`` (hand-written values at and beyond each bound).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

__all__ = ["KNOBS", "Knob", "ParameterError", "check_knobs"]


class ParameterError(ValueError):
    """A notebook parameter of the wrong type or out of range; ``name``, ``value`` and
    ``problem`` (what it must be) are kept for the command line's wording."""

    def __init__(self, name: str, value: Any, problem: str) -> None:
        super().__init__(f"{name} = {value!r}: {problem}")
        self.name, self.value, self.problem = name, value, problem


@dataclass(frozen=True)
class Knob:
    """One parameter: ``whole`` (an int) or a number, in ``low`` .. ``high`` (``None``: no upper
    bound; ``low_open``: ``low`` itself excluded); ``optional``: ``None`` allowed."""

    name: str
    whole: bool
    low: float
    high: Optional[float] = None
    low_open: bool = False
    optional: bool = True

    def expected(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        fmt = (lambda v: str(int(v))) if self.whole else (lambda v: f"{v:g}")
        if self.high is None:
            span = f"{'>' if self.low_open else '>='} {fmt(self.low)}"
        elif self.low_open:
            span = f"in ({fmt(self.low)}, {fmt(self.high)}]"
        else:
            span = f"in {fmt(self.low)} .. {fmt(self.high)}"
        return f"expected {kind} {span}" + (" (or None: the notebook's own choice)" if self.optional else "")

    def check(self, value: Any) -> None:
        if value is None and self.optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or (self.whole and not isinstance(value, int)):
            raise ParameterError(self.name, value, self.expected())
        if not math.isfinite(value) or value < self.low or (self.low_open and value == self.low) \
                or (self.high is not None and value > self.high):
            raise ParameterError(self.name, value, self.expected())


# notebook (file stem) -> its teaching knobs (the reserved ones, profile ..., are reproduce's own)
KNOBS: dict[str, tuple[Knob, ...]] = {
    "10_sads_inspector": (
        Knob("image_index", whole=True, low=0),      # upper bound: the validation set's size
        Knob("gt", whole=True, low=0),               # upper bound: the objects of that image
        Knob("k", whole=True, low=1),                # SAT's / ATSS's candidates per level
        Knob("sigma", whole=False, low=0.0, high=1.0, low_open=True),   # PosR's centre ratio
        Knob("num_levels", whole=True, low=1, high=5),                  # SAT's N (FPN P2-P6)
        Knob("n_images", whole=True, low=1, optional=False),
    ),
    "11_teaching_weak_correlations": (
        Knob("image_index", whole=True, low=0),
        Knob("near_iou", whole=False, low=0.0, high=1.0, low_open=True, optional=False),
        Knob("nms_thr", whole=False, low=0.0, high=1.0, low_open=True, optional=False),
        Knob("top_k", whole=True, low=1, optional=False),
    ),
}


def check_knobs(notebook: str, values: Mapping[str, Any]) -> None:
    """Check the ``values`` that ``notebook`` (a file stem) has knobs for; the first bad one
    raises :class:`ParameterError`."""
    for knob in KNOBS.get(notebook, ()):
        if knob.name in values:
            knob.check(values[knob.name])
