"""Teaching views of the three weak correlations (scrpn/viz/teaching.py).

Random-weight smoke models on a synthetic 128 px image with hand-placed boxes: the views must
return consistent shapes, run the assigners exactly as the head does, and be deterministic. The
NMS view is also checked on a hand-built case (the numbers of the paper's Fig. 4).
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torchvision.ops import box_iou

from scrpn.config import load_config
from scrpn.build import build_model
from scrpn.models.heads.iou_mask import iou_aware_score
from scrpn.sampling.levels import point_levels
from scrpn.sampling.max_iou import MaxIoUAssigner
from scrpn.sampling.positive_region import PositiveRegionAssigner
from scrpn.sampling.size_aware_threshold import SizeAwareThresholdAssigner
from scrpn.study.runs import Study
from scrpn.viz import teaching as T

SIZE = 128
BOX = [30.0, 40.0, 90.0, 64.0]      # a 60 x 24 rectangle
STICK = [12.0, 10.0, 20.0, 74.0]    # 8 x 64: aspect 8, slender


def _image_and_target(boxes=(BOX, STICK)):
    g = torch.Generator().manual_seed(0)
    image = 0.3 * torch.rand(3, SIZE, SIZE, generator=g)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        image[k % 3, int(y1):int(y2), int(x1):int(x2)] = 0.9
    n = len(boxes)
    target = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(n, 4),
              "labels": torch.ones(n, dtype=torch.long), "iscrowd": torch.zeros(n, dtype=torch.bool),
              "img_shape": (SIZE, SIZE), "image_id": 1}
    return image, target


def _model(cfg):
    cfg.model.backbone.pretrained = False
    torch.manual_seed(0)
    return build_model(cfg).eval()


@pytest.fixture(scope="module")
def sc_rpn():
    cfg = load_config("configs/smoke/sc_rpn.yaml")
    return _model(cfg), cfg


@pytest.fixture(scope="module")
def study():
    return Study(profile="smoke", log=lambda _: None)


@pytest.fixture(scope="module")
def sample():
    return _image_and_target()


# ------------------------------------------------------------------------ 1. score vs IoU
def test_score_vs_localisation_shapes(sc_rpn, sample):
    model, _ = sc_rpn
    image, target = sample
    res = T.score_vs_localisation(model, image, target)
    k = res.boxes.shape[0]
    assert res.boxes.shape == (k, 4) and k > 0
    for arr in (res.level, res.cls_score, res.iou_mask, res.iou_aware, res.true_iou, res.gt_index):
        assert arr.shape == (k,)
    assert set(np.unique(res.level)) <= set(range(5))
    assert ((res.boxes[:, :2] >= 0) & (res.boxes[:, 2:] <= SIZE)).all()       # clipped
    assert ((res.true_iou >= 0) & (res.true_iou <= 1)).all()
    assert set(np.unique(res.gt_index)) <= {0, 1}
    expected = iou_aware_score(torch.as_tensor(res.cls_score), torch.as_tensor(res.iou_mask))
    np.testing.assert_allclose(res.iou_aware, expected.numpy(), rtol=1e-6)
    iou = box_iou(torch.as_tensor(res.boxes), target["boxes"].double()).max(dim=1).values
    np.testing.assert_allclose(res.true_iou, iou.numpy(), atol=1e-6)


def test_correlations_are_in_range(sc_rpn, sample):
    res = T.score_vs_localisation(sc_rpn[0], *sample, near_iou=0.1)
    assert set(res.corr_all) == {"classification", "iou_mask", "iou_aware"}
    for table in (res.corr_all, res.corr_near):
        for corr in table.values():
            for key in ("pearson", "spearman"):
                assert -1.0 <= corr[key] <= 1.0
    assert res.corr_near["classification"]["n"] == int(res.near.sum())


def test_correlation_helper():
    x = np.array([0.1, 0.4, 0.2, 0.9])
    assert T.correlation(x, 2 * x + 1)["pearson"] == pytest.approx(1.0)
    assert T.correlation(x, -x**3)["spearman"] == pytest.approx(-1.0)
    # ties share their average rank: Spearman = Pearson of (0, 1.5, 1.5, 3) and (0, 1, 2, 3)
    rho = T.correlation([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0])["spearman"]
    assert rho == pytest.approx(np.corrcoef([0, 1.5, 1.5, 3], [0, 1, 2, 3])[0, 1])
    assert math.isnan(T.correlation([0.5, 0.5, 0.5], [0.1, 0.2, 0.3])["pearson"])
    assert math.isnan(T.correlation([0.5], [0.1])["spearman"])


def test_model_without_iou_mask(study, sample):
    model = _model(study.config("t3_point"))
    res = T.score_vs_localisation(model, *sample)
    assert res.iou_mask is None and "iou_mask" not in res.corr_all
    np.testing.assert_array_equal(res.iou_aware, res.cls_score)


def _fig4_case():
    """Fig. 4: A (IoU 0.68, cls 0.86, mask 0.82), B (0.84, 0.82, 0.98), C (0.51, 0.72, 0.68)."""
    gt = np.array([[0.0, 0.0, 100.0, 100.0]])
    boxes = np.array([[0.0, 0.0, 100.0, 68.0], [0.0, 0.0, 100.0, 84.0], [0.0, 0.0, 100.0, 51.0]])
    cls = np.array([0.86, 0.82, 0.72])
    aware = iou_aware_score(torch.tensor(cls), torch.tensor([0.82, 0.98, 0.68])).numpy()
    return boxes, cls, aware, gt


def test_iou_aware_ranking_keeps_the_better_box():
    boxes, cls, aware, gt = _fig4_case()
    (o,) = T.nms_with_and_without_mask(boxes, cls, aware, gt, nms_thr=0.5)
    assert o.num_candidates == 3 and o.best_available_iou == pytest.approx(0.84)
    assert o.cls_top_iou == pytest.approx(0.68) and o.aware_top_iou == pytest.approx(0.84)
    np.testing.assert_allclose(o.cls_top_box, boxes[0])
    np.testing.assert_allclose(o.aware_top_box, boxes[1])
    # A overlaps B and C by more than 0.5: NMS by classification score loses B altogether
    assert o.cls_num_kept == 1 and o.cls_best_kept_iou == pytest.approx(0.68)
    assert o.aware_best_kept_iou == pytest.approx(0.84)
    assert o.repaired
    # with a threshold that suppresses nothing, B survives either way (only the order differs)
    (loose,) = T.nms_with_and_without_mask(boxes, cls, aware, gt, nms_thr=0.95)
    assert loose.cls_num_kept == 3 and loose.cls_best_kept_iou == pytest.approx(0.84)
    # ranking by the classification score twice: nothing to repair
    (same,) = T.nms_with_and_without_mask(boxes, cls, cls, gt)
    assert not same.repaired


def test_nms_gt_without_candidates():
    boxes, cls, aware, gt = _fig4_case()
    far = np.concatenate([gt, [[300.0, 300.0, 340.0, 320.0]]])
    outcomes = T.nms_with_and_without_mask(boxes, cls, aware, far)
    assert [o.gt_index for o in outcomes] == [0, 1]
    assert outcomes[1].num_candidates == 0 and math.isnan(outcomes[1].cls_top_iou)
    assert not outcomes[1].repaired and outcomes[1].aware_top_box is None
    assert T.nms_with_and_without_mask(boxes, cls, aware, np.zeros((0, 4))) == []


# ------------------------------------------------------------------------ 2. positives per stage
def _levels_count(mask, num_per_level):
    return np.bincount(point_levels(num_per_level)[mask].numpy(), minlength=len(num_per_level))


def test_sads_positives_match_the_assigners(sc_rpn, sample):
    model, cfg = sc_rpn
    image, target = sample
    res = T.positives_per_stage(cfg, model, image, target)
    out = T.head_outputs(model, image)
    h = cfg.model.head
    base, strides = h.anchor_scale * 4, (4, 8, 16, 32, 64)
    posr = PositiveRegionAssigner(h.stage1.assigner.center_ratio, base, strides).assign(
        out.centers, out.num_per_level, target["boxes"])
    sat = SizeAwareThresholdAssigner(h.stage2.assigner.topk, h.stage2.assigner.num_levels, base,
                                     strides).assign(out.init_boxes[0], out.centers,
                                                     out.num_per_level, target["boxes"])
    assert [s.assigner for s in res.stages] == ["positive_region", "size_aware_threshold"]
    for st, direct in zip(res.stages, (posr, sat)):
        np.testing.assert_array_equal(st.indices, direct.pos_mask.nonzero()[:, 0].numpy())
        np.testing.assert_array_equal(st.counts_per_level, _levels_count(direct.pos_mask, out.num_per_level))
        np.testing.assert_array_equal(st.gt_index, direct.pos_assigned_gt_inds.numpy())
        assert st.counts_per_level.sum() == st.indices.size == st.counts_per_gt.sum()
    # SADS: both stages' positives lie inside their gt, on its size-aware levels
    assert all(st.inside_gt.all() and st.on_size_levels.all() for st in res.stages)
    assert res.boxes_source == "model"


def test_max_iou_positives_match_the_assigner(sc_rpn, study, sample):
    model, _ = sc_rpn
    cfg = study.config("t3_point")           # the same prior layout: its assigners on sc_rpn's boxes
    image, target = sample
    res = T.positives_per_stage(cfg, model, image, target)
    out = T.head_outputs(model, image)
    for st, s_cfg, boxes in zip(res.stages, (cfg.model.head.stage1, cfg.model.head.stage2),
                                (out.priors, out.init_boxes[0])):
        a = s_cfg.assigner
        direct = MaxIoUAssigner(a.pos_iou_thr, a.neg_iou_thr, a.min_pos_iou,
                                a.match_low_quality).assign(boxes, target["boxes"])
        assert st.assigner == "max_iou"
        np.testing.assert_array_equal(st.counts_per_level, _levels_count(direct.pos_mask, out.num_per_level))
        np.testing.assert_allclose(st.overlaps, direct.max_overlaps[direct.pos_mask].numpy())
    rows = T.positives_table([res])
    assert [r["stage"] for r in rows] == [1, 2]
    assert rows[0]["positives"] == sum(rows[0][f"P{k}"] for k in range(2, 7))


def test_without_model_stage2_sees_the_priors(sc_rpn, sample):
    _, cfg = sc_rpn
    before = torch.random.get_rng_state()
    res = T.positives_per_stage(cfg, None, *sample)
    assert torch.equal(before, torch.random.get_rng_state())   # building the head moved no RNG
    assert res.boxes_source == "priors"
    st1, st2 = res.stages
    model_free = T._stage_outputs(cfg, T._assign_head(cfg), None, sample[0])
    np.testing.assert_allclose(st2.boxes, model_free.priors[st2.indices].numpy(), atol=1e-4)
    assert st1.indices.size > 0 and st2.indices.size > 0


def test_no_gt_gives_no_positives(sc_rpn, study):
    model, cfg = sc_rpn
    image, target = _image_and_target(boxes=())
    for c in (cfg, study.config("t3_point")):
        res = T.positives_per_stage(c, model, image, target)
        assert len(res.stages) == 2
        for st in res.stages:
            assert st.indices.size == 0 and st.counts_per_level.tolist() == [0] * 5
            assert st.counts_per_gt.size == 0
        assert all(math.isnan(r["inside_gt_%"]) for r in T.positives_table([res]))
    sv = T.score_vs_localisation(model, image, target)
    assert (sv.true_iou == 0).all() and (sv.gt_index == -1).all()
    assert math.isnan(sv.corr_all["classification"]["pearson"])
    assert T.anchors_vs_points_on_slender({"m": model}, [(image, target)]) == []
    plot = T.plot_positives_per_stage([res], image)
    assert isinstance(plot, Figure)


def test_one_stage_model(study, sample):
    cfg = study.config("rpn")
    res = T.positives_per_stage(cfg, _model(cfg), *sample)
    assert [s.stage for s in res.stages] == [1]
    assert isinstance(T.plot_positives_per_stage([res], sample[0]), Figure)


def test_determinism(sc_rpn, sample):
    model, cfg = sc_rpn
    a = T.score_vs_localisation(model, *sample)
    b = T.score_vs_localisation(model, *sample)
    for key in ("boxes", "level", "cls_score", "iou_mask", "iou_aware", "true_iou", "gt_index"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    np.testing.assert_equal(a.corr_near, b.corr_near)      # NaNs compare equal here
    p, q = (T.positives_per_stage(cfg, model, *sample) for _ in range(2))
    for s, t in zip(p.stages, q.stages):
        np.testing.assert_array_equal(s.indices, t.indices)
        np.testing.assert_array_equal(s.boxes, t.boxes)


# ------------------------------------------------------------------------ 3. slender objects
def test_slender_objects():
    idx, aspect = T.slender_objects([BOX, STICK, [0, 0, 10, 30], [5, 5, 5, 40]], 3.0)
    assert idx.tolist() == [1, 2]                     # 30 / 10 = 3 counts; a zero-width box does not
    assert aspect[0] == pytest.approx(2.5) and math.isinf(aspect[3])


def test_anchors_vs_points_on_slender(sc_rpn, study, sample):
    point, _ = sc_rpn
    anchor = _model(study.config("t3_iou_loss"))
    models = {"anchor": anchor, "point": point}
    matches = T.anchors_vs_points_on_slender(models, [sample, sample], top_k=50)
    assert [(m.sample, m.gt_index) for m in matches] == [(0, 1), (1, 1)]
    m = matches[0]
    assert m.aspect == pytest.approx(8.0)
    for name, model in models.items():
        with torch.no_grad():
            props = model(sample[0][None], [sample[1]])[0]["boxes"][:50]
        assert m.best_iou[name] == pytest.approx(float(box_iou(props, torch.tensor([STICK])).max()))
        assert 0.0 <= m.best_iou[name] <= 1.0
    assert T.anchors_vs_points_on_slender(models, [sample], max_objects=1, min_aspect=1.0)[0].gt_index == 0


# ------------------------------------------------------------------------ plots
def test_plots_are_figures_and_save(sc_rpn, sample, tmp_path):
    import matplotlib.pyplot as plt

    model, cfg = sc_rpn
    image, target = sample
    res = T.score_vs_localisation(model, image, target)
    outcomes = T.nms_with_and_without_mask(res.boxes, res.cls_score, res.iou_aware, target["boxes"])
    figs = [T.plot_score_vs_localisation(res, image, target["boxes"], outcomes),
            T.plot_positives_per_stage([T.positives_per_stage(cfg, model, image, target)], image),
            T.plot_anchors_vs_points(T.anchors_vs_points_on_slender({"m": model}, [sample]), [image]),
            T.plot_anchors_vs_points([], [])]
    assert all(isinstance(f, Figure) for f in figs)
    assert [len(f.axes) for f in figs[:2]] == [3, 3]
    paths = T.save_teaching_figure(figs[0], "score", tmp_path)
    assert [p.name for p in paths] == ["teaching_score.png", "teaching_score.pdf"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert plt.get_fignums() == []                    # no pyplot state created
    with pytest.raises(ValueError):
        T.save_teaching_figure(figs[0], "../x", tmp_path)
