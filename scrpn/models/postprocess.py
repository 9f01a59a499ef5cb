"""Test-time selection of proposals: per-level top-k, NMS inside each level, optional NMS across levels.

RPN (mmdetection's ``rpn_r50_fpn``): keep ``nms_pre`` boxes per level by score, run NMS per level
(``batched_nms`` with the level as the group id), then keep the ``max_per_img`` best overall.
SC-RPN (Section III, step 5): the same per-level step with NMS 0.8, then "an additional NMS is
applied after the five SC-RPN heads". Its threshold is not printed; we use
``cross_level_nms_thr`` (default 0.8, the paper's only NMS threshold) and say so in docs/interpretations.md.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import batched_nms, nms


def clip_boxes(boxes: Tensor, img_shape: tuple[int, int]) -> Tensor:
    """Clip (N, 4) xyxy boxes to an image of (height, width)."""
    h, w = img_shape
    x = boxes[:, 0::2].clamp(0, w)
    y = boxes[:, 1::2].clamp(0, h)
    return torch.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=1)


def topk_per_level(scores: list[Tensor], boxes: list[Tensor], k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Keep the k best boxes of each level. Returns (boxes (M, 4), scores (M,), level ids (M,))."""
    out_b, out_s, out_l = [], [], []
    for lvl, (s, b) in enumerate(zip(scores, boxes)):
        if s.numel() > k:
            s, idx = s.topk(k)
            b = b[idx]
        out_b.append(b)
        out_s.append(s)
        out_l.append(torch.full_like(s, lvl, dtype=torch.long))
    return torch.cat(out_b), torch.cat(out_s), torch.cat(out_l)


def select_proposals(scores: list[Tensor], boxes: list[Tensor], img_shape: tuple[int, int],
                     nms_pre: int, nms_thr: float, max_per_img: int, min_bbox_size: float = 0.0,
                     cross_level_nms: bool = False, cross_level_nms_thr: float = 0.8
                     ) -> tuple[Tensor, Tensor]:
    """One image's proposals from per-level scores (N_l,) and boxes (N_l, 4).

    Returns (boxes (K, 4), scores (K,)) sorted by decreasing score, K <= max_per_img.
    """
    b, s, lvl = topk_per_level(scores, boxes, nms_pre)
    b = clip_boxes(b, img_shape)
    wh = b[:, 2:] - b[:, :2]
    keep = (wh[:, 0] > min_bbox_size) & (wh[:, 1] > min_bbox_size)
    b, s, lvl = b[keep], s[keep], lvl[keep]
    if b.numel() == 0:
        return b.reshape(0, 4), s
    keep = batched_nms(b, s, lvl, nms_thr)                 # sorted by decreasing score
    b, s = b[keep], s[keep]
    if cross_level_nms:
        keep = nms_first_k(b, s, cross_level_nms_thr, max_per_img)
        b, s = b[keep], s[keep]
    return b[:max_per_img], s[:max_per_img]


def nms_first_k(boxes: Tensor, scores: Tensor, iou_thr: float, k: int) -> Tensor:
    """Indices of the first ``k`` boxes greedy NMS keeps, in decreasing score order.

    Greedy NMS decides each box from the boxes ranked above it only, so the boxes it keeps among
    the best ``m`` are the same whether or not the rest are present. We first run NMS on the best
    ``2k`` (NMS costs O(n^2) on CPU) and fall back to all boxes only when that keeps fewer than
    ``k``. The result equals ``nms(boxes, scores, iou_thr)[:k]`` (up to the order of tied scores).
    """
    order = scores.argsort(descending=True)
    if order.numel() > 2 * k:
        head = order[: 2 * k]
        keep = nms(boxes[head], scores[head], iou_thr)
        if keep.numel() >= k:
            return head[keep[:k]]
    return nms(boxes, scores, iou_thr)[:k]
