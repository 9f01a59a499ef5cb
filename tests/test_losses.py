import math

import torch

from scrpn import losses as L


def test_aligned_iou_hand_worked():
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[5.0, 0.0, 15.0, 10.0], [0.0, 0.0, 10.0, 10.0], [3.0, 3.0, 4.0, 4.0]])
    iou = L.aligned_iou(a, b)
    assert torch.allclose(iou, torch.tensor([50.0 / 150.0, 1.0, 0.0]))


def test_aligned_iou_degenerate_is_zero_not_nan():
    a = torch.tensor([[1.0, 1.0, 1.0, 1.0], [5.0, 5.0, 4.0, 4.0]])
    b = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 10.0, 10.0]])
    iou = L.aligned_iou(a, b)
    assert torch.equal(iou, torch.zeros(2))


def test_iou_loss_values_and_gradient():
    # pred lies inside gt: union = gt area = 200, IoU = area(pred) / 200 = 60 / 200 = 0.3.
    pred = torch.tensor([[2.0, 2.0, 8.0, 12.0]], requires_grad=True)
    gt = torch.tensor([[0.0, 0.0, 10.0, 20.0]])
    loss = L.iou_loss(pred, gt, mode="linear")
    assert math.isclose(loss.item(), 0.7, rel_tol=1e-6)
    loss.backward()
    # d(1 - IoU)/dx1 = (y2 - y1)/200 = 0.05, d/dy1 = (x2 - x1)/200 = 0.03, opposite for x2, y2.
    assert torch.allclose(pred.grad, torch.tensor([[0.05, 0.03, -0.05, -0.03]]), atol=1e-6)
    log = L.iou_loss(pred.detach(), gt, mode="log")
    assert math.isclose(log.item(), -math.log(0.3), rel_tol=1e-6)


def test_losses_on_empty_inputs_are_zero_and_differentiable():
    empty = torch.zeros(0, 4, requires_grad=True)
    for value in (L.iou_loss(empty, empty), L.smooth_l1_loss(empty, empty), L.l1_loss(empty, empty),
                  L.bce_loss(torch.zeros(0, requires_grad=True), torch.zeros(0))):
        assert value.item() == 0.0
        value.backward()


def test_bce_on_probabilities_matches_torch():
    p = torch.tensor([0.6, 0.7, 0.55])
    t = torch.tensor([0.9, 0.2, 0.5])
    ref = torch.nn.functional.binary_cross_entropy(p, t, reduction="sum")
    assert torch.allclose(L.bce_on_probabilities(p, t), ref)
