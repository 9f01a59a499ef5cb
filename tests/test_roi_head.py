"""The R-CNN RoI head: level rule, RoI targets worked by hand, losses, cascade refinement, NMS."""
import math

import pytest
import torch
from torch import nn

from scrpn.config import DetectorConfig
from scrpn.build import build_roi_head
from scrpn.detectors.bbox_heads import DoubleConvFCBBoxHead, Shared2FCBBoxHead
from scrpn.detectors.roi_head import (RoIExtractor, RoIHead, RoIStage, map_roi_levels,
                                      multiclass_nms, rcnn_assigner, rois_with_batch_index,
                                      sample_rois, scale_boxes, select_class_deltas)
from scrpn.sampling.sampler import RandomSampler


def _square(side):
    return torch.tensor([[0.0, 0.0, side, side]])


def test_roi_level_rule_is_mmdetections_finest_scale_56():
    sides = [10.0, 111.0, 112.0, 223.0, 224.0, 448.0, 2000.0]
    boxes = torch.cat([_square(s) for s in sides])
    assert map_roi_levels(boxes, num_levels=4).tolist() == [0, 0, 1, 1, 2, 3, 3]


def test_extractor_pools_each_roi_on_its_level():
    # Level l holds the constant l + 1: a RoI's pooled value names the level it was read from.
    feats = [torch.full((1, 2, 64 // s, 64 // s), float(i + 1)) for i, s in enumerate((4, 8, 16, 32))]
    rois = rois_with_batch_index([torch.tensor([[0.0, 0.0, 20.0, 20.0], [0.0, 0.0, 60.0, 60.0]])])
    out = RoIExtractor(output_size=3, sampling_ratio=2, finest_scale=16.0)(feats, rois)
    assert out.shape == (2, 2, 3, 3)
    # sqrt areas 20 and 60 with finest scale 16 -> P2 (floor(log2 1.25) = 0) and P3 (floor(log2 3.75) = 1)
    assert torch.allclose(out[0], torch.ones(2, 3, 3)) and torch.allclose(out[1], torch.full((2, 3, 3), 2.0))
    assert RoIExtractor()(feats, torch.zeros(0, 5)).shape == (0, 2, 7, 7)


def test_scale_boxes_keeps_centre():
    out = scale_boxes(torch.tensor([[10.0, 20.0, 30.0, 60.0]]), 1.5)
    assert torch.allclose(out, torch.tensor([[5.0, 10.0, 35.0, 70.0]]))


def test_sample_rois_hand_worked_targets():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    proposals = torch.tensor([[0.0, 0.0, 10.0, 10.5],    # IoU 100 / 105 = 0.952
                              [0.0, 0.0, 10.0, 20.0],    # IoU 0.5 exactly
                              [50.0, 50.0, 60.0, 60.0]])  # IoU 0
    sampler = RandomSampler(num=512, pos_fraction=0.25)
    s = sample_rois(proposals, gt, torch.tensor([3]), rcnn_assigner(0.5), sampler, True, None)
    # gt added first (index 0), then proposals: positives {gt, p0, p1} (>= 0.5), negative {p2}
    assert s.num_pos == 3
    assert s.labels.tolist() == [3, 3, 3, 0]
    assert s.is_gt.tolist() == [True, False, False, False]
    assert torch.equal(s.boxes, torch.cat([gt, proposals]))
    assert torch.equal(s.gt_boxes[:3], gt.expand(3, 4)) and torch.equal(s.gt_boxes[3], torch.zeros(4))
    # At the paper's 0.65 (after GA-RPN) the IoU-0.5 proposal becomes a negative.
    s65 = sample_rois(proposals, gt, torch.tensor([3]), rcnn_assigner(0.65), sampler, True, None)
    assert s65.num_pos == 2 and s65.labels.tolist() == [3, 3, 0, 0]
    # Without gt boxes added, only the proposal at 0.952 is positive.
    s_nogt = sample_rois(proposals, gt, torch.tensor([3]), rcnn_assigner(0.65), sampler, False, None)
    assert s_nogt.num_pos == 1 and not s_nogt.is_gt.any()


def test_sampler_caps_positives_at_a_quarter():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    proposals = gt.repeat(20, 1) + torch.rand(20, 4, generator=torch.Generator().manual_seed(0)) * 0.1
    proposals = torch.cat([proposals, torch.tensor([[40.0, 40.0, 50.0, 50.0]]).repeat(20, 1)])
    s = sample_rois(proposals, gt, torch.tensor([1]), rcnn_assigner(0.5), RandomSampler(8, 0.25),
                    True, torch.Generator().manual_seed(0))
    assert s.num_pos == 2 and s.boxes.shape[0] == 8 and (s.labels[2:] == 0).all()


def test_no_gt_and_no_proposals_give_empty_samples():
    s = sample_rois(torch.zeros(0, 4), torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
                    rcnn_assigner(0.5), RandomSampler(), True, None)
    assert s.boxes.shape == (0, 4) and s.num_pos == 0


def test_select_class_deltas_picks_the_label_column():
    deltas = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 12)    # K = 3
    out = select_class_deltas(deltas, torch.tensor([3, 1]), 3)
    assert torch.equal(out[0], deltas[0, 8:12]) and torch.equal(out[1], deltas[1, 0:4])
    agnostic = torch.arange(8, dtype=torch.float32).view(2, 4)
    assert torch.equal(select_class_deltas(agnostic, torch.tensor([3, 1]), 3), agnostic)


class _FixedHead(nn.Module):
    """A box head stub with fixed outputs (one row repeated for every RoI)."""

    reg_roi_scale = 1.0

    def __init__(self, logits, deltas):
        super().__init__()
        self.num_classes = len(logits) - 1
        self.logits = torch.tensor(logits)
        self.deltas = torch.tensor(deltas)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, cls_feats, reg_feats):
        n = cls_feats.shape[0]
        return (self.logits.expand(n, -1) * self.scale, self.deltas.expand(n, -1) * self.scale)


def _feats():
    return [torch.zeros(1, 4, 64 // s, 64 // s) for s in (4, 8, 16, 32)]


def test_stage_loss_normalises_by_the_sampled_count():
    """CE averaged over samples; L1 summed over the positives' class deltas / number of samples."""
    stage = RoIStage(_FixedHead([0.0, 0.0], [0.5, 0.0, 0.0, 0.0]), 0.5, (0.1, 0.1, 0.2, 0.2))
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    proposals = torch.tensor([[0.0, 0.0, 10.0, 10.0], [40.0, 40.0, 50.0, 50.0]])
    s = sample_rois(proposals, gt, torch.tensor([1]), stage.assigner, RandomSampler(), False, None)
    assert s.num_pos == 1 and s.boxes.shape[0] == 2
    logits, deltas = stage.bbox_head(torch.zeros(2, 1), None)
    loss_cls, loss_reg = stage.loss(logits, deltas, [s])
    assert loss_cls.item() == pytest.approx(math.log(2.0))        # two classes, equal logits
    assert loss_reg.item() == pytest.approx(0.5 / 2)              # |0.5 - 0| over 2 samples


def test_head_without_gt_or_proposals_trains_and_predicts_nothing():
    det = DetectorConfig(fc_channels=16)
    head = build_roi_head(det, in_channels=4, num_classes=3)
    targets = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long),
                "iscrowd": torch.zeros(0, dtype=torch.bool), "img_shape": (64, 64)}]
    losses = head.loss(_feats(), [torch.zeros(0, 4)], targets)
    assert all(torch.isfinite(v) for v in losses.values())
    losses = head.loss(_feats(), [torch.tensor([[1.0, 1.0, 20.0, 20.0]])], targets)  # negatives only
    assert losses["loss_rcnn_reg"].item() == 0.0 and losses["loss_rcnn_cls"].item() > 0
    sum(losses.values()).backward()
    out = head.predict(_feats(), [torch.zeros(0, 4)], targets)
    assert out[0]["boxes"].shape == (0, 4) and out[0]["labels"].shape == (0,)


def test_cascade_refines_without_the_added_gts_and_averages_logits():
    gt = torch.tensor([[0.0, 0.0, 20.0, 20.0]])
    target = {"boxes": gt, "labels": torch.tensor([2]), "iscrowd": torch.tensor([False]),
              "img_shape": (64, 64)}
    # Stage heads: agnostic deltas shift boxes by +1 std-unit of x (0.1 * width) per stage.
    stds = [(0.1, 0.1, 0.2, 0.2), (0.05, 0.05, 0.1, 0.1)]
    heads = [_FixedHead([0.0, 2.0, 0.0], [1.0, 0.0, 0.0, 0.0]),
             _FixedHead([0.0, 0.0, 4.0], [2.0, 0.0, 0.0, 0.0])]
    stages = [RoIStage(h, iou, s) for h, iou, s in zip(heads, (0.5, 0.6), stds)]
    head = RoIHead(stages, RoIExtractor(), RandomSampler(), add_gt_as_proposals=True, score_thr=0.0,
                   nms_thr=0.5, max_per_img=10)
    proposal = torch.tensor([[0.0, 0.0, 20.0, 21.0]])
    s = sample_rois(proposal, gt, target["labels"], stages[0].assigner, RandomSampler(), True, None)
    logits, deltas = stages[0](head.extractor, _feats(), rois_with_batch_index([s.boxes]))
    refined = head._refine(stages[0], [s], logits, deltas, [target])
    assert refined[0].shape == (1, 4)                                  # the added gt is gone
    assert refined[0][0, 0].item() == pytest.approx(2.0)              # x moved by 0.1 * 20
    losses = head.loss(_feats(), [proposal], [target])
    assert set(losses) == {"loss_rcnn1_cls", "loss_rcnn1_reg", "loss_rcnn2_cls", "loss_rcnn2_reg"}
    out = head.predict(_feats(), [proposal], [target])[0]
    mean = torch.tensor([0.0, 1.0, 2.0]).softmax(0)                   # mean of the stages' logits
    assert torch.allclose(out["scores"].sort(descending=True).values, mean[1:].sort(descending=True).values)
    # Boxes: stage 1 moves x by 2.0 (0.1 * 20), stage 2 by 2.0 * 0.05 * 20 = 2.0 more.
    assert torch.allclose(out["boxes"][0, [0, 2]], torch.tensor([4.0, 24.0]), atol=1e-4)


def test_multiclass_nms_per_class_threshold_and_cap():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 11.0], [30.0, 30.0, 40.0, 40.0]])
    per_class = boxes[:, None, :].expand(3, 2, 4)                      # K = 2, same boxes
    scores = torch.tensor([[0.9, 0.8], [0.7, 0.01], [0.6, 0.3]])
    b, s, lab = multiclass_nms(per_class, scores, score_thr=0.05, nms_thr=0.5, max_per_img=100)
    # class 1: box 1 suppressed by box 0; class 2: box 1 below threshold
    assert s.tolist() == pytest.approx([0.9, 0.8, 0.6, 0.3])
    assert lab.tolist() == [1, 2, 1, 2]
    _, s2, _ = multiclass_nms(per_class, scores, 0.05, 0.5, max_per_img=2)
    assert s2.tolist() == pytest.approx([0.9, 0.8])


@pytest.mark.parametrize("cls", [Shared2FCBBoxHead, DoubleConvFCBBoxHead])
@pytest.mark.parametrize("agnostic", [False, True])
def test_bbox_head_shapes(cls, agnostic):
    kwargs = dict(conv_channels=16, num_convs=1) if cls is DoubleConvFCBBoxHead else {}
    head = cls(8, 7, num_classes=5, fc_channels=32, class_agnostic=agnostic, **kwargs)
    x = torch.randn(6, 8, 7, 7)
    logits, deltas = head(x, x)
    assert logits.shape == (6, 6) and deltas.shape == (6, 4 if agnostic else 20)


def test_double_head_reads_enlarged_regression_rois():
    det = DetectorConfig(type="double_head", fc_channels=16, conv_channels=16, num_convs=1)
    head = build_roi_head(det, in_channels=4, num_classes=2)
    assert head.stages[0].bbox_head.reg_roi_scale == pytest.approx(1.3)
    seen = []
    original = head.extractor.forward
    head.extractor.forward = lambda feats, rois, scale=1.0: seen.append(scale) or original(feats, rois, scale)
    head.stages[0](head.extractor, _feats(), rois_with_batch_index([torch.tensor([[0.0, 0.0, 8.0, 8.0]])]))
    assert seen == [1.0, pytest.approx(1.3)]
