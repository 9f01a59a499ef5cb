"""Region assigner (Cascade RPN's stage 1, mmdetection's RegionAssigner) on hand-worked cases.

A 32 x 32 image with two levels, strides 4 (8 x 8 locations) and 8 (4 x 4), one square anchor of
scale 4 per location (base scale 16: level 0 holds areas [128, 512), level 1 [512, 2048)). Prior
centres sit at (col * s, row * s), i.e. on whole cells.
"""
import pytest
import torch

from scrpn.config import ConfigError, config_from_dict
from scrpn.models.anchors import AnchorGenerator
from scrpn.build import build_assigner
from scrpn.sampling.region import RegionAssigner, region_in_cells

STRIDES = (4, 8)


def make_priors(ratios=(1.0,)):
    gen = AnchorGenerator(strides=STRIDES, ratios=ratios, scales=(4.0,))
    levels = gen.grid_anchors([(8, 8), (4, 4)])
    return torch.cat(levels), [lv.shape[0] for lv in levels]


PRIORS, COUNTS = make_priors()  # (80, 4): 64 + 16
ASSIGNER = RegionAssigner(center_ratio=0.2, ignore_ratio=0.5, base_scale=16.0, strides=STRIDES)


def cells(level, rows, cols):
    width, start = (8, 0) if level == 0 else (4, 64)
    return sorted(start + r * width + c for r in rows for c in cols)


def test_region_rounds_to_whole_cells():
    # [0, 16] on stride 4 is cells [0, 4]: centre 0.2 -> [1.6, 2.4] -> [2, 2]; ignore 0.5 -> [1, 3]
    box = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    assert region_in_cells(box, 0.2, 4.0).tolist() == [[2.0, 2.0, 2.0, 2.0]]
    assert region_in_cells(box, 0.5, 4.0).tolist() == [[1.0, 1.0, 3.0, 3.0]]
    # on stride 8, [0, 2] cells -> ignore [0.5, 1.5], torch.round (half to even) -> [0, 2]
    assert region_in_cells(box, 0.5, 8.0).tolist() == [[0.0, 0.0, 2.0, 2.0]]


def test_centre_positive_own_level_ignore_and_adjacent_level_ignore():
    gt = torch.tensor([[0.0, 0.0, 16.0, 16.0]])  # area 256 -> level 0
    res = ASSIGNER.assign(PRIORS, COUNTS, gt)
    assert res.pos_mask.nonzero()[:, 0].tolist() == cells(0, [2], [2])
    ignored = res.ignore_mask.nonzero()[:, 0].tolist()
    own = [i for i in cells(0, [1, 2, 3], [1, 2, 3]) if i != cells(0, [2], [2])[0]]
    assert ignored == own + cells(1, [0, 1, 2], [0, 1, 2])       # 8 on level 0, 9 on level 1
    assert int(res.neg_mask.sum()) == 80 - 1 - 17
    assert res.max_overlaps[res.pos_mask].tolist() == [1.0]
    assert res.max_overlaps[~res.pos_mask].sum() == 0


def test_prior_centre_decides_not_the_anchor_box():
    # an anchor 16 px wide at (4, 8) overlaps the gt heavily but its centre is outside the region
    gt = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    res = ASSIGNER.assign(PRIORS, COUNTS, gt)
    assert res.gt_inds[cells(0, [2], [1])[0]] == -1          # ignore region only
    assert res.gt_inds[cells(0, [0], [0])[0]] == 0           # overlaps the gt, centre outside both


def test_order_matters_a_later_gt_ignore_region_overwrites_earlier_positives():
    a = [0.0, 0.0, 16.0, 16.0]   # level 0: positive cell (2, 2), ignore cells [1, 3]
    b = [4.0, 4.0, 20.0, 20.0]   # level 0: cells [1, 5]: positive (3, 3), ignore cells [2, 4]
    res = ASSIGNER.assign(PRIORS, COUNTS, torch.tensor([a, b]))
    assert res.gt_inds[cells(0, [2], [2])[0]] == -1
    assert res.pos_mask.nonzero()[:, 0].tolist() == cells(0, [3], [3])
    res = ASSIGNER.assign(PRIORS, COUNTS, torch.tensor([b, a]))
    assert res.gt_inds[cells(0, [3], [3])[0]] == -1
    assert res.pos_mask.nonzero()[:, 0].tolist() == cells(0, [2], [2])
    assert res.gt_inds[cells(0, [2], [2])[0]] == 2


def test_adjacent_level_ignore_comes_last_and_overwrites_positives():
    small = [0.0, 0.0, 16.0, 16.0]   # level 0: positive (2, 2); ignore on level 1: cells [0, 2]
    big = [0.0, 0.0, 32.0, 32.0]     # level 1: positive (2, 2); ignore on level 0: cells [2, 6]
    for gts in ([small, big], [big, small]):
        res = ASSIGNER.assign(PRIORS, COUNTS, torch.tensor(gts))
        assert int(res.pos_mask.sum()) == 0
        assert res.gt_inds[cells(0, [2], [2])[0]] == -1 and res.gt_inds[cells(1, [2], [2])[0]] == -1


def test_all_anchors_of_a_location_share_its_label():
    priors, counts = make_priors(ratios=(0.5, 1.0, 2.0))
    res = ASSIGNER.assign(priors, counts, torch.tensor([[0.0, 0.0, 16.0, 16.0]]))
    loc = cells(0, [2], [2])[0]
    assert res.pos_mask.nonzero()[:, 0].tolist() == [3 * loc, 3 * loc + 1, 3 * loc + 2]


def test_crowd_boxes_ignore_non_positive_priors():
    gt = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    crowd = torch.tensor([[18.0, 18.0, 31.0, 31.0]])  # strictly holds stride-4 centres 20..28
    res = ASSIGNER.assign(PRIORS, COUNTS, gt, crowd)
    assert res.gt_inds[cells(0, [5], [5])[0]] == -1 and res.gt_inds[cells(0, [7], [7])[0]] == -1
    assert res.gt_inds[cells(1, [3], [3])[0]] == -1            # stride-8 centre (24, 24)
    assert res.pos_mask.nonzero()[:, 0].tolist() == cells(0, [2], [2])


def test_empty_gt_all_negative():
    res = ASSIGNER.assign(PRIORS, COUNTS, torch.zeros(0, 4))
    assert res.num_gts == 0 and res.gt_inds.shape == (80,) and (res.gt_inds == 0).all()


def test_empty_priors():
    res = ASSIGNER.assign(torch.zeros(0, 4), [0, 0], torch.tensor([[0.0, 0.0, 16.0, 16.0]]))
    assert res.gt_inds.shape == (0,) and res.max_overlaps.shape == (0,)


def test_config_builds_it_and_keeps_it_out_of_stage_2():
    raw = {"model": {"head": {"anchor_ratios": [1.0], "num_stages": 2,
                              "stage1": {"assigner": {"type": "region", "ignore_ratio": 0.4}}}}}
    cfg = config_from_dict(raw)
    a = build_assigner(cfg.model.head.stage1.assigner, 16.0, STRIDES)
    assert isinstance(a, RegionAssigner) and (a.center_ratio, a.ignore_ratio) == (0.2, 0.4)
    raw["model"]["head"]["stage2"] = {"assigner": {"type": "region"}}
    with pytest.raises(ConfigError, match="stage 2"):
        config_from_dict(raw)
