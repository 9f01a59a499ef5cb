"""The pictures before the tables of notebooks 02 and 08 (``scrpn.viz.lessons``, issue 39): the
numbers they draw, counted by hand on tiny inputs, and the legends that name them."""
from __future__ import annotations

import math

import numpy as np
import pytest

from scrpn.pyramid import fpn_level
from scrpn.viz import lessons as L


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_level_edges_are_where_eq1_changes_level() -> None:
    edges = L.level_edges(16.0, 5)
    assert edges == pytest.approx([16 * math.sqrt(2), 32 * math.sqrt(2), 64 * math.sqrt(2), 128 * math.sqrt(2)])
    for level, edge in enumerate(edges):   # sqrt(area) just below an edge: this level; just above: the next
        assert fpn_level((edge - 0.01) ** 2, 16.0, 5) == level
        assert fpn_level((edge + 0.01) ** 2, 16.0, 5) == level + 1


def test_objects_per_image_counts_each_image_that_holds_one() -> None:
    assert L.objects_per_image(np.array([3, 3, 7, 7, 7, 9])).tolist() == [2, 3, 1]
    assert L.objects_per_image(np.array([], dtype=np.int64)).tolist() == []


def test_detector_inputs_draws_the_share_of_covered_objects_and_names_it() -> None:
    stats = {"A": {"best_iou_300": np.array([0.9, 0.7, 0.6, 0.1], dtype=np.float32),
                   "best_iou_1000": np.array([0.9, 0.7, 0.66, 0.1], dtype=np.float32)}}
    fig = L.detector_inputs(stats, budgets=(300, 1000), pos_iou=0.65)
    left, right = fig.axes
    # at 0.65: 2 of 4 objects among the top 300 (0.9, 0.7), 3 of 4 among the top 1000 (0.66 too)
    assert _legend(left) == ["IoU >= 0.65: the R-CNN head's positives", "A: 50 % at IoU 0.65"]
    assert _legend(right)[1] == "A: 75 % at IoU 0.65"
    x, y = left.lines[0].get_data()
    assert x[0] == pytest.approx(0.3) and y[0] == pytest.approx(75.0)     # 0.9, 0.7, 0.6 reach 0.3
    assert y[-1] == pytest.approx(0.0)                                     # none reaches 0.95
    assert left.get_xlabel() == "IoU threshold t" and "(%)" in left.get_ylabel()


def test_object_shapes_shares_by_aspect_ratio_and_names_the_counts() -> None:
    stats = {"toy": {"gt_wh": np.array([[10.0, 10.0], [30.0, 10.0], [100.0, 20.0]]),
                     "gt_image": np.array([0, 0, 4])}}
    fig = L.object_shapes(stats, base_scale=16.0, image_size=256)
    size, aspect, count = fig.axes
    heights = [p.get_height() for p in aspect.patches]
    # aspects 1, 3 and 5 fall in [1, 1.5), [3, 5) and [5, inf): a third of the objects each
    assert heights == pytest.approx([100 / 3, 0.0, 0.0, 100 / 3, 100 / 3])
    assert _legend(size) == ["toy (3 objects)"] and _legend(count) == ["toy (2 images)"]
    assert [t.get_text() for t in size.texts] == ["P2", "P3", "P4", "P5", "P6"]
    assert "256-px" in fig._suptitle.get_text() and "(px)" in size.get_xlabel()
