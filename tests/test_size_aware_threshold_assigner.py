"""Size-Aware Threshold assigner (Algorithm 2) on hand-placed locations with known IoUs."""
import pytest
import torch

from scrpn.sampling.size_aware_threshold import SizeAwareThresholdAssigner

# gt [0, 0, 40, 40]: area 1600 -> i = 0 and, above level 0's middle 1024, j = 1. Centre (20, 20).
GT = torch.tensor([[0, 0, 40, 40.0]])
COUNTS = [4, 3, 1, 1, 1]
POINTS = torch.tensor([
    [20, 20], [24, 20], [20, 28], [60, 60],  # level 0: distances 0, 4, 8, 56.6
    [28, 20], [44, 20], [100, 100],          # level 1: distances 8, 24 (outside the gt), 113
    [200, 200], [300, 300], [400, 400],      # levels 2, 3, 4
], dtype=torch.float32)


def make_boxes(p5_box=(0, 0, 40, 40)):
    """Init proposals: IoUs with GT 0.8, 0.4, 0, 0 | 0.6, 1.0, 0 | 0, 0, 0 (zero-area ones)."""
    boxes = torch.cat([POINTS, POINTS], dim=1)  # zero-area proposals at the points
    boxes[0] = torch.tensor([0, 0, 40, 32.0])  # 1280 / 1600 = 0.8
    boxes[1] = torch.tensor([0, 0, 40, 16.0])  # 640 / 1600 = 0.4
    boxes[4] = torch.tensor([0, 0, 40, 24.0])  # 960 / 1600 = 0.6
    boxes[5] = torch.tensor(p5_box, dtype=torch.float32)  # 1.0
    return boxes


def test_mean_threshold_over_both_levels_worked_by_hand():
    # k = 2: level 0 -> p0 (0.8), p1 (0.4); level 1 -> p4 (0.6), p5 (1.0); m = 2.8 / 4 = 0.7
    res = SizeAwareThresholdAssigner(topk=2).assign(make_boxes(), POINTS, COUNTS, GT)
    assert res.info["levels"].tolist() == [[0, 1]]
    assert res.info["candidates"].tolist() == [[0, 1, 4, 5]]
    torch.testing.assert_close(res.info["thresholds"], torch.tensor([0.7]))
    torch.testing.assert_close(res.info["candidate_ious"], torch.tensor([[0.8, 0.4, 0.6, 1.0]]))
    # p0: 0.8 > 0.7, inside -> positive; p4: inside but 0.6 < 0.7 -> negative;
    # p5: 1.0 > 0.7 but its location (44, 20) is outside the gt -> negative
    assert res.gt_inds.tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    torch.testing.assert_close(res.max_overlaps, torch.tensor([0.8, 0.4, 0, 0, 0.6, 1.0, 0, 0,
                                                               0, 0]))
    assert not torch.isnan(res.max_overlaps).any()


def test_location_on_the_gt_border_is_not_inside():
    points = POINTS.clone()
    points[5] = torch.tensor([40, 20.0])  # still level 1's 2nd nearest, on the right edge
    res = SizeAwareThresholdAssigner(topk=2).assign(make_boxes(), points, COUNTS, GT)
    assert res.gt_inds.tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def test_topk_larger_than_the_levels_takes_them_all():
    # k = 9 takes all 4 + 3 locations; with p1 at IoU 0.3: m = (0.8 + 0.3 + 0.6 + 1.0) / 7
    boxes = make_boxes()
    boxes[1] = torch.tensor([0, 0, 40, 12.0])  # 480 / 1600 = 0.3
    res = SizeAwareThresholdAssigner(topk=9).assign(boxes, POINTS, COUNTS, GT)
    cand = res.info["candidates"]
    assert cand.shape == (1, 18)
    assert cand[0, :4].tolist() == [0, 1, 2, 3] and cand[0, 9:12].tolist() == [4, 5, 6]
    assert (cand[0, 4:9] == -1).all() and (cand[0, 12:] == -1).all()
    torch.testing.assert_close(res.info["thresholds"], torch.tensor([2.7 / 7]))
    assert res.pos_mask.nonzero()[:, 0].tolist() == [0, 4]


def test_iou_equal_to_the_mean_is_not_positive():
    # one level, k = 3: p0, p1, p2 (all inside) with IoUs 0.75, 0.5, 0.25 -> m = 0.5 exactly
    boxes = make_boxes()
    boxes[0] = torch.tensor([0, 0, 40, 30.0])
    boxes[1] = torch.tensor([0, 0, 40, 20.0])
    boxes[2] = torch.tensor([0, 0, 40, 10.0])
    res = SizeAwareThresholdAssigner(topk=3, num_levels_used=1).assign(boxes, POINTS, COUNTS, GT)
    assert res.info["thresholds"].tolist() == [0.5]
    assert res.pos_mask.nonzero()[:, 0].tolist() == [0]


def test_one_level_versus_two_levels():
    boxes = make_boxes()
    one = SizeAwareThresholdAssigner(topk=2, num_levels_used=1).assign(boxes, POINTS, COUNTS, GT)
    two = SizeAwareThresholdAssigner(topk=2, num_levels_used=2).assign(boxes, POINTS, COUNTS, GT)
    assert (one.info["candidates"] >= 0).sum() == 2 and (two.info["candidates"] >= 0).sum() == 4
    torch.testing.assert_close(one.info["thresholds"], torch.tensor([0.6]))  # (0.8 + 0.4) / 2
    assert one.pos_mask.nonzero()[:, 0].tolist() == [0]
    five = SizeAwareThresholdAssigner(topk=2, num_levels_used=5).assign(boxes, POINTS, COUNTS, GT)
    assert five.info["levels"].tolist() == [[0, 1, 2, 3, 4]]
    assert (five.info["candidates"] >= 0).sum() == 7


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_location_claimed_by_two_gts_goes_to_highest_iou(order):
    a, b = [0, 0, 40, 40.0], [8, 0, 48, 40.0]  # both level 0, centres (20, 20) and (28, 20)
    gts = torch.tensor([[a, b][i] for i in order])
    points = torch.tensor([[24, 20], [12, 20], [36, 20], [200, 200], [300, 300], [400, 400],
                           [500, 500.0]])
    boxes = torch.cat([points, points], dim=1)
    boxes[0] = torch.tensor([2, 0, 44, 40.0])  # IoU 1520 / 1760 with a, 1440 / 1840 with b
    res = SizeAwareThresholdAssigner(topk=2, num_levels_used=1).assign(
        boxes, points, [3, 1, 1, 1, 1], gts)
    # a: candidates q0, q1 -> mean 0.43; b: q0, q2 -> mean 0.39; q0 passes both -> a wins
    assert res.gt_inds.tolist()[:3] == [order.index(0) + 1, 0, 0]
    torch.testing.assert_close(res.max_overlaps[0], torch.tensor(1520 / 1760))


def test_tiny_gt_without_location_inside_has_no_positive():
    gt = torch.tensor([[21, 21, 22, 22.0]])
    res = SizeAwareThresholdAssigner(topk=2).assign(make_boxes(), POINTS, COUNTS, gt)
    assert res.info["levels"].tolist() == [[0, -1]]
    assert res.info["thresholds"][0] > 0
    assert res.pos_mask.sum() == 0


def test_ignore_boxes_only_affect_non_positive_locations():
    crowd = torch.tensor([[16, 16, 24, 32.0]])  # contains p0 (positive) and p2 (negative)
    res = SizeAwareThresholdAssigner(topk=2).assign(make_boxes(), POINTS, COUNTS, GT, crowd)
    assert res.gt_inds.tolist() == [1, 0, -1, 0, 0, 0, 0, 0, 0, 0]


def test_no_gts_and_no_boxes():
    res = SizeAwareThresholdAssigner().assign(make_boxes(), POINTS, COUNTS, torch.zeros((0, 4)))
    assert res.gt_inds.tolist() == [0] * 10 and res.max_overlaps.sum() == 0
    assert res.info["candidates"].shape == (0, 18) and res.info["thresholds"].shape == (0,)
    res = SizeAwareThresholdAssigner().assign(torch.zeros((0, 4)), torch.zeros((0, 2)),
                                              [0] * 5, GT)
    assert res.gt_inds.shape == (0,)
    assert res.info["candidates"].tolist() == [[-1] * 18]
    assert res.info["thresholds"].tolist() == [float("inf")]
