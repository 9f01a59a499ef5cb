"""Positive Region assigner (Algorithm 1) on a 32 x 32 image, levels of strides 4 .. 64."""
import torch

from scrpn.sampling.positive_region import PositiveRegionAssigner

STRIDES = (4, 8, 16, 32, 64)


def make_points(size: int = 32, strides=STRIDES):
    """Location centres ((col + 0.5) * s, (row + 0.5) * s), level after level, row-major."""
    points, counts = [], []
    for s in strides:
        n = -(-size // s)
        ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        points.append(torch.stack([xs, ys], dim=-1).reshape(-1, 2).float() * s + s / 2)
        counts.append(n * n)
    return torch.cat(points), counts  # (86, 2): 64 + 16 + 4 + 1 + 1


def level0(rows, cols):
    return sorted(r * 8 + c for r in rows for c in cols)


POINTS, COUNTS = make_points()


def positives(res, gt):
    return res.pos_mask.nonzero()[:, 0][res.pos_assigned_gt_inds == gt].tolist()


def test_centre_region_bounds_are_inclusive():
    # area 256 -> level 0; centre 10, sigma 0.5 -> [6, 14]: centres 6, 10, 14 on both axes
    gt = torch.tensor([[2, 2, 18, 18.0]])
    res = PositiveRegionAssigner(center_ratio=0.5).assign(POINTS, COUNTS, gt)
    assert positives(res, 0) == level0([1, 2, 3], [1, 2, 3])
    assert res.neg_mask.sum() == 86 - 9
    assert res.max_overlaps[res.pos_mask].tolist() == [1.0] * 9
    assert res.max_overlaps[res.neg_mask].sum() == 0
    # paper's sigma 0.2 -> [8.4, 11.6]: only the centre location (10, 10)
    res = PositiveRegionAssigner().assign(POINTS, COUNTS, gt)
    assert positives(res, 0) == level0([2], [2])


def test_positives_come_from_the_gt_level_only():
    # area 2048 = 2^11 -> level 1; region x [16, 48], y [8, 24]: stride-8 centres 20, 28 x 12, 20
    gt = torch.tensor([[0, 0, 64, 32.0]])
    res = PositiveRegionAssigner(center_ratio=0.5).assign(POINTS, COUNTS, gt)
    assert positives(res, 0) == [64 + 6, 64 + 7, 64 + 10, 64 + 11]


def test_tiny_gt_gets_its_nearest_location_on_its_level():
    # area 1, centre (20.5, 20.5): no centre in the region; nearest stride-4 centre is (22, 22)
    gt = torch.tensor([[20, 20, 21, 21.0]])
    res = PositiveRegionAssigner().assign(POINTS, COUNTS, gt)
    assert positives(res, 0) == [5 * 8 + 5]


def test_overlapping_gts_smaller_area_wins():
    big = [0, 0, 30, 30.0]  # area 900, region [7.5, 22.5]: centres 10, 14, 18, 22 (4 x 4)
    small = [2, 2, 18, 18.0]  # area 256, region [6, 14]: centres 6, 10, 14 (3 x 3)
    for gts, b, s in (([big, small], 0, 1), ([small, big], 1, 0)):
        res = PositiveRegionAssigner(center_ratio=0.5).assign(POINTS, COUNTS, torch.tensor(gts))
        assert positives(res, s) == level0([1, 2, 3], [1, 2, 3])
        shared = set(level0([2, 3], [2, 3]))
        assert positives(res, b) == sorted(set(level0(range(2, 6), range(2, 6))) - shared)


def test_equal_areas_lower_gt_index_wins():
    gts = torch.tensor([[2, 2, 18, 18.0], [2, 2, 18, 18.0]])
    res = PositiveRegionAssigner(center_ratio=0.5).assign(POINTS, COUNTS, gts)
    assert positives(res, 0) == level0([1, 2, 3], [1, 2, 3]) and positives(res, 1) == []


def test_ignore_box_marks_only_non_positive_locations():
    gt = torch.tensor([[2, 2, 18, 18.0]])
    # strictly contains stride-4 centres x 2, 6, 10 at y 2, 6 (of which (6, 6), (10, 6) are
    # positive) and the stride-8 centre (4, 4), global index 64
    crowd = torch.tensor([[0, 0, 12, 8.0]])
    res = PositiveRegionAssigner(center_ratio=0.5).assign(POINTS, COUNTS, gt, crowd)
    assert res.ignore_mask.nonzero()[:, 0].tolist() == [0, 1, 2, 8, 64]
    assert positives(res, 0) == level0([1, 2, 3], [1, 2, 3])


def test_empty_gts_and_empty_points():
    res = PositiveRegionAssigner().assign(POINTS, COUNTS, torch.zeros((0, 4)))
    assert res.gt_inds.tolist() == [0] * 86 and res.num_gts == 0
    res = PositiveRegionAssigner().assign(torch.zeros((0, 2)), [0] * 5,
                                          torch.tensor([[2, 2, 18, 18.0]]))
    assert res.gt_inds.shape == (0,) and res.max_overlaps.shape == (0,)


def test_gt_on_an_empty_level_gets_nothing():
    gt = torch.tensor([[0, 0, 64, 32.0]])  # level 1, which has no locations here
    counts = [64, 0, 4, 1, 1]
    points = torch.cat([POINTS[:64], POINTS[80:]])
    res = PositiveRegionAssigner().assign(points, counts, gt)
    assert res.gt_inds.tolist() == [0] * 70
