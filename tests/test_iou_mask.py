import math

import torch

from scrpn.models.heads.iou_mask import IoUMaskBranch, iou_aware_score
from scrpn.models.postprocess import select_proposals


def test_double_sigmoid_range_is_half_to_sigmoid_one():
    branch = IoUMaskBranch(4, 1, feature="reg", double_sigmoid=True)
    with torch.no_grad():
        branch.conv.weight.fill_(100.0)
    hi = branch(torch.zeros(1, 4, 2, 2), torch.ones(1, 4, 2, 2))
    lo = branch(torch.zeros(1, 4, 2, 2), -torch.ones(1, 4, 2, 2))
    assert math.isclose(hi.max().item(), 1 / (1 + math.exp(-1)), rel_tol=1e-5)   # 0.731
    assert math.isclose(lo.min().item(), 0.5, rel_tol=1e-5)
    single = IoUMaskBranch(4, 1, feature="reg", double_sigmoid=False)
    with torch.no_grad():
        single.conv.weight.fill_(100.0)
    assert single(torch.zeros(1, 4, 1, 1), -torch.ones(1, 4, 1, 1)).item() < 1e-6


def test_feature_choice():
    branch = IoUMaskBranch(2, 1, feature="cls")
    cls, reg = torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3)
    assert torch.equal(branch(cls, reg), branch(cls, torch.zeros_like(reg)))
    fused = IoUMaskBranch(2, 1, feature="fused")
    fused.load_state_dict(branch.state_dict())
    assert torch.allclose(fused(cls, reg), branch(cls + reg, reg))


def test_fig4_example_nms_keeps_b_with_iou_aware_score_and_a_without():
    """The paper's Fig. 4: A (IoU 0.68, cls 0.86, mask 0.82), B (0.84, 0.82, 0.98), C (0.51, 0.72, 0.68).

    Three mutually overlapping proposals of one object: NMS keeps one. With the classification
    score it keeps A; with the IoU-aware score (A 0.84, B 0.90, C 0.70) it keeps B.
    """
    cls = torch.tensor([0.86, 0.82, 0.72])
    mask = torch.tensor([0.82, 0.98, 0.68])
    aware = iou_aware_score(cls, mask)
    assert torch.allclose(aware, torch.tensor([0.84, 0.90, 0.70]))
    boxes = torch.tensor([[0.0, 0.0, 100.0, 100.0], [2.0, 2.0, 100.0, 100.0], [0.0, 0.0, 96.0, 100.0]])
    kept_cls, _ = select_proposals([cls], [boxes], (200, 200), 10, 0.8, max_per_img=10)
    kept_aware, _ = select_proposals([aware], [boxes], (200, 200), 10, 0.8, max_per_img=10)
    assert kept_cls.shape[0] == 1 and torch.equal(kept_cls[0], boxes[0])      # A
    assert kept_aware.shape[0] == 1 and torch.equal(kept_aware[0], boxes[1])  # B
