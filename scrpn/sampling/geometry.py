"""Box and point geometry shared by the assigners (Max-IoU, PosR, SAT, the Cascade RPN region
assigner), the GA-RPN head and the SADS inspector: one place for the overlap rules.

Conventions: boxes are (x1, y1, x2, y2) in pixels; an inverted or zero-area box has area 0 and
IoU 0 with everything (never NaN); "inside" is strict unless asked otherwise, so a location on a
box's border is not inside it (Algorithm 2's "centre in g").
"""
import torch
from torch import Tensor

_EPS = 1e-6


def box_area(boxes: Tensor) -> Tensor:
    """(N, 4) -> (N,); inverted boxes count as empty."""
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0)
    return wh[:, 0] * wh[:, 1]


def pairwise_overlaps(boxes1: Tensor, boxes2: Tensor, mode: str = "iou") -> Tensor:
    """IoU, or IoF = intersection / area(boxes1) for mode 'iof'. (N, 4), (M, 4) -> (N, M)."""
    lt = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    rb = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    area1 = box_area(boxes1)[:, None]  # (N, 1)
    if mode == "iof":
        return inter / area1.clamp(min=_EPS)
    union = area1 + box_area(boxes2)[None, :] - inter
    return inter / union.clamp(min=_EPS)


def points_in_boxes(points: Tensor, boxes: Tensor, strict: bool = True) -> Tensor:
    """Whether each point lies inside each box. (N, 2), (M, 4) -> (N, M) bool."""
    x, y = points[:, 0:1], points[:, 1:2]  # (N, 1)
    x1, y1, x2, y2 = (boxes[:, k][None, :] for k in range(4))  # (1, M)
    if strict:
        return (x > x1) & (x < x2) & (y > y1) & (y < y2)
    return (x >= x1) & (x <= x2) & (y >= y1) & (y <= y2)


def box_centres(boxes: Tensor) -> Tensor:
    """(M, 4) -> (M, 2)."""
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def centre_regions(boxes: Tensor, ratio: float) -> Tensor:
    """The centre region of each box, scaled by ratio around its centre. (M, 4) -> (M, 4)."""
    centres = box_centres(boxes)
    half = (boxes[:, 2:] - boxes[:, :2]) * (ratio / 2)
    return torch.cat([centres - half, centres + half], dim=1)
