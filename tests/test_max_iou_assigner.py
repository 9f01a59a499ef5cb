"""Max-IoU assigner: hand-built priors with exact IoUs around RPN's 0.3 / 0.7 thresholds."""
import torch

from scrpn.sampling.geometry import pairwise_overlaps
from scrpn.sampling.max_iou import MaxIoUAssigner

GTS = torch.tensor([[0, 0, 10, 10], [40, 0, 50, 10]], dtype=torch.float32)
PRIORS = torch.tensor([
    [0, 0, 10, 10],    # 0: IoU 1.00 with gt 0
    [0, 0, 10, 7],     # 1: IoU 0.70 with gt 0 (exactly the positive threshold)
    [0, 0, 10, 6.9],   # 2: IoU 0.69 -> between thresholds, ignored
    [0, 0, 10, 3],     # 3: IoU 0.30 -> not below 0.3, ignored
    [0, 0, 10, 2.9],   # 4: IoU 0.29 -> negative
    [20, 20, 30, 30],  # 5: IoU 0 -> negative
    [40, 0, 50, 4],    # 6: IoU 0.40 with gt 1, gt 1's best (tied with 7)
    [40, 6, 50, 10],   # 7: IoU 0.40 with gt 1
], dtype=torch.float32)


def rpn_assigner(**kw):
    args = dict(pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3)
    args.update(kw)
    return MaxIoUAssigner(**args)


def test_overlaps_are_exact():
    iou = pairwise_overlaps(PRIORS, GTS)
    expected = torch.tensor([[1, 0], [0.7, 0], [0.69, 0], [0.3, 0], [0.29, 0], [0, 0],
                             [0, 0.4], [0, 0.4]])
    torch.testing.assert_close(iou, expected)


def test_thresholds_and_low_quality_rescue_of_all_tied_best_priors():
    res = rpn_assigner().assign(PRIORS, GTS)
    assert res.gt_inds.tolist() == [1, 1, -1, -1, 0, 0, 2, 2]
    assert res.num_gts == 2
    assert res.pos_assigned_gt_inds.tolist() == [0, 0, 1, 1]
    torch.testing.assert_close(res.max_overlaps, torch.tensor([1, 0.7, 0.69, 0.3, 0.29, 0,
                                                               0.4, 0.4]))


def test_low_quality_options():
    assert rpn_assigner(gt_max_assign_all=False).assign(PRIORS, GTS).gt_inds.tolist() == \
        [1, 1, -1, -1, 0, 0, 2, -1]
    assert rpn_assigner(match_low_quality=False).assign(PRIORS, GTS).gt_inds.tolist() == \
        [1, 1, -1, -1, 0, 0, -1, -1]
    assert rpn_assigner(min_pos_iou=0.5).assign(PRIORS, GTS).gt_inds.tolist() == \
        [1, 1, -1, -1, 0, 0, -1, -1]


def test_tuple_negative_range():
    res = rpn_assigner(neg_iou_thr=(0.1, 0.3)).assign(PRIORS, GTS)
    assert res.gt_inds.tolist() == [1, 1, -1, -1, 0, -1, 2, 2]


def test_ignore_boxes_by_iof():
    priors = torch.cat([PRIORS, torch.tensor([[100, 100, 110, 110], [95, 100, 105, 110.0]])])
    crowd = torch.tensor([[100, 100, 200, 200.0]])
    # prior 8: IoF 1 -> ignored; prior 9: IoF 0.5, not > 0.5 -> stays negative
    res = rpn_assigner(ignore_iof_thr=0.5).assign(priors, GTS, crowd)
    assert res.gt_inds[8:].tolist() == [-1, 0]
    assert rpn_assigner().assign(priors, GTS, crowd).gt_inds[8:].tolist() == [0, 0]
    # an ignored prior is never rescued by a low-quality match, even if it is a gt's best
    res = rpn_assigner(ignore_iof_thr=0.5).assign(priors[6:7], GTS[1:], torch.tensor(
        [[40, 0, 50, 10.0]]))
    assert res.gt_inds.tolist() == [-1]


def test_no_gt_gives_all_negative():
    res = rpn_assigner().assign(PRIORS, torch.zeros((0, 4)))
    assert res.gt_inds.tolist() == [0] * 8
    assert res.max_overlaps.tolist() == [0.0] * 8
    assert res.num_gts == 0 and res.neg_mask.all()


def test_no_priors_gives_empty_result():
    res = rpn_assigner().assign(torch.zeros((0, 4)), GTS)
    assert res.gt_inds.shape == (0,) and res.max_overlaps.shape == (0,)
    assert res.pos_assigned_gt_inds.shape == (0,)


def test_degenerate_gt_gives_no_nan_and_no_positive_even_with_min_pos_iou_0():
    gts = torch.tensor([[60, 60, 60, 60.0]])
    res = rpn_assigner(min_pos_iou=0.0).assign(PRIORS, gts)
    assert not torch.isnan(res.max_overlaps).any()
    assert res.gt_inds.tolist() == [0] * 8
