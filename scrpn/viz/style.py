"""The figures' text sizes, in one place, and the legibility rule they meet (issue 39, item 5).

**The reading.** "Every figure's text legible at 100 % zoom in a 1280-px-wide browser." A figure
reaches a reader two ways: as a notebook output (IPython draws a :class:`~matplotlib.figure.Figure`
at its own ``dpi``, :data:`DISPLAY_DPI` = 100, cropped to its tight bounding box) and as the PNG
that :func:`scrpn.viz.common.save_figure` writes (:data:`SAVE_DPI` = 150, tight). A browser shows
either image at its pixel size unless it is wider than the column it sits in; then it is scaled down
to the column (JupyterLab's output area and GitHub's file view both give images ``max-width: 100%``).

* **The column, :data:`BROWSER_PX` = 1000 px.** A 1280-px window in JupyterLab 4 keeps about
  1280 - 2 x 33 (the side bars' tab strips) - 72 (the cell's prompt and collapser) - 2 x ~20 (the
  notebook's padding) - 15 (a scroll bar) ≈ 1090 px for the output area with the file browser
  closed; we take 1000 to leave room for an open side panel's first pixels and the window frame,
  the width the inspector (:func:`scrpn.viz.sads_inspector.plot_comparison`) was sized for.
* **The threshold, :data:`MIN_TEXT_PX` = 11 px** (the size a font of ``s`` points is drawn at, in
  CSS pixels, its em height). A browser's body text is 16 px; 11-12 px is the smallest size design
  systems use for secondary text (captions, footnotes), below which the lower-case letters are
  under 6 px tall and need zoom. matplotlib's own default (10 pt at 100 dpi) is 13.9 px.

So a text of ``s`` points in a figure whose tight box is ``w`` inches wide appears, drawn at ``d``
dpi, at ``s * d / 72 * min(1, BROWSER_PX / (w * d))`` px (:func:`shown_px`), and must reach
:data:`MIN_TEXT_PX` at both dpis. For a figure at most ``BROWSER_PX / DISPLAY_DPI`` = 10 inches wide
that is any text of at least 7.92 pt (:data:`SMALL` = 9 pt gives 12.5 px); a wider figure is
shrunk, and its text must grow with it (an 18-inch figure would need 14.3 pt).

**The style.** :data:`RC` sets the sizes (:data:`SMALL` for ticks, legends and annotations,
:data:`TEXT` for axis labels, :data:`TITLE` for panel titles, :data:`SUPTITLE` for a figure's own
title) and the display dpi; :func:`legible` runs a figure function under it, so a figure needs no
size of its own. :func:`small_texts` finds every drawn text below the threshold;
``tests/test_figure_legibility.py`` builds every figure function of :mod:`scrpn.viz` and fails naming
the figure and the text.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import matplotlib
from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = ["BROWSER_PX", "DISPLAY_DPI", "MAX_WIDTH_IN", "MIN_TEXT_PX", "RC", "SAVE_DPI", "SMALL", "SUPTITLE",
           "TEXT", "TITLE", "legible", "shown_px", "small_texts"]

BROWSER_PX = 1000          # the output column of a 1280-px-wide JupyterLab window (module docstring)
MIN_TEXT_PX = 11.0         # the smallest legible text at 100 % zoom, in CSS px
DISPLAY_DPI = 100          # a Figure's dpi: what a notebook shows
SAVE_DPI = 150             # save_figure's PNG
MAX_WIDTH_IN = BROWSER_PX / DISPLAY_DPI   # wider figures are shrunk in the notebook

SMALL = 9.0                # pt: tick labels, legends, annotations in the axes
TEXT = 10.0                # pt: axis labels, body text
TITLE = 11.0               # pt: a panel's title
SUPTITLE = 12.0            # pt: the figure's title

RC: dict[str, Any] = {
    "figure.dpi": DISPLAY_DPI,
    "savefig.dpi": SAVE_DPI,
    "font.size": TEXT,
    "axes.labelsize": TEXT,
    "axes.titlesize": TITLE,
    "figure.titlesize": SUPTITLE,
    "figure.labelsize": TEXT,
    "xtick.labelsize": SMALL,
    "ytick.labelsize": SMALL,
    "legend.fontsize": SMALL,
    "legend.title_fontsize": SMALL,
}

F = TypeVar("F", bound=Callable[..., Any])


def legible(function: F) -> F:
    """Run a figure function under :data:`RC`: every axes, tick, legend and text it creates takes
    the shared sizes (matplotlib reads them when an artist is made, so the figure keeps them when it
    is drawn or saved later, outside the context)."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(RC):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def shown_px(size_pt: float, width_in: float, dpi: float, column_px: float = BROWSER_PX) -> float:
    """The height in CSS px of a ``size_pt`` text of an image ``width_in`` inches wide drawn at
    ``dpi`` and shown at 100 % zoom in a column ``column_px`` wide (scaled down to fit, never up)."""
    return size_pt * dpi / 72.0 * min(1.0, column_px / (width_in * dpi))


def small_texts(fig: Figure, min_px: float = MIN_TEXT_PX) -> list[tuple[str, float]]:
    """Every text ``fig`` draws that appears below ``min_px`` (module docstring), as (text, px at
    the worse of the notebook's and the saved PNG's dpi), smallest first. Drawn texts only: visible,
    not empty, inside the figure (tick labels matplotlib keeps beyond the axis limits are not drawn).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width_in = fig.get_tightbbox(renderer).width          # inches: the tight crop both paths use
    shown = min(shown_px(1.0, width_in, dpi) for dpi in (fig.dpi, SAVE_DPI))   # px per pt
    figure_box = fig.bbox
    out = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or text.figure is None:
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        box = text.get_window_extent(renderer)
        if box.width <= 0 or not box.overlaps(figure_box):
            continue
        px = text.get_fontsize() * shown
        if px < min_px:
            out.append((text.get_text(), px))
    return sorted(out, key=lambda item: item[1])
