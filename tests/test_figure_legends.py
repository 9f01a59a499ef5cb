"""Figures a reader can read without the text (issue 39): axis units, the marks named in a
legend, the metric named where the legend quotes it, the ground truth drawn."""
from __future__ import annotations

import numpy as np

from scrpn.viz import figures as F


def _legend_texts(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_fig5_names_its_marks_and_draws_the_ground_truth() -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    grid = np.stack(np.meshgrid([10.0, 20.0, 30.0], [10.0, 20.0, 30.0]), -1).reshape(1, 9, 2)
    gt = np.array([[8.0, 8.0, 40.0, 36.0]])
    fig = F.fig5_point_representation(image, grid, grid + 2.0, np.array([[12.0, 12.0, 32.0, 32.0]]),
                                      np.array([0.9]), gt_boxes=gt)
    texts = _legend_texts(fig)
    assert any("init points" in t for t in texts) and any("refined points" in t for t in texts)
    assert any("ground truth" in t for t in texts)
    # one white dashed rectangle per panel: the gt box (x 8..40, y 8..36)
    for ax in fig.axes:
        gts = [p for p in ax.patches if p.get_edgecolor()[:3] == (1.0, 1.0, 1.0) and p.get_linestyle() == "--"]
        assert len(gts) == 1 and (gts[0].get_x(), gts[0].get_y(), gts[0].get_width(), gts[0].get_height()) == \
            (8.0, 8.0, 32.0, 28.0)
    without = F.fig5_point_representation(image, grid, grid + 2.0, np.array([[12.0, 12.0, 32.0, 32.0]]))
    assert not any("ground truth" in t for t in _legend_texts(without))


def test_fig3_and_fig4_axes_have_units_and_fig3_explains_m_g() -> None:
    fig3 = F.fig3_iou_mask_supervision()
    assert fig3.axes[0].get_xlabel() == "x (pixels)" and fig3.axes[0].get_ylabel() == "y (pixels)"
    assert "m_g: the mean IoU of the gt's SAT candidates" in fig3._suptitle.get_text()
    for ax in F.fig4_iou_aware_score().axes:
        assert ax.get_xlabel() == "x (pixels)" and ax.get_ylabel() == "y (pixels)"


def test_fig7_legend_names_the_metric_of_each_panel() -> None:
    rng = np.random.default_rng(0)
    stats = {"run": {"best_iou_300": rng.random(50), "best_iou_1000": rng.random(50)}}
    fig = F.fig7_iou_mask_effect(stats)
    first, second = (ax.get_legend().get_texts()[0].get_text() for ax in fig.axes)
    # mean recall over 0.5:0.05:0.95 of the same array, by hand
    expected = 100 * np.mean([(stats["run"]["best_iou_1000"] >= t).mean() for t in np.linspace(0.5, 0.95, 10)])
    assert first.startswith("run: AR300 ") and second == f"run: AR1000 {expected:.1f}"


def test_causes_ar1000_has_a_colour_legend_and_names_arms_not_needed() -> None:
    import pandas as pd

    from scrpn.viz import cause_figures as CF

    nan = float("nan")
    frame = pd.DataFrame([
        {"experiment": 4, "claim": "PosR", "arm": "today", "variant": "t", "delta_AR1000": 0.2, "se": 0.4,
         "status": "done"},
        {"experiment": 4, "claim": "PosR", "arm": "S1", "variant": "UnitBox", "delta_AR1000": 0.5, "se": 0.3,
         "status": "done"},
        {"experiment": 4, "claim": "PosR", "arm": "B", "variant": "lr", "delta_AR1000": nan, "se": nan,
         "status": "not needed (verdict read)"}])
    fig = CF.causes_ar1000(frame)
    assert _legend_texts(fig)[:2] == ['today\'s row (arm "today")', "a cause arm"]
    assert "not needed (verdict read)" in [t.get_text() for t in fig.axes[0].texts]


def test_causes_regime_explains_its_star_and_hatching() -> None:
    from scrpn.viz import cause_figures as CF

    mini = {"rpn": [43.0], "cascade_rpn": [51.0], "ga_rpn": [30.0]}
    paper = {"rpn": [54.0], "cascade_rpn": [68.0], "ga_rpn": [50.0]}
    _, gaps = CF.causes_regime(mini, paper).axes
    assert any(t.get_text().replace("\n", " ").startswith(
        "* and hatched: the peers the registered rule reads (cascade_rpn, ga_rpn)") for t in gaps.texts)
