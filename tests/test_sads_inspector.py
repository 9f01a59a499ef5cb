"""SADS inspector: level rules worked by hand, PosR / SAT / Max-IoU views against the assigners."""
import base64
import dataclasses
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to check that no pyplot figure is opened)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from scrpn.build import build_head  # noqa: E402
from scrpn.config import AssignerConfig, HeadConfig, StageConfig  # noqa: E402
from scrpn.sampling.geometry import pairwise_overlaps  # noqa: E402
from scrpn.sampling.max_iou import MaxIoUAssigner  # noqa: E402
from scrpn.sampling.size_aware_threshold import SizeAwareThresholdAssigner  # noqa: E402
from scrpn.viz.sads_inspector import (NUM_AXES, featmap_sizes, head_geometry,  # noqa: E402
                                      inspect_sads, plot_sads)

SIZE = 128  # P2..P6: 32x32, 16x16, 8x8, 4x4, 2x2 -> 1364 locations
STARTS = [0, 1024, 1280, 1344, 1360]  # first location index of each level


def sads_head(anchor_scale: float = 4.0, sigma: float = 0.2, topk: int = 9,
              n: int = 2) -> HeadConfig:
    """The SC-RPN head of configs/mini/sc_rpn.yaml (point-based, one prior per location)."""
    return HeadConfig(representation="point", alignment="point", anchor_ratios=[1.0],
                      anchor_scale=anchor_scale, num_stages=2, feat_channels=16,
                      stage1=StageConfig(assigner=AssignerConfig(type="positive_region",
                                                                 center_ratio=sigma),
                                         cls_weight=0.0, reg_loss="iou"),
                      stage2=StageConfig(assigner=AssignerConfig(type="size_aware_threshold",
                                                                 topk=topk, num_levels=n),
                                         reg_loss="iou"))


def jittered_priors(cfg: HeadConfig, seed: int = 0) -> torch.Tensor:
    """Stand-in stage-1 boxes: priors moved and resized at random, so IoUs are not tied."""
    priors = head_geometry(cfg, SIZE).priors
    gen = torch.Generator().manual_seed(seed)
    wh = priors[:, 2:] - priors[:, :2]
    shift = (torch.rand(priors.shape[0], 2, generator=gen) - 0.5) * wh * 0.5
    scale = 0.6 + torch.rand(priors.shape[0], 2, generator=gen) * 1.2
    centre = (priors[:, :2] + priors[:, 2:]) / 2 + shift
    return torch.cat([centre - wh * scale / 2, centre + wh * scale / 2], dim=1)


# ---------------------------------------------------------------------------------------------
# eq. (1) and eq. (2)
# ---------------------------------------------------------------------------------------------

# The paper's base b = 32 (anchor scale 8 x stride 4). eq. (1): i = floor((log2 S - 9) / 2).
# eq. (2) as the project reads it (scrpn/sampling/levels.py): for S in [2^10, 2^18], j = i - 1 if
# S is below level i's geometric middle 2^(2i + 10), else i + 1; -1 outside the range or pyramid.
PAPER_CASES = [
    # (side, i, j)   S = side^2
    (64, 1, 2),    # S = 2^12: (12 - 9) / 2 = 1.5 -> 1; S >= 2^12 (middle of 1) -> 2;
                   #   literally S / 2^(2*1+9) = 2 -> j = 1 - 1 + 2 = 2 as well
    (48, 1, 0),    # S = 2304: log2 = 11.17 -> 1.08 -> 1; 2304 < 4096 -> 0
    (40, 0, 1),    # S = 1600: log2 = 10.64 -> 0.82 -> 0; 1600 >= 2^10 -> 1
    (24, 0, -1),   # S = 576 < 2^10: outside eq. (2)'s range, no adjacent level
    (300, 3, 4),   # S = 90000: log2 = 16.46 -> 3.73 -> 3; >= 2^16 -> 4
    (512, 4, -1),  # S = 2^18: 4.5 -> 4; j = 5 is outside the pyramid
]


@pytest.mark.parametrize("side,i,j", PAPER_CASES)
def test_levels_worked_by_hand_with_the_papers_base(side, i, j):
    assert math.floor((math.log2(side * side) - 9) / 2) == i  # eq. (1) literally
    gts = torch.tensor([[10.0, 10.0, 10.0 + side, 10.0 + side]])
    view = inspect_sads(gts, 0, SIZE, sads_head(anchor_scale=8.0))
    assert view.base_scale == 32.0
    assert (view.i_g, view.j_g) == (i, j)
    assert view.levels == ((i, j) if j >= 0 else (i,))  # N = 2: SAT uses exactly i_g and j_g


def test_levels_follow_the_configs_base_scale():
    # mini profile: b = 4 x 4 = 16, i = floor((log2 S - 7) / 2). 64 x 64: (12 - 7) / 2 = 2.5 -> 2
    # (P4); S = 4096 >= middle 16^2 * 4^2 = 4096 -> j = 3 (P5).
    view = inspect_sads(torch.tensor([[0.0, 0.0, 64.0, 64.0]]), 0, SIZE, sads_head())
    assert (view.base_scale, view.i_g, view.j_g) == (16.0, 2, 3)
    assert view.level_names() == ["P4", "P5"]


# ---------------------------------------------------------------------------------------------
# Stage 1: Positive Region assigner
# ---------------------------------------------------------------------------------------------

def test_posr_region_is_the_centre_region_and_its_locations_worked_by_hand():
    # gt 60 x 40, S = 2400: (log2 2400 - 7) / 2 = 2.11 -> P4 (stride 16). sigma 0.3: centre
    # (50, 50), half sizes 60 * 0.15 = 9 and 40 * 0.15 = 6 -> R_g = [41, 44, 59, 56]. The only
    # P4 location in it is (48, 48): row 3, col 3 of the 8 x 8 map -> 1280 + 3 * 8 + 3 = 1307.
    gts = torch.tensor([[20.0, 30.0, 80.0, 70.0]])
    view = inspect_sads(gts, 0, SIZE, sads_head(), center_ratio=0.3)
    torch.testing.assert_close(view.posr_region, torch.tensor([41.0, 44.0, 59.0, 56.0]))
    assert view.i_g == 2
    assert view.posr_in_region.tolist() == [1307] and view.posr_positives.tolist() == [1307]
    assert not view.posr_fallback
    # sigma 1: R_g = g; x in {32, 48, 64, 80} (80 on the border counts), y in {32, 48, 64}
    full = inspect_sads(gts, 0, SIZE, sads_head(), center_ratio=1.0)
    expected = sorted(STARTS[2] + r * 8 + c for r in (2, 3, 4) for c in (2, 3, 4, 5))
    assert full.posr_positives.tolist() == expected
    torch.testing.assert_close(full.posr_region, gts[0])


def test_posr_fallback_takes_the_nearest_location_of_level_i_g():
    # 36 x 36 (S = 1296 -> P3, stride 8), centre (43, 45), sigma 0.1: R_g = [41.2, 43.2, 44.8, 46.8]
    # holds no multiple of 8; the nearest P3 location is (40, 48): 1024 + 6 * 16 + 5 = 1125.
    view = inspect_sads(torch.tensor([[25.0, 27.0, 61.0, 63.0]]), 0, SIZE, sads_head(),
                        center_ratio=0.1)
    assert view.i_g == 1 and view.posr_fallback
    assert view.posr_in_region.numel() == 0 and view.posr_positives.tolist() == [1125]


def test_posr_conflict_goes_to_the_smaller_gt():
    # Two P4 gts both holding (48, 48) in their full regions (sigma 1): the smaller one wins it.
    gts = torch.tensor([[20.0, 30.0, 80.0, 70.0], [40.0, 40.0, 90.0, 85.0]])  # S 2400, 2250: P4
    big = inspect_sads(gts, 0, SIZE, sads_head(), center_ratio=1.0)
    small = inspect_sads(gts, 1, SIZE, sads_head(), center_ratio=1.0)
    assert 1307 in big.posr_in_region.tolist() and 1307 in small.posr_positives.tolist()
    assert 1307 not in big.posr_positives.tolist()


# ---------------------------------------------------------------------------------------------
# Stage 2: Size-Aware Threshold assigner
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3])
def test_sat_positives_are_the_candidates_above_the_mean_with_centre_inside(n):
    cfg = sads_head()
    boxes = jittered_priors(cfg)
    gts = torch.tensor([[20.0, 30.0, 80.0, 70.0], [70.0, 10.0, 120.0, 110.0]])
    for g in range(2):
        view = inspect_sads(gts, g, SIZE, cfg, boxes, num_levels_used=n)
        assert view.boxes_source == "model"
        cand = view.cand_indices[view.cand_valid]  # the k nearest per level, flattened
        ious = pairwise_overlaps(boxes[cand], gts[g:g + 1])[:, 0]  # recomputed, not the view's
        mean = float(ious.double().mean())
        assert view.sat_threshold == pytest.approx(mean, abs=1e-6)
        assert view.sat_mean == pytest.approx(mean, abs=1e-6)
        assert view.sat_std == pytest.approx(float(ious.double().std()), abs=1e-6)
        x, y = view.centers[cand, 0], view.centers[cand, 1]
        x1, y1, x2, y2 = gts[g]
        inside = (x > x1) & (x < x2) & (y > y1) & (y < y2)
        rule = set(cand[(ious > view.sat_threshold) & inside].tolist())
        assert rule, "the case must have positives to be a test"
        # no candidate passing g's rule is won by the other gt here: the rule is the whole answer
        assert set(view.sat_positives.tolist()) == rule
        # negatives: the other candidates, except those that are the other gt's positives
        other = set(inspect_sads(gts, 1 - g, SIZE, cfg, boxes, num_levels_used=n)
                    .sat_positives.tolist())
        assert set(view.sat_negatives.tolist()) == set(cand.tolist()) - rule - other


def test_sat_view_equals_the_assigner_run_directly():
    cfg = sads_head(topk=6)
    boxes = jittered_priors(cfg, seed=3)
    grid = head_geometry(cfg, SIZE)
    # overlapping gts: some candidates are claimed by both, the higher IoU wins
    gts = torch.tensor([[20.0, 20.0, 70.0, 70.0], [30.0, 30.0, 76.0, 80.0],
                        [5.0, 90.0, 15.0, 120.0]])
    direct = SizeAwareThresholdAssigner(topk=6, num_levels_used=2, base_scale=16.0).assign(
        boxes, grid.centers, list(grid.num_per_level), gts)
    for g in range(3):
        view = inspect_sads(gts, g, SIZE, cfg, boxes)
        assert view.sat_positives.tolist() == (direct.gt_inds == g + 1).nonzero()[:, 0].tolist()
        assert view.sat_threshold == float(direct.info["thresholds"][g])
        assert view.sat_num_negatives == int((direct.gt_inds == 0).sum())
        cand = direct.info["candidates"][g]
        assert view.cand_indices.reshape(-1).tolist() == cand[: view.cand_indices.numel()].tolist()
        # a positive always passed g's own rule
        passed = set(view.cand_indices[view.sat_passed].tolist())
        assert set(view.sat_positives.tolist()) <= passed


def test_k_sigma_n_override_the_config_and_shape_the_candidates():
    gts = torch.tensor([[20.0, 30.0, 80.0, 70.0]])
    default = inspect_sads(gts, 0, SIZE, sads_head(sigma=0.2, topk=9, n=2))
    assert (default.topk, default.center_ratio, default.num_levels_used) == (9, 0.2, 2)
    assert default.cand_indices.shape == (2, 9)
    # without a model, the priors are the stage-1 boxes, and the view says so
    assert default.boxes_source == "priors"
    assert torch.equal(default.boxes, head_geometry(sads_head(), SIZE).priors)
    view = inspect_sads(gts, 0, SIZE, sads_head(), topk=4, center_ratio=0.5, num_levels_used=3)
    assert view.cand_indices.shape == (3, 4) and view.cand_centres.shape == (3, 4, 2)
    assert view.levels == (2, 1, 3)  # i_g, then j_g (S = 2400 < 4096: below), then the other side
    # S = 2^14: (14 - 7) / 2 = 3.5 -> P5, at its middle -> j = P6, whose 2 x 2 locations cannot
    # give k = 9: the row is padded with -1 (and IoU 0)
    large = inspect_sads(torch.tensor([[0.0, 0.0, 128.0, 128.0]]), 0, SIZE, sads_head(), topk=9)
    assert large.levels == (3, 4) and int(large.cand_valid[1].sum()) == 4
    assert (large.cand_indices[1, 4:] == -1).all() and (large.cand_ious[1, 4:] == 0).all()
    assert sorted(large.cand_indices[1, :4].tolist()) == [1360, 1361, 1362, 1363]


# ---------------------------------------------------------------------------------------------
# Max-IoU comparison
# ---------------------------------------------------------------------------------------------

def test_max_iou_view_equals_the_assigner_run_directly():
    cfg = sads_head()
    boxes = jittered_priors(cfg, seed=1)
    gts = torch.tensor([[20.0, 30.0, 80.0, 70.0], [60.0, 40.0, 100.0, 90.0]])
    for thresholds, max_cfg in (((0.7, 0.7, 0.3), None),
                                ((0.5, 0.3, 0.1), AssignerConfig(pos_iou_thr=0.5, neg_iou_thr=0.3,
                                                                 min_pos_iou=0.1))):
        direct = MaxIoUAssigner(*thresholds).assign(boxes, gts)
        for g in range(2):
            view = inspect_sads(gts, g, SIZE, cfg, boxes, max_iou_cfg=max_cfg)
            pos = direct.gt_inds == g + 1
            assert view.maxiou_thresholds == thresholds
            assert view.maxiou_positives.tolist() == pos.nonzero()[:, 0].tolist()
            torch.testing.assert_close(view.maxiou_pos_ious, direct.max_overlaps[pos])
            assert view.maxiou_num_negatives == int((direct.gt_inds == 0).sum())
            assert view.maxiou_num_ignored == int((direct.gt_inds < 0).sum())


# ---------------------------------------------------------------------------------------------
# Geometry: the head's own
# ---------------------------------------------------------------------------------------------

def test_geometry_equals_the_heads_forward():
    cfg = sads_head()
    head = build_head(cfg, 16).eval()
    hw = (100, 72)  # padded to 128 x 96
    feats = [torch.zeros(1, 16, h, w) for h, w in featmap_sizes(hw)]
    with torch.no_grad():
        out = head(feats)
    grid = head_geometry(cfg, hw)
    assert list(grid.num_per_level) == out.num_per_level
    assert torch.equal(grid.priors, out.priors) and torch.equal(grid.centers, out.centers)
    assert featmap_sizes(hw) == [(32, 24), (16, 12), (8, 6), (4, 3), (2, 2)]


def test_model_stage1_boxes_line_up_with_the_geometry():
    from scrpn.config import config_from_dict
    from scrpn.build import build_proposal_network
    from scrpn.viz.sads_inspector import model_stage1_boxes

    cfg = config_from_dict({"model": {"backbone": {"pretrained": False, "fpn_channels": 16},
                                      "head": dataclasses.asdict(sads_head())}})
    torch.manual_seed(0)
    model = build_proposal_network(cfg)
    image = torch.rand(3, 100, 72)
    boxes = model_stage1_boxes(model, image)
    grid = head_geometry(cfg.model.head, (100, 72))
    assert boxes.shape == grid.priors.shape
    assert model.training  # mode restored
    # an untrained head predicts offsets near 0: its stage-1 boxes are the priors (docstring claim)
    assert (boxes - grid.priors).abs().max() < 1.0
    view = inspect_sads(torch.tensor([[10.0, 10.0, 50.0, 60.0]]), 0, (100, 72), cfg, boxes)
    assert view.boxes_source == "model"


# ---------------------------------------------------------------------------------------------
# Errors, degenerate gts, determinism, figure
# ---------------------------------------------------------------------------------------------

def test_errors_name_the_problem():
    cfg = sads_head()
    with pytest.raises(ValueError, match="no ground-truth box"):
        inspect_sads(torch.zeros(0, 4), 0, SIZE, cfg)
    gts = torch.tensor([[20.0, 30.0, 80.0, 70.0], [60.0, 40.0, 100.0, 90.0]])
    for bad in (2, -1):
        with pytest.raises(ValueError, match=f"gt_index {bad} is out of range"):
            inspect_sads(gts, bad, SIZE, cfg)
    with pytest.raises(ValueError, match="stage-1 boxes"):
        inspect_sads(gts, 0, SIZE, cfg, boxes=torch.zeros(10, 4))
    with pytest.raises(ValueError, match="one prior per location"):
        inspect_sads(gts, 0, SIZE, HeadConfig())  # 3 anchor ratios


def test_zero_width_gt_does_not_crash():
    cfg = sads_head()
    gts = torch.tensor([[50.0, 40.0, 50.0, 80.0], [10.0, 10.0, 40.0, 40.0]])
    view = inspect_sads(gts, 0, SIZE, cfg)
    assert view.gt_area == 0.0 and (view.i_g, view.j_g) == (0, -1)
    assert view.posr_fallback and view.posr_positives.numel() == 1  # nearest P2 location
    assert view.sat_threshold == 0.0 and view.sat_positives.numel() == 0  # no IoU > 0
    assert view.maxiou_positives.numel() == 0
    assert isinstance(plot_sads(None, view), Figure)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and torch.equal(a, b)
    return a == b


def test_two_calls_give_identical_views():
    cfg = sads_head()
    boxes = jittered_priors(cfg, seed=2)
    gts = torch.tensor([[20.0, 30.0, 80.0, 70.0], [60.0, 40.0, 100.0, 90.0]])
    first = inspect_sads(gts, 1, SIZE, cfg, boxes)
    second = inspect_sads(gts.clone(), 1, SIZE, cfg, boxes.clone())
    for f in dataclasses.fields(first):
        assert _same(getattr(first, f.name), getattr(second, f.name)), f.name


def test_plot_is_a_figure_with_the_expected_axes_and_no_pyplot_state():
    cfg = sads_head()
    gts = torch.tensor([[20.0, 30.0, 80.0, 70.0]])
    view = inspect_sads(gts, 0, SIZE, cfg, jittered_priors(cfg))
    before = plt.get_fignums()
    images = (torch.rand(3, SIZE, SIZE), np.zeros((SIZE, SIZE, 3), dtype=np.uint8), None)
    for image in images:
        fig = plot_sads(image, view)
        assert isinstance(fig, Figure)
        assert len(fig.axes) == NUM_AXES == 5
        assert "i_g = P4" in fig._suptitle.get_text() and "j_g = P3" in fig._suptitle.get_text()
        assert f"{view.sat_threshold:.3f}" in fig.axes[1].get_title()  # threshold shown
        fig.canvas.draw()  # renders headless
    assert plt.get_fignums() == before


def test_inspector_widget_renders_and_handles_an_image_without_gt():
    pytest.importorskip("ipywidgets")
    from scrpn.config import config_from_dict
    from scrpn.viz.sads_inspector import SADSInspector

    cfg = config_from_dict({"data": {"image_size": SIZE},
                            "model": {"head": dataclasses.asdict(sads_head())}})
    empty = {"boxes": torch.zeros(0, 4), "iscrowd": torch.zeros(0, dtype=torch.bool)}
    two = {"boxes": torch.tensor([[20.0, 30.0, 80.0, 70.0], [60.0, 40.0, 100.0, 90.0]]),
           "iscrowd": torch.tensor([False, False])}
    dataset = [(torch.rand(3, SIZE, SIZE), two), (torch.rand(3, SIZE, SIZE), empty)]
    inspector = SADSInspector(dataset, cfg)
    assert [v for _, v in inspector.gt.options] == [0, 1]
    assert len(inspector.figure().axes) == NUM_AXES
    (shown,) = inspector.output.outputs  # the rendered view, as a PNG display item
    assert shown["output_type"] == "display_data"
    assert base64.b64decode(shown["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    inspector.image.value = 1
    (note,) = inspector.output.outputs
    assert note["output_type"] == "stream" and "no ground-truth box" in note["text"]
    inspector.image.value = 0
    calls = []
    inspector.render = lambda: calls.append(1)
    inspector.image.value = 1  # one render per user action, even though the gt list changes
    assert calls == [1] and inspector.figure() is None and inspector.gt.options == ()
    inspector.image.value = 0
    inspector.topk.value = 3
    assert len(calls) == 3
