"""Test-time selection of proposals: per-level top-k, NMS inside each level, optional NMS across levels.

RPN (mmdetection's ``rpn_r50_fpn``): keep ``nms_pre`` boxes per level by score, run NMS per level
(``batched_nms`` with the level as the group id), then keep the ``max_per_img`` best overall.
SC-RPN (Section III, step 5): the same per-level step with NMS 0.8, then "an additional NMS is
applied after the five SC-RPN heads". Its threshold is not printed; we use
``cross_level_nms_thr`` (default 0.8, the paper's only NMS threshold) and say so in docs/interpretations.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor
from torchvision.ops import batched_nms, nms


def clip_boxes(boxes: Tensor, img_shape: tuple[int, int]) -> Tensor:
    """Clip (N, 4) xyxy boxes to an image of (height, width)."""
    h, w = img_shape
    x = boxes[:, 0::2].clamp(0, w)
    y = boxes[:, 1::2].clamp(0, h)
    return torch.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=1)


def topk_indices_per_level(scores: Tensor, num_per_level: Sequence[int], k: int) -> tuple[Tensor, Tensor]:
    """Flat indices of the k best of each level (all of a level with at most k), level by level,
    and their level ids. ``scores`` (N,) flat over the levels; a score < 0 marks a location the
    head filtered out (GA-RPN's location filter), which is never kept."""
    out_i, out_l, start = [], [], 0
    for lvl, n in enumerate(num_per_level):
        level = scores[start:start + n]
        idx = torch.nonzero(level >= 0).squeeze(1)
        if idx.numel() > k:
            idx = idx[level[idx].topk(k).indices]
        out_i.append(idx + start)
        out_l.append(torch.full_like(idx, lvl))
        start += n
    return torch.cat(out_i), torch.cat(out_l)


def topk_per_level(scores: list[Tensor], boxes: list[Tensor], k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Keep the k best boxes of each level. Returns (boxes (M, 4), scores (M,), level ids (M,))."""
    idx, lvl = topk_indices_per_level(torch.cat(scores), [len(s_) for s_ in scores], k)
    return torch.cat(boxes)[idx], torch.cat(scores)[idx], lvl


def pre_nms_candidates(scores: Tensor, boxes: Tensor, num_per_level: Sequence[int],
                       img_shape: tuple[int, int], nms_pre: int, min_bbox_size: float = 0.0
                       ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """What the selection hands to its NMS: per level the ``nms_pre`` best (scores < 0 dropped),
    boxes clipped to ``img_shape``, boxes no larger than ``min_bbox_size`` dropped.
    Returns (flat indices, clipped boxes, scores, level ids), level by level."""
    idx, lvl = topk_indices_per_level(scores, num_per_level, nms_pre)
    b, s = clip_boxes(boxes[idx], img_shape), scores[idx]
    wh = b[:, 2:] - b[:, :2]
    keep = (wh[:, 0] > min_bbox_size) & (wh[:, 1] > min_bbox_size)
    return idx[keep], b[keep], s[keep], lvl[keep]


def select_proposal_indices(scores: Tensor, boxes: Tensor, num_per_level: Sequence[int],
                            img_shape: tuple[int, int], nms_pre: int, nms_thr: float,
                            max_per_img: int, min_bbox_size: float = 0.0,
                            cross_level_nms: bool = False, cross_level_nms_thr: float = 0.8
                            ) -> tuple[Tensor, Tensor, Tensor]:
    """The model's own test-time selection for one image, as flat indices.

    ``scores`` (N,) and ``boxes`` (N, 4) flat over the levels (``num_per_level``). Per level the
    ``nms_pre`` best (scores < 0 dropped), boxes clipped to ``img_shape``, boxes no wider or taller
    than ``min_bbox_size`` dropped, NMS per level, optionally NMS across levels, the
    ``max_per_img`` best. Returns (indices (K,), clipped boxes (K, 4), scores (K,)) by decreasing
    score. :meth:`ProposalNetwork.predict` and every figure that shows proposals use it.
    """
    idx, b, s, lvl = pre_nms_candidates(scores, boxes, num_per_level, img_shape, nms_pre, min_bbox_size)
    if b.numel() == 0:
        return idx, b.reshape(0, 4), s
    keep = batched_nms(b, s, lvl, nms_thr)                 # sorted by decreasing score
    idx, b, s = idx[keep], b[keep], s[keep]
    if cross_level_nms:
        keep = nms_first_k(b, s, cross_level_nms_thr, max_per_img)
        idx, b, s = idx[keep], b[keep], s[keep]
    return idx[:max_per_img], b[:max_per_img], s[:max_per_img]


@dataclass(frozen=True)
class Selection:
    """A network's test-time selection settings (``model.test``, :func:`scrpn.build.build_selection`)."""
    nms_pre: int = 2000
    nms_thr: float = 0.7
    max_per_img: int = 1000
    min_bbox_size: float = 0.0
    cross_level_nms: bool = False
    cross_level_nms_thr: float = 0.8

    def indices(self, scores: Tensor, boxes: Tensor, num_per_level: Sequence[int],
                img_shape: tuple[int, int], max_per_img: Optional[int] = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        """:func:`select_proposal_indices` with these settings (``max_per_img`` overrides)."""
        keep = self.max_per_img if max_per_img is None else int(max_per_img)
        return select_proposal_indices(scores, boxes, num_per_level, img_shape, self.nms_pre,
                                       self.nms_thr, keep, self.min_bbox_size,
                                       self.cross_level_nms, self.cross_level_nms_thr)


def select_proposals(scores: list[Tensor], boxes: list[Tensor], img_shape: tuple[int, int],
                     nms_pre: int, nms_thr: float, max_per_img: int, min_bbox_size: float = 0.0,
                     cross_level_nms: bool = False, cross_level_nms_thr: float = 0.8
                     ) -> tuple[Tensor, Tensor]:
    """One image's proposals from per-level scores (N_l,) and boxes (N_l, 4).

    Returns (boxes (K, 4), scores (K,)) sorted by decreasing score, K <= max_per_img
    (:func:`select_proposal_indices` on the concatenated levels).
    """
    _, b, s = select_proposal_indices(torch.cat(scores), torch.cat(boxes), [len(x) for x in scores],
                                      img_shape, nms_pre, nms_thr, max_per_img, min_bbox_size,
                                      cross_level_nms, cross_level_nms_thr)
    return b, s


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
