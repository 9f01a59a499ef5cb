"""Loss functions shared by every proposal head (RPN, the two-stage rows, SC-RPN).

The paper's losses (eqs. 4-7) are plain BCE for classification and the IoU mask, and the IoU loss
of UnitBox [47] for both regressions. Each function here returns a *sum* over the samples it is
given; the head divides by the normaliser the paper names (M_cls, N_reg, M_reg) so that the
normalisation rule lives in one place (``heads/stages.py``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def aligned_iou(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """IoU of row-aligned box pairs.

    pred, target: (N, 4) xyxy. Returns (N,). Degenerate boxes (zero or negative extent) have zero
    area; the union is clamped by ``eps`` so that two degenerate boxes give 0, never NaN.
    """
    lt = torch.max(pred[:, :2], target[:, :2])                      # (N, 2)
    rb = torch.min(pred[:, 2:], target[:, 2:])                      # (N, 2)
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    area_p = (pred[:, 2:] - pred[:, :2]).clamp(min=0).prod(dim=1)
    area_t = (target[:, 2:] - target[:, :2]).clamp(min=0).prod(dim=1)
    union = (area_p + area_t - inter).clamp(min=eps)
    return inter / union


def iou_loss(pred: Tensor, target: Tensor, mode: str = "linear", eps: float = 1e-6) -> Tensor:
    """Sum over pairs of the IoU loss.

    ``mode='linear'``: 1 - IoU (what mmdetection's Cascade RPN config uses, ``linear=True``);
    ``mode='log'``: -ln(IoU) as in UnitBox [47], with IoU clamped at ``eps``.
    The project's default is 'linear' (see docs/interpretations.md): the paper cites UnitBox but
    was built on mmdetection, whose two-stage proposal heads use the linear form.
    """
    if pred.numel() == 0:
        return pred.sum() * 0.0
    iou = aligned_iou(pred, target, eps)
    if mode == "linear":
        return (1.0 - iou).sum()
    if mode == "log":
        return -torch.log(iou.clamp(min=eps)).sum()
    raise ValueError(f"unknown IoU loss mode {mode!r}")


def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Sum of absolute differences (mmdetection's L1Loss before its avg_factor division)."""
    return (pred - target).abs().sum()


def smooth_l1_loss(pred: Tensor, target: Tensor, beta: float = 1.0 / 9.0) -> Tensor:
    """Sum of the smooth-L1 (Huber) loss with transition point ``beta`` (Faster R-CNN's 1/9)."""
    if pred.numel() == 0:
        return pred.sum() * 0.0
    return F.smooth_l1_loss(pred, target, beta=beta, reduction="sum")


def bce_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Sum of binary cross-entropy with logits; ``targets`` may be soft (the IoU mask's IoUs)."""
    if logits.numel() == 0:
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum")


def bce_on_probabilities(probs: Tensor, targets: Tensor, eps: float = 1e-6) -> Tensor:
    """Sum of BCE on probabilities already squashed (the IoU mask's double sigmoid)."""
    if probs.numel() == 0:
        return probs.sum() * 0.0
    p = probs.clamp(eps, 1.0 - eps)
    return -(targets * torch.log(p) + (1.0 - targets) * torch.log(1.0 - p)).sum()


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, weights: Tensor | None = None,
                       alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Sum of the (optionally weighted) sigmoid focal loss (Lin et al.; mmdetection's FocalLoss).

    ``BCE(x, t) * (alpha t + (1 - alpha)(1 - t)) * p_t'^gamma`` with ``p_t' = |t - sigmoid(x)|``;
    GA-RPN's anchor-location branch (alpha 0.25, gamma 2) with per-location weights.
    """
    if logits.numel() == 0:
        return logits.sum() * 0.0
    p = logits.sigmoid()
    modulator = (targets - p).abs().pow(gamma)
    balance = alpha * targets + (1.0 - alpha) * (1.0 - targets)
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * balance * modulator
    if weights is not None:
        loss = loss * weights
    return loss.sum()


def bounded_iou_loss(pred: Tensor, target: Tensor, beta: float = 0.2, eps: float = 1e-3) -> Tensor:
    """Sum over pairs and the 4 terms of the bounded IoU loss (Tychsen-Smith & Petersson, 2018).

    Per pair: for the centre offsets, 1 - max(0, (w_t - 2|dx|) / (w_t + 2|dx| + eps)) (same in y);
    for the sizes, 1 - min(w_t / (w_p + eps), w_p / (w_t + eps)) (same for h); each term goes
    through a smooth-L1 with transition ``beta`` (0.5 l^2 / beta below it, l - beta / 2 above),
    as mmdetection's BoundedIoULoss. The target is constant (no gradient). GA-RPN uses it, beta 0.2,
    for the anchor-shape branch. pred, target: (N, 4) xyxy.
    """
    if pred.numel() == 0:
        return pred.sum() * 0.0
    target = target.detach()
    pw, ph = pred[:, 2] - pred[:, 0], pred[:, 3] - pred[:, 1]
    tw, th = target[:, 2] - target[:, 0], target[:, 3] - target[:, 1]
    dx = ((target[:, 0] + target[:, 2]) - (pred[:, 0] + pred[:, 2])).abs() * 0.5
    dy = ((target[:, 1] + target[:, 3]) - (pred[:, 1] + pred[:, 3])).abs() * 0.5
    terms = torch.stack([
        1 - ((tw - 2 * dx) / (tw + 2 * dx + eps)).clamp(min=0),
        1 - ((th - 2 * dy) / (th + 2 * dy + eps)).clamp(min=0),
        1 - torch.min(tw / (pw + eps), pw / (tw + eps)),
        1 - torch.min(th / (ph + eps), ph / (th + eps)),
    ], dim=1)                                                          # (N, 4)
    loss = torch.where(terms < beta, 0.5 * terms * terms / beta, terms - 0.5 * beta)
    return loss.sum()
