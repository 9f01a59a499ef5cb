"""The figure functions (scrpn/viz/figures.py): hand-worked numbers, the live Fig. 3-5 examples, and
that every figure builds headless with the expected panels."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torchvision.ops import box_iou

from scrpn.viz import cause_figures as CF
from scrpn.viz import figures as F

ROOT = Path(__file__).parents[1]


# ------------------------------------------------------------------ recall_at_iou
def test_recall_at_iou_hand_values():
    best = np.array([0.0, 0.5, 0.7, 0.95, 1.0], dtype=np.float32)
    r = F.recall_at_iou(best, [0.5, 0.7, 0.75, 0.95, 1.0])
    # >= t; float32(0.7) = 0.69999999 must still count at t = 0.7, float32(0.95) at 0.95
    np.testing.assert_allclose(r, [4 / 5, 3 / 5, 2 / 5, 2 / 5, 1 / 5])
    assert r.dtype == np.float64


def test_recall_at_iou_default_thresholds_and_empty():
    assert np.allclose(F.RECALL_THRESHOLDS, np.arange(10) * 0.05 + 0.5)
    np.testing.assert_allclose(F.recall_at_iou(np.array([0.72, 0.1], dtype=np.float32)),
                               [0.5, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0])
    empty = F.recall_at_iou(np.zeros(0, np.float32), [0.5, 0.7])
    assert empty.shape == (2,) and np.isnan(empty).all()


# ------------------------------------------------------------------ recall_by_aspect_ratio
def _tiny_stats():
    wh = np.array([[10, 10],    # ratio 1    -> [1, 1.5)
                   [10, 14],    # ratio 1.4  -> [1, 1.5)
                   [15, 10],    # ratio 1.5  -> [1.5, 2)  (lower edge belongs to the bin)
                   [10, 30],    # ratio 3    -> [3, 5)
                   [60, 10],    # ratio 6    -> [5, inf)
                   [0, 10]],    # degenerate -> no bin
                  dtype=np.float32)
    return {"gt_wh": wh,
            "best_iou_1000": np.array([0.8, 0.6, 0.75, 0.7, 0.2, 0.9], dtype=np.float32),
            "best_iou_300": np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.9], dtype=np.float32)}


def test_recall_by_aspect_ratio_hand_values():
    labels, recall, counts = F.recall_by_aspect_ratio(_tiny_stats(), threshold=0.7, k=1000)
    assert labels == ["[1, 1.5)", "[1.5, 2)", "[2, 3)", "[3, 5)", "[5, inf)"]
    np.testing.assert_array_equal(counts, [2, 1, 0, 1, 1])          # degenerate box left out
    np.testing.assert_allclose(recall, [0.5, 1.0, np.nan, 1.0, 0.0])  # empty bin -> NaN
    _, recall300, _ = F.recall_by_aspect_ratio(_tiny_stats(), threshold=0.7, k=300)
    np.testing.assert_allclose(recall300, [0.0, 0.0, np.nan, 0.0, 1.0])  # reads best_iou_<k>


def test_recall_by_aspect_ratio_custom_bins_and_errors():
    labels, recall, counts = F.recall_by_aspect_ratio(_tiny_stats(), 0.65, 1000, bins=(1, 2, 4))
    assert labels == ["[1, 2)", "[2, 4)"]
    np.testing.assert_array_equal(counts, [3, 1])                   # ratio 6 is beyond the last edge
    np.testing.assert_allclose(recall, [2 / 3, 1.0])
    with pytest.raises(KeyError):
        F.recall_by_aspect_ratio(_tiny_stats(), 0.5, k=100)
    with pytest.raises(ValueError):
        F.recall_by_aspect_ratio(_tiny_stats(), 0.5, 1000, bins=(2, 1))
    bad = dict(_tiny_stats(), best_iou_1000=np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        F.recall_by_aspect_ratio(bad, 0.5, 1000)


def test_synthetic_stats_follow_the_contract():
    s = F.synthetic_stats(num_gt=50, seed=3)
    assert s["gt_wh"].shape == (50, 2) and s["gt_wh"].dtype == np.float32
    assert s["gt_image"].shape == (50,) and s["gt_image"].dtype == np.int64
    assert np.allclose(s["iou_bins"], np.linspace(0, 1, 21)) and s["iou_bins"].dtype == np.float32
    for k in (100, 300, 1000):
        assert s[f"best_iou_{k}"].shape == (50,) and s[f"best_iou_{k}"].dtype == np.float32
        assert s[f"proposal_iou_hist_{k}"].shape == (20,)
        assert s[f"proposal_iou_hist_{k}"].dtype == np.int64
    assert (s["best_iou_100"] <= s["best_iou_300"]).all() and (s["best_iou_300"] <= s["best_iou_1000"]).all()


# ------------------------------------------------------------------ Fig. 4
@pytest.mark.parametrize("double_sigmoid", [True, False])
def test_fig4_score_nms_keeps_a_iou_aware_nms_keeps_b(double_sigmoid):
    ex = F.fig4_example_numbers(double_sigmoid=double_sigmoid)
    a, b = ex["names"].index("A"), ex["names"].index("B")
    assert ex["cls"].argmax() == a and ex["iou"].argmax() == b and ex["iou"].argmin() == a
    assert (ex["pairwise_iou"][a, b] > ex["nms_thr"]) and (ex["pairwise_iou"] > ex["nms_thr"]).all()
    assert ex["kept_cls"] == ["A"]
    assert ex["kept_iou_aware"] == ["B"]
    np.testing.assert_allclose(ex["iou_aware"], 0.5 * (ex["cls"] + ex["mask"]), rtol=1e-6)
    if double_sigmoid:       # the branch's output range (sigmoid(0), sigmoid(1))
        assert (ex["mask"] > 0.5).all() and (ex["mask"] < 1 / (1 + math.exp(-1))).all()
    else:
        np.testing.assert_allclose(ex["mask"], ex["iou"], atol=1e-4)


# ------------------------------------------------------------------ Fig. 3
@pytest.mark.parametrize("samples", ["classification", "regression"])
def test_iou_mask_supervision_example(samples):
    ex = F.iou_mask_supervision_example(samples=samples, seed=1)
    pos, trained = ex["positive"], ex["trained"]
    assert pos.any()
    if samples == "classification":   # every positive (< 128) plus negatives up to the 256 samples
        assert trained.sum() == 256 and trained[pos].all()
        assert ex["targets"][pos].mean() > ex["targets"][trained & ~pos].mean()
    else:
        np.testing.assert_array_equal(trained, pos)
    gt = torch.as_tensor(ex["gt_box"])[None]
    own = box_iou(torch.as_tensor(ex["refined_boxes"][pos]), gt)[:, 0].numpy()
    np.testing.assert_allclose(ex["targets"][pos], own, rtol=1e-5, atol=1e-6)  # target = IoU(refined, gt)
    assert (ex["targets"] >= 0).all() and (ex["targets"] <= 1).all()
    assert set(ex["level"][pos].tolist()) <= set(ex["gt_levels"].tolist())


# ------------------------------------------------------------------ Fig. 5 / point_proposals
@pytest.fixture(scope="module")
def smoke_model():
    from scrpn.config import load_config
    from scrpn.build import build_model

    cfg = load_config(ROOT / "configs/smoke/sc_rpn.yaml", ["model.backbone.pretrained=false"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    image = torch.rand(3, 128, 128, generator=torch.Generator().manual_seed(0))
    return model, image


def test_point_proposals_shapes_and_boxes_are_minmax_of_refined_points(smoke_model):
    from scrpn.models.points import points_to_boxes

    model, image = smoke_model
    target = {"img_shape": (128, 128)}
    r = F.point_proposals(model, image, target, k=5)
    assert r["init_points"].shape == (5, 9, 2) and r["refined_points"].shape == (5, 9, 2)
    assert r["boxes"].shape == (5, 4) and r["scores"].shape == (5,)
    np.testing.assert_allclose(r["boxes"], points_to_boxes(torch.from_numpy(r["refined_points"])).numpy(),
                               atol=1e-4)
    assert (np.diff(r["scores"]) <= 0).all()
    with torch.no_grad():      # exactly the proposals the model returns (issue 20: Fig. 5)
        own = model(image[None], [target])[0]
    from scrpn.models.postprocess import clip_boxes
    torch.testing.assert_close(clip_boxes(torch.from_numpy(r["boxes"]), (128, 128)), own["boxes"][:5])
    torch.testing.assert_close(torch.from_numpy(r["scores"]), own["scores"][:5])
    assert not model.training


def test_point_proposals_decode_every_level_as_the_head(smoke_model):
    from scrpn.models.points import points_to_boxes

    model, image = smoke_model
    r = F.point_proposals(model, image, {"img_shape": (128, 128)}, k=10 ** 6)
    with torch.no_grad():
        out = model.head(model.backbone(image[None]))
        own = model(image[None], [{"img_shape": (128, 128)}])[0]
    assert len(r["indices"]) == len(own["boxes"]) and len(set(r["levels"].tolist())) > 1
    np.testing.assert_array_equal(r["strides"], np.array(model.head.strides)[r["levels"]])
    idx = torch.as_tensor(r["indices"])
    init_boxes = points_to_boxes(torch.from_numpy(r["init_points"]))
    refined_boxes = points_to_boxes(torch.from_numpy(r["refined_points"]))
    torch.testing.assert_close(init_boxes, out.init_boxes[0, idx], atol=1e-3, rtol=1e-5)
    torch.testing.assert_close(refined_boxes, out.refined_boxes[0, idx], atol=1e-3, rtol=1e-5)


# ------------------------------------------------------------------ figures build headless
def _stats_by_label():
    return {"without": F.synthetic_stats(quality=0.6, seed=1),
            "with": F.synthetic_stats(quality=0.7, seed=2)}


def test_live_figures_have_their_panels(smoke_model):
    fig3 = F.fig3_iou_mask_supervision()
    assert isinstance(fig3, Figure) and len(fig3.axes) == 2 + 2   # image, 2 levels, colour bar
    assert len(F.fig3_iou_mask_supervision(num_levels=3).axes) == 2 + 3
    assert len(F.fig4_iou_aware_score().axes) == 2
    model, image = smoke_model
    r = F.point_proposals(model, image, {"img_shape": (128, 128)}, k=3)
    fig5 = F.fig5_point_representation(image, r["init_points"], r["refined_points"], r["boxes"],
                                       r["scores"])
    assert isinstance(fig5, Figure) and len(fig5.axes) == 3
    uint8 = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
    assert len(F.fig5_point_representation(uint8, r["init_points"], r["refined_points"],
                                           r["boxes"]).axes) == 3
    with pytest.raises(ValueError):
        F.fig5_point_representation(uint8, r["init_points"], r["refined_points"], r["boxes"][:1])


def test_study_figures_have_their_panels_and_numbers():
    stats = _stats_by_label()
    fig6 = F.fig6_iou_distribution(stats, k=300)
    assert len(fig6.axes) == 1
    heights = np.array([p.get_height() for p in fig6.axes[0].patches]).reshape(2, 20)
    np.testing.assert_allclose(heights.sum(axis=1), [1.0, 1.0], rtol=1e-6)   # normalised
    raw = F.fig6_iou_distribution(stats, k=100, normalize=False)
    assert np.array([p.get_height() for p in raw.axes[0].patches])[:20].sum() == \
        stats["without"]["proposal_iou_hist_100"].sum()
    fig7 = F.fig7_iou_mask_effect(stats)
    assert len(fig7.axes) == 2
    line = fig7.axes[1].get_lines()[1]   # top 1000, second run
    np.testing.assert_allclose(line.get_ydata(), F.recall_at_iou(stats["with"]["best_iou_1000"]))
    fig8 = F.fig8_aspect_ratio_recall(stats)
    assert len(fig8.axes) == 2
    assert len(F.fig8_aspect_ratio_recall(stats, thresholds=(0.5, 0.7, 0.9)).axes) == 3
    _, want, _ = F.recall_by_aspect_ratio(stats["without"], 0.8, 1000)
    got = [p.get_height() for p in fig8.axes[1].patches][:len(want)]
    np.testing.assert_allclose(got, want)
    tiny = {"a": _tiny_stats()}   # an empty bin (NaN) must not break drawing
    assert len(F.fig8_aspect_ratio_recall(tiny).axes) == 2
    with pytest.raises(ValueError):
        F.fig6_iou_distribution({})


# ------------------------------------------------------------------ logs
def test_read_log_skips_blank_and_a_truncated_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    rows = [{"type": "train", "iter": 20, "loss_s1_cls": 0.5, "loss": 0.7},
            {"type": "eval", "iter": 20, "AR100": 10.0}]
    path.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n" + '{"type": "tr')
    assert F.read_log(path) == rows
    path.write_text('{"type": "tr\n' + json.dumps(rows[0]) + "\n")
    with pytest.raises(ValueError, match=":1:"):
        F.read_log(path)


def test_training_curves_panels_and_total(tmp_path):
    rpn = [{"type": "train", "iter": i, "loss_s1_cls": 1.0 / i, "loss_s1_reg": 0.1, "loss": 1.0 / i + 0.1}
           for i in (10, 20, 30)] + [{"type": "eval", "iter": 30, "AR100": 1.0}]
    sc = [{"type": "train", "iter": i, "loss_s1_reg": 0.2, "loss_s2_cls": 0.3, "loss_s2_reg": 0.4,
           "loss_mask": 0.7} for i in (10, 20)]            # no "loss": the total is the sum
    fig = F.training_curves({"rpn": rpn, "sc_rpn": sc})
    assert [ax.get_title() for ax in fig.axes] == ["total loss", "stage 1", "stage 2"]
    totals = {l.get_label(): l.get_ydata() for l in fig.axes[0].get_lines()}
    np.testing.assert_allclose(totals["sc_rpn"], [1.6, 1.6])
    np.testing.assert_allclose(totals["rpn"], [0.2, 0.15, 1 / 30 + 0.1])
    stage2 = {l.get_label() for l in fig.axes[2].get_lines()}
    assert stage2 == {"sc_rpn: loss_s2_cls", "sc_rpn: loss_s2_reg", "sc_rpn: loss_mask"}
    assert len(F.training_curves({"rpn": rpn}).axes) == 2
    ga = [{"type": "train", "iter": 1, "loss_loc": 1.0, "loss_shape": 2.0, "loss": 3.0}]
    assert [ax.get_title() for ax in F.training_curves({"ga": ga}).axes] == ["total loss", "other terms"]
    assert len(F.training_curves({"none": []}).axes) == 1
    real = ROOT / "results/runs/rpn/seed0/log.jsonl"
    if real.exists():
        assert len(F.training_curves({"rpn": F.read_log(real)}).axes) == 2


# ------------------------------------------------------------------ saving
def test_save_figure_writes_png_and_pdf(tmp_path):
    fig = F.fig4_iou_aware_score()
    paths = F.save_figure(fig, "fig4", tmp_path / "a" / "b")
    assert [p.name for p in paths] == ["fig4.png", "fig4.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[0].stat().st_size > 1000
    assert paths[1].read_bytes()[:5] == b"%PDF-" and paths[1].stat().st_size > 1000
    with pytest.raises(ValueError):
        F.save_figure(fig, "../escape", tmp_path)


def test_causes_missed_draws_one_bar_per_arm_and_group():
    import pandas as pd
    frame = pd.DataFrame([
        {"experiment": 2, "arm": "today", "variant": "committed", "missed_all": 0.2, "missed_S": 0.4,
         "missed_M": 0.1, "missed_L": 0.05, "missed_slender": 0.5},
        {"experiment": 2, "arm": "G0", "variant": "filter off", "missed_all": 0.1, "missed_S": 0.2,
         "missed_M": 0.05, "missed_L": 0.0, "missed_slender": 0.3},
        {"experiment": 2, "arm": "G1", "variant": "not run", "missed_all": float("nan"), "missed_S": float("nan"),
         "missed_M": float("nan"), "missed_L": float("nan"), "missed_slender": float("nan")},
        {"experiment": 1, "arm": "A", "variant": "other", "missed_all": 0.3, "missed_S": 0.3,
         "missed_M": 0.3, "missed_L": 0.3, "missed_slender": 0.3}])
    fig = CF.causes_missed(frame, 2)
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert len(ax.patches) == 10                      # 2 arms with stats x 5 groups; G1 and exp. 1 left out
    assert heights[-1] == 50.0 and heights[0] == 0.0
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["today: committed", "G0: filter off"]
    empty = CF.causes_missed(frame, 5).axes[0]
    assert not empty.patches and "no arm has run yet" in [t.get_text() for t in empty.texts]


def test_causes_missed_names_a_shared_row_once_and_keeps_its_axes_with_many_rows():
    """Experiment 10's Table I pairs compare one row with several references: its stats are drawn
    once. 19 arms on 12 rows collapsed the axes under the legend (matplotlib warned into notebook
    12, a warning that named the machine's site-packages); now the figure grows with its legend."""
    import io
    import warnings

    import pandas as pd
    stats = {"missed_all": 0.01, "missed_S": 0.02, "missed_M": 0.0, "missed_L": 0.0, "missed_slender": 0.03}
    lines = [{"experiment": 10, "arm": f"rung {i}", "variant": f"row r{i} at rung {i}, seed 0; Δ vs the rung below",
              "row": f"r{i}", **stats} for i in range(11)]
    lines += [{"experiment": 10, "arm": f"S* sc_rpn>{m}", "variant": f"Table I: sc_rpn above {m}", "row": "sc_rpn",
               **stats} for m in ("rpn", "ga_rpn", "iterative_rpn", "cascade_rpn")]
    lines += [{"experiment": 10, "arm": "S* ga_rpn>rpn", "variant": "Table I: ga_rpn above rpn", "row": "ga_rpn",
               **stats}]
    fig = CF.causes_missed(pd.DataFrame(lines), 10)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == 13 and len(fig.axes[0].patches) == 13 * 5
    assert labels[11] == "sc_rpn: the row of 4 arms (S* sc_rpn>rpn, …)"
    assert labels[12] == "S* ga_rpn>rpn: Table I: ga_rpn above rpn"
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # "constrained_layout not applied ..." fails here
        fig.savefig(io.BytesIO(), format="png")
    axes_box = fig.axes[0].get_position()
    assert axes_box.height * fig.get_figheight() > 1.5   # inches: the bars stay readable


def test_stage1_margin_curves_draw_the_seed_mean_its_range_and_the_registered_margin():
    def log(gaps):   # train records at iterations 0, 20, 40 with priors at 0.5
        return [{"type": "train", "iter": 20 * i, "diag_s1_pos_iou": 0.5 + g, "diag_s1_prior_iou": 0.5}
                for i, g in enumerate(gaps)] + [{"type": "val", "iter": 40}]
    logs = {"x4s1_sads_unitbox": [log([0.0, 0.04, 0.10]), log([0.0, 0.06, 0.14])],
            "t3_sads": [[{"type": "train", "iter": 0, "loss": 1.0}]],          # before the diagnostics
            "x4r_sads_rounded": [log([0.01, 0.02])]}                           # one seed, two records
    fig = CF.stage1_margin_curves(logs, margin=0.05, smooth=1)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    mean = lines["x4s1_sads_unitbox (2 seeds)"]
    assert list(mean.get_xdata()) == [0.0, 20.0, 40.0]
    assert np.allclose(mean.get_ydata(), [0.0, 0.05, 0.12])               # (0.04 + 0.06) / 2, (0.10 + 0.14) / 2
    assert np.allclose(lines["x4r_sads_rounded (1 seed)"].get_ydata(), [0.01, 0.02])
    assert np.allclose(lines["registered margin 0.05"].get_ydata(), [0.05, 0.05])
    assert len(ax.collections) == 1                                         # the range band: two-seed row only
    assert ax.get_xlabel() == "iteration\n(no stage-1 diagnostics: t3_sads)"
    empty = CF.stage1_margin_curves({"rpn": [[{"type": "train", "iter": 0}]]}, margin=0.05).axes[0]
    assert "no run with stage-1 diagnostics yet" in [t.get_text() for t in empty.texts]


def test_causes_detectors_draws_both_detectors_per_arm_and_their_rcnn_losses():
    import pandas as pd
    frame = pd.DataFrame([
        {"experiment": 8, "arm": "today", "variant": "mini", "AP_mean": 13.6, "delta_AP": 9.2},
        {"experiment": 8, "arm": "3x", "variant": "3x", "AP_mean": float("nan"), "delta_AP": float("nan")},
        {"experiment": 2, "arm": "G0", "variant": "other", "AP_mean": float("nan"), "delta_AP": float("nan")}])
    logs = {"det_faster_rcnn_rpn": [{"type": "train", "iter": 20, "loss_rcnn_cls": 0.3, "loss_rcnn_reg": 0.1},
                                    {"type": "val", "iter": 20},
                                    {"type": "train", "iter": 40, "loss_rcnn_cls": 0.2, "loss_rcnn_reg": 0.1}],
            "x8_det_faster_rcnn_rpn_3x": [{"type": "train", "iter": 20, "loss": 1.0}]}     # no R-CNN losses
    bars, curves = CF.causes_detectors(frame, logs, smooth=1).axes
    # today's pair: RPN's detector 13.6 - 9.2 = 4.4 and SC-RPN's 13.6; the 3x arm is not run
    assert sorted(round(p.get_height(), 6) for p in bars.patches) == [4.4, 13.6]
    texts = [t.get_text() for t in bars.texts]
    assert "gap +9.2" in texts and "not run" in texts
    assert "+4.0" in bars.get_title()
    (line,) = curves.get_lines()                     # the run without R-CNN losses draws nothing
    assert list(line.get_ydata()) == pytest.approx([0.4, 0.3])


def test_causes_regime_draws_each_method_across_geometries_and_its_gap_to_rpn():
    mini = {"rpn": [43.0, 44.0], "cascade_rpn": [51.0, 52.0], "ga_rpn": [30.0, 31.0], "sc_rpn": [60.0]}
    paper = {"rpn": [54.0], "cascade_rpn": [68.0], "ga_rpn": [], "sc_rpn": [70.0]}
    lines, gaps = CF.causes_regime(mini, paper, margin=1.5).axes
    drawn = {line.get_label(): list(line.get_ydata()) for line in lines.get_lines()}
    assert drawn == {"rpn": [43.5, 54.0], "cascade_rpn": [51.5, 68.0], "ga_rpn": [30.5], "sc_rpn": [60.0, 70.0]}
    ranks = [t.get_text() for t in lines.texts]            # mini: sc 1, cascade 2, rpn 3, ga 4
    assert sorted(ranks) == ["1", "1", "2", "2", "3", "3", "4"]   # paper: sc 1, cascade 2, rpn 3
    assert "ga_rpn" in lines.get_xlabel()                    # not run in the paper's geometry
    # gaps to RPN, hand-derived: mini cascade +8.0, ga -13.0, sc +16.5; paper cascade +14.0, sc +16.0
    heights = sorted(round(p.get_height(), 6) for p in gaps.patches if p.get_width() < 1)
    assert heights == [-13.0, 8.0, 14.0, 16.0, 16.5]
    assert "not run" in [t.get_text() for t in gaps.texts]
    assert "1.5" in gaps.get_title()
