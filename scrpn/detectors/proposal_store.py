"""Precomputed proposals for Fast R-CNN, read from files written by ``dump_proposals``.

The files hold COCO results json (``scrpn evaluate --dump-proposals``, ``scrpn train
--dump-proposals``) with boxes in **original-image** pixels; the network works in the pixels of its
(resized, possibly flipped) input, so :func:`to_input_coords` applies the inverse of
:func:`scrpn.engine.evaluator.to_original_coords` (scale by ``scale_factor``, then mirror when the
sample was flipped, clip to ``img_shape``). Each image keeps its ``num_proposals`` best-scoring
boxes; boxes of zero width or height are dropped (they cannot be encoded as regression targets);
an image missing from the file has no proposals (training then still sees its gt boxes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from ..data.proposal_files import load_proposals

__all__ = ["ProposalStore", "to_input_coords"]


def to_input_coords(boxes: Tensor, target: Mapping[str, Any]) -> Tensor:
    """Map (K, 4) xyxy boxes from original-image pixels to the network input's pixels."""
    boxes = boxes.to(torch.float32) * float(target.get("scale_factor", 1.0))
    h, w = (float(v) for v in target["img_shape"])
    if target.get("flipped", False):
        boxes = torch.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], dim=1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0.0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0.0, h)
    return boxes


class ProposalStore:
    """image_id -> (N, 4) proposals in original pixels, best first, at most ``num_proposals``."""

    def __init__(self, path: str | Path, num_proposals: int) -> None:
        self.path = Path(path)
        self.num_proposals = num_proposals
        self._boxes: dict[int, Tensor] = {}
        for entry in load_proposals(self.path):
            boxes, scores = entry["boxes"], entry["scores"]
            valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            boxes, scores = boxes[valid], scores[valid]
            order = np.argsort(-scores, kind="stable")[:num_proposals]
            self._boxes[int(entry["image_id"])] = torch.from_numpy(np.ascontiguousarray(boxes[order]))

    def __len__(self) -> int:
        return len(self._boxes)

    def __contains__(self, image_id: int) -> bool:
        return int(image_id) in self._boxes

    def get(self, target: Mapping[str, Any], device: torch.device | str = "cpu") -> Tensor:
        """The proposals of ``target['image_id']`` in the input's pixels, (N, 4) on ``device``."""
        boxes = self._boxes.get(int(target["image_id"]), torch.zeros(0, 4))
        return to_input_coords(boxes, target).to(device)
