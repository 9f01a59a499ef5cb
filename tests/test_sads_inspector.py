"""The SADS inspector (scrpn/viz/sads_inspector.py, scrpn/viz/inspector_widget.py, issue 40).

The hand-made case: a 64 x 64 image, the mini profile's geometry (anchor scale 4, strides
4..64, the image padded to 64: P2 16 x 16 locations at (4 col, 4 row), P3 8 x 8 at multiples of 8,
...), priors as the stage-1 boxes: the square of side 4 x stride centred on each location. One gt
g = [0, 0, 16, 16], centre (8, 8), area 256.

Levels. Base b = 4 x 4 = 16; eq. (1): i_g = floor((log2 256 - (2 log2 16 - 1)) / 2) = floor(1 / 2)
= 0 (P2). Eq. (2): 256 is level 0's middle b^2 = 256, so j_g = 1 (P3).

Stage 2, SAT (k 9, N 2) on the priors. P2's 9 locations nearest (8, 8): (8, 8) at distance 0;
(4, 8), (12, 8), (8, 4), (8, 12) at 4; the four diagonal ones (4, 4) ... (12, 12) at 5.66 (the
next are at 8). Their 16-px priors:
  (8, 8): [0, 0, 16, 16] = g, IoU 1;
  (4, 8): [-4, 0, 12, 16], intersection 12 x 16 = 192, union 256 + 256 - 192 = 320: IoU 0.6 (x4);
  (4, 4): [-4, -4, 12, 12], intersection 144, union 368: IoU 144 / 368 = 0.391304 (x4).
P3's 9 nearest: (8, 8) at 0, (0, 8), (16, 8), (8, 0), (8, 16) at 8, the four corners at 11.3; each
32-px prior contains g: IoU 256 / 1024 = 0.25 (x9).
m_g = (1 + 4 x 0.6 + 4 x 0.391304 + 9 x 0.25) / 18 = 7.215217 / 18 = 0.400845.
Positives: IoU > m_g and centre strictly inside g: (8, 8) and the four at 0.6 (5 positives); the
diagonal ones (0.391) and P3 (0.25) fail the threshold.

Stage 1, PosR (sigma 0.2, continuous): R_g = (8, 8) +- 1.6: only (8, 8) of P2 -> 1 positive. Its
table lists P2's 9 locations nearest the centre (rank by distance), no threshold.

Max-IoU (t3_point's stage 2: pos 0.7, neg 0.7, low-quality 0.3) on the same priors: only the
prior equal to g reaches 0.7 (1 positive); its table lists the locations with IoU >= 0.3, ranked
by IoU: the same 9 of P2 and P2's (0, 8), (16, 8), (8, 0), (8, 16), whose priors ([-8, 0, 8, 16]
...) meet g in 8 x 16 = 128: IoU 128 / 384 = 0.333 (x4). P2's (4, 0) ([-4, -8, 12, 8]: 96 / 416 =
0.23), P3's 0.25 and P4's 256 / 4096 = 0.0625 are below 0.3: 13 rows.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("pandas")

from scrpn.viz.sads_inspector import (CANDIDATE_COLUMNS, InspectorError, compare,  # noqa: E402
                                      inspect_sads, load_image, order_objects, parse_box,
                                      plot_comparison, render_comparison, resolve_setting)

IMAGE = np.zeros((64, 64, 3), dtype=np.uint8)
G = [[0.0, 0.0, 16.0, 16.0]]
M_G = 7.215217391304348 / 18
DIAGONAL = 144 / 368


def _by_location(frame):
    return {(round(r.x), round(r.y), r.level): r for r in frame.itertuples()}


def test_the_candidate_table_of_the_hand_made_case_sads():
    insp = inspect_sads(IMAGE, G)  # setting None: the mini profile's SC-RPN
    assert insp.boxes_source == "priors"
    assert tuple(insp.candidates.columns) == CANDIDATE_COLUMNS
    stage2 = insp.table(0, 2)
    assert len(stage2) == 18 and set(stage2["assigner"]) == {"SAT"}
    assert sorted(stage2["level"].value_counts().items()) == [("P2", 9), ("P3", 9)]
    assert np.allclose(stage2["threshold"], M_G)
    rows = _by_location(stage2)
    assert math.isclose(rows[(8, 8, "P2")].iou, 1.0) and rows[(8, 8, "P2")].rank == 1
    for xy in ((4, 8), (12, 8), (8, 4), (8, 12)):
        r = rows[(*xy, "P2")]
        assert math.isclose(r.iou, 0.6, abs_tol=1e-6) and 2 <= r.rank <= 5
        assert r.passes and r.assigned and r.assigned_to == 0 and r.label == "positive"
    for xy in ((4, 4), (12, 4), (4, 12), (12, 12)):
        r = rows[(*xy, "P2")]
        assert math.isclose(r.iou, DIAGONAL, abs_tol=1e-6) and 6 <= r.rank <= 9
        assert r.inside and not r.passes and not r.assigned and r.label == "negative"
    p3 = stage2[stage2["level"] == "P3"]
    assert np.allclose(p3["iou"], 0.25) and not p3["assigned"].any()
    assert sorted(p3["rank"]) == list(range(1, 10))
    assert len(insp.positives(2, 0)) == 5
    # stage 1: PosR takes (8, 8) only; its rows are P2's 9 nearest, no threshold
    stage1 = insp.table(0, 1)
    assert set(stage1["assigner"]) == {"PosR"} and set(stage1["level"]) == {"P2"}
    assert stage1["threshold"].isna().all() and len(stage1) == 9
    assert stage1[stage1["assigned"]][["x", "y"]].values.tolist() == [[8.0, 8.0]]
    assert stage1["iou"].max() == 1.0  # stage 1 lists the priors' IoU (what stage 1 starts from)


def test_max_iou_table_and_the_a_b_difference():
    a = inspect_sads(IMAGE, G, "SADS (SC-RPN)")
    b = inspect_sads(IMAGE, G, "Max-IoU, both stages")
    table = b.table(0, 2)
    assert set(table["assigner"]) == {"Max-IoU"} and len(table) == 13
    assert np.allclose(table["threshold"], 0.7)
    assert table.sort_values("rank")["iou"].round(6).tolist() == \
        [1.0] + [0.6] * 4 + [round(DIAGONAL, 6)] * 4 + [round(1 / 3, 6)] * 4
    assert sorted(table["rank"]) == list(range(1, 14))
    assert table["assigned"].sum() == 1
    cmp = compare(a, b, stage=2)
    assert cmp.counts() == (4, 0, 1)   # the four 0.6 locations are SAT's only
    assert "4 positive(s) only in A" in cmp.sentence()


def test_a_location_claimed_by_two_gts_passes_for_both_and_goes_to_the_smaller():
    # g1 = [6, 6, 10, 10] (area 16 -> P2, region (8, 8) +- 0.4) also claims P2's (8, 8);
    # PosR gives a location to the smaller gt: g0's row passes its own rule but is g1's.
    insp = inspect_sads(IMAGE, G + [[6.0, 6.0, 10.0, 10.0]])
    row = _by_location(insp.table(0, 1))[(8, 8, "P2")]
    assert row.passes and not row.assigned and row.assigned_to == 1


def test_settings_change_k_sigma_n_and_the_region_rule():
    base = resolve_setting(None)
    assert (base.stage1.type, base.stage2.type, base.stage2.topk) == ("positive_region", "size_aware_threshold", 9)
    s = resolve_setting("SADS (SC-RPN)", k=4, sigma=0.5, n=3, region_rule="rounded")
    assert (s.stage2.topk, s.stage1.center_ratio, s.stage2.num_levels, s.stage1.region_rule) == (4, 0.5, 3, "rounded")
    assert len(inspect_sads(IMAGE, G, s).table(0, 2)) == 3 * 4  # N levels x k (P2, P3, P4 here)
    atss = resolve_setting("PosR + ATSS")
    assert atss.stage2.type == "atss"
    assert set(inspect_sads(IMAGE, G, atss).table(0, 2)["assigner"]) == {"ATSS"}
    cascade = resolve_setting("Cascade RPN: region + Max-IoU")
    assert (cascade.stage1.type, cascade.stage2.type) == ("region", "max_iou")


@pytest.mark.parametrize("boxes, message", [
    ([[50.0, 50.0, 80.0, 70.0]], "outside the 64 x 64 image"),
    ([[10.0, 10.0, 10.0, 30.0]], "zero area"),
    ([[10.0, 10.0, float("nan"), 30.0]], "not a finite number"),
    ([], "no ground-truth box"),
])
def test_bad_boxes_give_one_line(boxes, message):
    with pytest.raises(InspectorError, match=message) as info:
        inspect_sads(IMAGE, boxes)
    assert "\n" not in str(info.value)


def test_bad_files_settings_and_checkpoints_give_one_line(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    for call, message in [
        (lambda: load_image(junk), "cannot read the image"),
        (lambda: load_image(tmp_path / "missing.jpg"), "cannot read the image"),
        (lambda: parse_box("1, 2, 3"), "got 3 number"),
        (lambda: inspect_sads(IMAGE, G, "no_such_row"), "no such study row"),
        (lambda: inspect_sads(IMAGE, G, checkpoint="rpn:0"), "anchor\\(s\\) per location"),
        (lambda: inspect_sads(IMAGE, G, checkpoint="ga_rpn:0"), "GA-RPN"),
        (lambda: inspect_sads(IMAGE, G, checkpoint=junk), "junk.png"),
        # cached metrics but no weights here: refused, never trained
        (lambda: inspect_sads(IMAGE, G, checkpoint=("x4s1_sads_unitbox", 2), results_dir=tmp_path),
         "no weights here"),
    ]:
        with pytest.raises(InspectorError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


def test_objects_ordered_by_size_and_aspect():
    gts = torch.tensor([[0.0, 0, 10, 10], [0, 0, 40, 4], [0, 0, 30, 30], [0, 0, 5, 6]])
    # areas 100, 160, 900, 30; aspects 1, 10, 1, 1.2
    assert order_objects(gts, "smallest") == [3, 0, 1, 2]
    assert order_objects(gts, "largest") == [2, 1, 0, 3]
    assert order_objects(gts, "most slender") == [1, 3, 0, 2]
    assert order_objects(gts, "squarest") == [0, 2, 3, 1]


def test_the_figure_maps_pixels_back_to_image_coordinates():
    a = inspect_sads(IMAGE, G)
    b = inspect_sads(IMAGE, G, "Max-IoU, both stages")
    fig = plot_comparison(a, b, stage=2, gt=0)
    png, fmap = render_comparison(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and fmap.width_px == 1000 and len(fmap.panels) == 2
    for panel, (_, inverse) in enumerate(fmap.panels):
        px, py = inverse.inverted().transform((10.0, 12.0))
        where = fmap.locate(px, fmap.height_px - py)
        assert where[0] == panel and math.isclose(where[1], 10.0, abs_tol=1e-6)
        assert math.isclose(where[2], 12.0, abs_tol=1e-6)


def test_the_api_is_importable_from_scrpn_viz():
    from scrpn.viz import inspect_sads as api

    assert api is inspect_sads


def test_the_widget_types_a_box_switches_b_and_shows_a_candidate_row():
    pytest.importorskip("ipywidgets")
    from scrpn.viz.inspector_widget import SADSInspector

    item = (torch.zeros(3, 64, 64), {"boxes": torch.tensor([[30.0, 30.0, 60.0, 40.0]]),
                                     "iscrowd": torch.zeros(1, dtype=torch.bool)})
    w = SADSInspector(datasets={"SynthShapes val": [item]}, setting_b="SADS (SC-RPN)")
    assert w.error is None and 'data-only-a="0" data-only-b="0"' in w.diff.value
    w.typed.value = "0, 0, 70, 10"
    w._guard(w._on_add)
    assert "outside the 64 x 64 image" in w.message.value and "Traceback" not in w.message.value
    w.typed.value = "0 0 16 16"
    w._guard(w._on_add)
    assert w.error is None and w.gt_index == 1 and len(w.current["A"].positives(2, 1)) == 5
    w.sides["B"]["setting"].value = "Max-IoU, both stages"
    assert 'data-only-a="4" data-only-b="0"' in w.diff.value
    # a click on (8, 8) in panel A selects that location and shows its row
    _, inverse = w.map.panels[0]
    px, py = inverse.inverted().transform((8.0, 8.0))
    w.mode.value = "pick a candidate"
    w.handle_mouse({"type": "mousedown", "dataX": px, "dataY": w.map.height_px - py})
    w.handle_mouse({"type": "mouseup", "dataX": px, "dataY": w.map.height_px - py})
    assert w.selected is not None and "IoU 1.000" in w.selected_row.value
    assert "<table" in w.table.value
    # the wheel zooms around the cursor, a drag in pan mode moves the view
    before = w._limits()
    w.handle_mouse({"type": "wheel", "deltaY": -100, "dataX": px, "dataY": w.map.height_px - py})
    zoomed = w._limits()
    assert zoomed[1] - zoomed[0] == pytest.approx(0.8 * (before[1] - before[0]))
    w.mode.value = "pan"
    _, inverse = w.map.panels[0]
    px, py = inverse.inverted().transform((8.0, 8.0))
    qx, _ = inverse.inverted().transform((4.0, 8.0))
    w.handle_mouse({"type": "mousedown", "dataX": px, "dataY": w.map.height_px - py})
    w.handle_mouse({"type": "mouseup", "dataX": qx, "dataY": w.map.height_px - py})
    assert w._limits()[0] == pytest.approx(zoomed[0] + 4.0, abs=1e-3)
    w.sides["B"]["boxes"].value = None
    w.sides["B"]["boxes"].options = list(w.sides["B"]["boxes"].options) + [("rpn", ("rpn", 0))]
    w.sides["B"]["boxes"].value = ("rpn", 0)
    assert "per location" in w.message.value and "Traceback" not in w.message.value


def test_an_image_without_objects_is_shown_and_a_box_drawn_on_it():
    pytest.importorskip("ipywidgets")
    from scrpn.viz.inspector_widget import SADSInspector

    item = (torch.zeros(3, 64, 64), {"boxes": torch.zeros(0, 4), "iscrowd": torch.zeros(0, dtype=torch.bool)})
    w = SADSInspector(datasets={"SynthShapes val": [item]})
    assert w.error is None and 'data-objects="0"' in w.diff.value and w.figure.value
    _, inverse = w.map.panels[1]   # panel B: drawing works on either panel
    (ax, ay), (bx, by) = inverse.inverted().transform([(0.0, 0.0), (16.0, 16.0)])
    h = w.map.height_px
    w.handle_mouse({"type": "mousedown", "dataX": ax, "dataY": h - ay})
    w.handle_mouse({"type": "mouseup", "dataX": bx, "dataY": h - by})
    assert w.error is None and w.user_boxes == [[0.0, 0.0, 16.0, 16.0]]
    assert len(w.current["A"].positives(2, 0)) == 5  # the hand-made case of this file's docstring
