"""The loss normalisers of eqs. (4)-(7) (``LossAccumulator``), on numbers worked out by hand.

Two images. Every classification logit is 0 and every mask probability 0.5, so each BCE term is
ln 2 (or ln 2 again for a soft target of 0.5), and the boxes are chosen so that the IoUs are 1/2,
1 and 1/7. The numbers tell the normalisers apart: batch-level sums (not per-image means), the
classification count M_cls for L1 in a classifying stage, the positive count for IoU losses.
"""
from __future__ import annotations

import math

import pytest
import torch

from scrpn.build import build_stage_loss
from scrpn.config import HeadConfig, StageConfig
from scrpn.models.heads.blocks import LossAccumulator, flatten_levels, head_conv

LN2 = math.log(2.0)


def _cfg(stage1_cls: float = 1.0, stage2_loss: str = "iou") -> HeadConfig:
    return HeadConfig(num_stages=2,
                      stage1=StageConfig(reg_loss="l1", reg_weight=1.0, cls_weight=stage1_cls),
                      stage2=StageConfig(reg_loss=stage2_loss, reg_weight=10.0, cls_weight=2.0))


def _losses(acc: LossAccumulator, cfg: HeadConfig) -> dict:
    """The accumulator's losses with ``cfg``'s stages resolved as the build resolves them."""
    return acc.losses([build_stage_loss(cfg.stage1), build_stage_loss(cfg.stage2)],
                      cfg.iou_mask.weight)


def _filled(stage1_cls: bool = True) -> LossAccumulator:
    acc = LossAccumulator()
    # stage 1, L1 on deltas. image A: |0| + |1|*4 = 4 over 2 pairs; image B: 0.5 over 1 pair
    acc.add_reg("s1", torch.tensor([[0.0, 0, 0, 0], [1.0, 1, 1, 1]]), torch.zeros(2, 4))
    acc.add_reg("s1", torch.tensor([[0.5, 0, 0, 0]]), torch.zeros(1, 4))
    if stage1_cls:  # 3 + 1 classification samples, logits 0: 4 ln 2
        acc.add_cls("s1", torch.zeros(3), torch.tensor([1.0, 0.0, 0.0]))
        acc.add_cls("s1", torch.zeros(1), torch.tensor([1.0]))
    # stage 2, IoU on boxes. image A: IoU 1/2 and 1; image B: IoU 1/7 (1 px^2 over 7 px^2)
    acc.add_reg("s2", torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 4, 4]]),
                torch.tensor([[0.0, 0, 10, 5], [0.0, 0, 4, 4]]))
    acc.add_reg("s2", torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 1, 3, 3]]))
    acc.add_cls("s2", torch.zeros(2), torch.tensor([1.0, 0.0]))      # 2 samples
    acc.add_cls("s2", torch.zeros(4), torch.tensor([1.0, 0, 0, 0]))  # 4 samples: M_cls = 6
    # IoU mask: probabilities 0.5; targets 1 and 0 (ln 2 each), then 0.5 (ln 2)
    acc.add_mask(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]))
    acc.add_mask(torch.tensor([0.5]), torch.tensor([0.5]))
    return acc


def test_every_normaliser_by_hand():
    losses = _losses(_filled(), _cfg())
    # stage-1 L1 in a classifying stage: / M_cls = 4 (summed over the batch): 4.5 / 4
    assert losses["loss_s1_reg"].item() == pytest.approx(4.5 / 4)
    # stage-1 classification: 4 ln 2 / 4
    assert losses["loss_s1_cls"].item() == pytest.approx(LN2)
    # stage-2 IoU loss: weight 10 x (1/2 + 0 + 6/7) / 3 positives (not / M_cls = 6)
    assert losses["loss_s2_reg"].item() == pytest.approx(10.0 * (0.5 + 6.0 / 7.0) / 3.0)
    # stage-2 classification: weight 2 x 6 ln 2 / 6
    assert losses["loss_s2_cls"].item() == pytest.approx(2.0 * LN2)
    # IoU mask: 3 ln 2 / 3 mask samples
    assert losses["loss_mask"].item() == pytest.approx(LN2, rel=1e-5)
    assert set(losses) == {"loss_s1_reg", "loss_s1_cls", "loss_s2_reg", "loss_s2_cls", "loss_mask"}


def test_a_stage_without_classification_divides_l1_by_its_pairs():
    losses = _losses(_filled(stage1_cls=False), _cfg(stage1_cls=0.0))
    assert losses["loss_s1_reg"].item() == pytest.approx(4.5 / 3)
    assert "loss_s1_cls" not in losses


def test_unitbox_reading_divides_by_the_positives_too():
    losses = _losses(_filled(), _cfg(stage2_loss="iou_log"))
    # -ln(1/2) - ln(1) - ln(1/7) = ln 14, over 3 positives, weight 10
    assert losses["loss_s2_reg"].item() == pytest.approx(10.0 * math.log(14.0) / 3.0, rel=1e-5)


def test_no_positives_gives_zero_not_nan():
    acc = LossAccumulator()
    acc.add_reg("s2", torch.zeros(0, 4), torch.zeros(0, 4))
    acc.add_cls("s2", torch.zeros(2), torch.zeros(2))
    losses = _losses(acc, _cfg())
    assert losses["loss_s2_reg"].item() == 0.0
    assert losses["loss_s2_cls"].item() == pytest.approx(2.0 * 2 * LN2 / 2)


def test_head_conv_and_flatten_levels():
    conv = head_conv(3, 5, 3, dilation=2)
    assert conv.padding == (2, 2) and conv.bias.abs().sum() == 0
    assert 0.005 < conv.weight.std().item() < 0.02
    x = torch.arange(2 * 6 * 2 * 3, dtype=torch.float32).reshape(2, 6, 2, 3)  # (B, A*R, H, W)
    flat = flatten_levels(x, 3)                                               # A = 2, R = 3
    assert flat.shape == (2, 12, 3)
    # location (h=0, w=1), anchor 1: channels 3..5 at that pixel
    assert flat[0, 1 * 2 + 1].tolist() == x[0, 3:6, 0, 1].tolist()


# ---------------------------------------------------------------- 'mmdet' normalisers (issue 17)
def _mmdet_cfg(stage1_cls: float = 1.0) -> HeadConfig:
    cfg = _cfg(stage1_cls=stage1_cls)
    cfg.stage1.loss_norm = cfg.stage2.loss_norm = "mmdet"
    return cfg


def test_mmdet_normaliser_divides_a_sampled_stage_by_its_sampled_count():
    losses = _losses(_filled(), _mmdet_cfg())
    # stage-1 L1: / sampled count 4, as 'paper' already does for L1
    assert losses["loss_s1_reg"].item() == pytest.approx(4.5 / 4)
    # stage-2 IoU loss: weight 10 x (1/2 + 0 + 6/7) / 6 sampled (not / 3 positives)
    assert losses["loss_s2_reg"].item() == pytest.approx(10.0 * (0.5 + 6.0 / 7.0) / 6.0)
    # classification and the mask are unchanged
    assert losses["loss_s2_cls"].item() == pytest.approx(2.0 * LN2)
    assert losses["loss_mask"].item() == pytest.approx(LN2, rel=1e-5)


def test_mmdet_normaliser_of_an_unsampled_stage_is_priors_over_200():
    acc = _filled(stage1_cls=False)
    acc.add_priors("s1", 600)   # image A's priors
    acc.add_priors("s1", 600)   # image B's: 1200 / 200 = 6
    losses = _losses(acc, _mmdet_cfg(stage1_cls=0.0))
    assert losses["loss_s1_reg"].item() == pytest.approx(4.5 / 6.0)
    # below 200 priors the factor is < 1; the accumulator never divides by less than 1
    few = _filled(stage1_cls=False)
    few.add_priors("s1", 100)
    assert _losses(few, _mmdet_cfg(stage1_cls=0.0))["loss_s1_reg"].item() == pytest.approx(4.5)


def test_regression_indices_keeps_only_the_sampled_positives_under_mmdet():
    from scrpn.models.heads.blocks import regression_indices
    positives, sampled = torch.tensor([1, 4, 7]), torch.tensor([4])
    assert regression_indices(False, positives, sampled).tolist() == [1, 4, 7]
    assert regression_indices(True, positives, sampled).tolist() == [4]
    assert regression_indices(True, positives, None).tolist() == [1, 4, 7]  # unsampled stage


def test_positive_ious_by_hand():
    from scrpn.models.heads.blocks import positive_ious
    from scrpn.sampling.assign_result import AssignResult
    boxes = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 5], [50.0, 50, 60, 60]])
    gts = torch.tensor([[0.0, 0, 10, 10]])
    assign = AssignResult(num_gts=1, gt_inds=torch.tensor([1, 1, 0]), max_overlaps=torch.zeros(3))
    assert positive_ious(assign, boxes, gts).tolist() == pytest.approx([1.0, 0.5])
    none = AssignResult(num_gts=1, gt_inds=torch.tensor([0, -1, 0]), max_overlaps=torch.zeros(3))
    assert positive_ious(none, boxes, gts).numel() == 0
