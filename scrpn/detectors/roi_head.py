"""The R-CNN RoI head: RoIAlign on P2-P5, one or more box-head stages, per-class NMS.

One mechanism for the three detectors of Tables II and IX: a head is a list of stages, each with
its own box head, Max-IoU assigner (IoU threshold), target stds and loss weight.

* Faster / Fast R-CNN (mmdetection's ``StandardRoIHead`` + ``Shared2FCBBoxHead``) and Double-Head
  R-CNN are **one stage**; Cascade R-CNN is three (IoU 0.5 / 0.6 / 0.7, stds 0.1/0.1/0.2/0.2,
  0.05/0.05/0.1/0.1, 0.033/0.033/0.067/0.067, loss weights 1 / 0.5 / 0.25).
* **Training, per stage** (mmdetection): the gt boxes are added to the stage's RoIs, RoIs are
  assigned with Max-IoU at the stage's threshold (positive = negative = minimum threshold, no
  low-quality matches, crowd boxes left out), and 512 are sampled with at most 25 % positives by
  the project's :class:`~scrpn.sampling.sampler.RandomSampler`. Losses: cross-entropy over K + 1
  classes averaged over the sampled RoIs; L1 (or smooth L1) on the normalised deltas of the
  positives' class, divided by the number of sampled RoIs as mmdetection's ``BBoxHead.loss``
  (``avg_factor = num samples``). The next stage's RoIs are this stage's sampled RoIs regressed
  by its (detached) predictions, without the gt boxes that were added (``refine_bboxes``).
* **Test**: the stages run one after the other on the regressed boxes; the class score is the
  softmax of the mean of the stages' logits (mmdetection's Cascade R-CNN; one stage: the plain
  softmax), boxes come from the last stage. Then score > ``score_thr`` (0.05), per-class NMS at
  ``nms_thr`` (0.5) and the ``max_per_img`` (100) best, as mmdetection's ``multiclass_nms``.
* **RoI levels**: mmdetection's ``SingleRoIExtractor`` rule (torchvision's ``LevelMapper`` with
  canonical 224 at P4 is the same rule): level ``floor(log2(sqrt(wh) / finest_scale + 1e-6))``
  clamped to P2-P5, ``finest_scale`` 56; RoIAlign ``aligned=True``.
* Labels: 0 is the background, 1..K are the dataset's labels (torchvision's convention).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import batched_nms, roi_align

from .. import losses as L
from ..models.box_coder import DeltaXYWHCoder
from ..sampling.assign_result import AssignResult
from ..sampling.max_iou import MaxIoUAssigner
from ..sampling.sampler import RandomSampler

__all__ = ["RoIExtractor", "RoIHead", "RoIStage", "SampledRoIs", "map_roi_levels",
           "multiclass_nms", "rois_with_batch_index", "scale_boxes"]


# ----------------------------------------------------------------------------------------------
# RoI feature extraction
# ----------------------------------------------------------------------------------------------

def map_roi_levels(boxes: Tensor, num_levels: int, finest_scale: float = 56.0) -> Tensor:
    """(N, 4) boxes -> (N,) level index 0..num_levels-1 (0 = P2) by the box's scale sqrt(w h)."""
    scale = ((boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)).sqrt()
    levels = torch.floor(torch.log2(scale / finest_scale + 1e-6))
    return levels.clamp(0, num_levels - 1).long()


def scale_boxes(boxes: Tensor, factor: float) -> Tensor:
    """Scale (N, 4) boxes about their centres (Double-Head's enlarged regression RoIs)."""
    if factor == 1.0:
        return boxes
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (factor / 2)
    return torch.cat([centre - half, centre + half], dim=1)


def rois_with_batch_index(boxes: Sequence[Tensor]) -> Tensor:
    """Per-image (N_i, 4) boxes -> (sum N_i, 5) RoIs ``[image index, x1, y1, x2, y2]``."""
    if not boxes:
        return torch.zeros(0, 5)
    idx = [torch.full((b.shape[0], 1), float(i), dtype=b.dtype, device=b.device)
           for i, b in enumerate(boxes)]
    return torch.cat([torch.cat(idx), torch.cat(list(boxes))], dim=1)


class RoIExtractor(nn.Module):
    """RoIAlign of each RoI on its FPN level (no parameters)."""

    def __init__(self, strides: Sequence[int] = (4, 8, 16, 32), output_size: int = 7,
                 sampling_ratio: int = 2, finest_scale: float = 56.0) -> None:
        super().__init__()
        self.strides = tuple(strides)
        self.output_size = output_size
        self.sampling_ratio = sampling_ratio
        self.finest_scale = finest_scale

    def forward(self, feats: Sequence[Tensor], rois: Tensor, scale: float = 1.0) -> Tensor:
        """feats: [P2, P3, ...] (B, C, H_l, W_l); rois (N, 5) -> (N, C, S, S)."""
        feats = list(feats)[: len(self.strides)]
        s, c = self.output_size, feats[0].shape[1]
        out = feats[0].new_zeros(rois.shape[0], c, s, s)
        if rois.shape[0] == 0:
            return out
        rois = torch.cat([rois[:, :1], scale_boxes(rois[:, 1:], scale)], dim=1)
        levels = map_roi_levels(rois[:, 1:], len(feats), self.finest_scale)
        for lvl, (feat, stride) in enumerate(zip(feats, self.strides)):
            inds = torch.nonzero(levels == lvl).squeeze(1)
            if inds.numel() == 0:
                continue
            out[inds] = roi_align(feat, rois[inds].to(feat.dtype), (s, s), spatial_scale=1.0 / stride,
                                  sampling_ratio=self.sampling_ratio, aligned=True)
        return out


# ----------------------------------------------------------------------------------------------
# Training targets
# ----------------------------------------------------------------------------------------------

@dataclass
class SampledRoIs:
    """One image's sampled RoIs of one stage: positives first, then negatives."""
    boxes: Tensor        # (n, 4)
    labels: Tensor       # (n,) long, 0 = background
    gt_boxes: Tensor     # (n, 4) the assigned gt of positives (zeros for negatives)
    num_pos: int
    is_gt: Tensor        # (n,) bool, the RoI is an added gt box


def sample_rois(proposals: Tensor, gt_boxes: Tensor, gt_labels: Tensor, assigner: MaxIoUAssigner,
                sampler: RandomSampler, add_gt: bool, generator: Optional[torch.Generator]
                ) -> SampledRoIs:
    """Assign ``proposals`` (+ the gts) to ``gt_boxes`` and draw the stage's RoI samples."""
    proposals = proposals.detach()
    is_gt = torch.zeros(proposals.shape[0], dtype=torch.bool, device=proposals.device)
    if add_gt and gt_boxes.numel():
        proposals = torch.cat([gt_boxes.to(proposals.dtype), proposals])
        is_gt = torch.cat([torch.ones(gt_boxes.shape[0], dtype=torch.bool, device=is_gt.device), is_gt])
    assign: AssignResult = assigner.assign(proposals, gt_boxes)
    pos, neg = sampler.sample(assign, generator=generator)
    inds = torch.cat([pos, neg])
    gt_of = (assign.gt_inds[inds] - 1).clamp(min=0)
    labels = torch.zeros(inds.numel(), dtype=torch.long, device=proposals.device)
    gts = proposals.new_zeros(inds.numel(), 4)
    if pos.numel():
        labels[: pos.numel()] = gt_labels[gt_of[: pos.numel()]]
        gts[: pos.numel()] = gt_boxes[gt_of[: pos.numel()]].to(gts.dtype)
    return SampledRoIs(proposals[inds], labels, gts, int(pos.numel()), is_gt[inds])


def rcnn_assigner(iou_thr: float) -> MaxIoUAssigner:
    """mmdetection's R-CNN assigner: positive >= thr, negative < thr, no low-quality matches."""
    return MaxIoUAssigner(pos_iou_thr=iou_thr, neg_iou_thr=iou_thr, min_pos_iou=iou_thr,
                          match_low_quality=False)


def select_class_deltas(deltas: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """(N, R*4) deltas -> (N, 4) of each RoI's class (label 1..K; R = 1: the only column)."""
    n = deltas.shape[0]
    per_class = deltas.view(n, deltas.shape[1] // 4, 4)                   # (N, R, 4)
    if per_class.shape[1] == 1:
        return per_class[:, 0]
    cls = (labels - 1).clamp(min=0, max=num_classes - 1)
    return per_class[torch.arange(n, device=deltas.device), cls]


# ----------------------------------------------------------------------------------------------
# Stages and the head
# ----------------------------------------------------------------------------------------------

class RoIStage(nn.Module):
    """One box head with its assigner, target coder and loss settings."""

    def __init__(self, bbox_head: nn.Module, iou_thr: float, target_stds: Sequence[float],
                 loss_weight: float = 1.0, cls_weight: float = 1.0, reg_weight: float = 1.0,
                 reg_loss: str = "l1", smooth_l1_beta: float = 1.0) -> None:
        super().__init__()
        self.bbox_head = bbox_head
        self.num_classes = bbox_head.num_classes
        self.assigner = rcnn_assigner(iou_thr)
        self.coder = DeltaXYWHCoder(stds=tuple(target_stds))
        self.loss_weight = loss_weight
        self.cls_weight = cls_weight
        self.reg_weight = reg_weight
        self.reg_loss = reg_loss
        self.smooth_l1_beta = smooth_l1_beta

    def forward(self, extractor: RoIExtractor, feats: Sequence[Tensor], rois: Tensor
                ) -> tuple[Tensor, Tensor]:
        cls_feats = extractor(feats, rois)
        scale = float(getattr(self.bbox_head, "reg_roi_scale", 1.0))
        reg_feats = cls_feats if scale == 1.0 else extractor(feats, rois, scale)
        return self.bbox_head(cls_feats, reg_feats)

    def loss(self, cls_logits: Tensor, deltas: Tensor, samples: Sequence[SampledRoIs]
             ) -> tuple[Tensor, Tensor]:
        """(loss_cls, loss_reg) of the batch's samples, before the stage weight."""
        labels = torch.cat([s.labels for s in samples])
        n = max(labels.numel(), 1)
        loss_cls = F.cross_entropy(cls_logits, labels, reduction="sum") / n
        pos_rows = torch.cat([torch.arange(s.num_pos, device=labels.device) + off
                              for s, off in zip(samples, _offsets(samples))])
        rois = torch.cat([s.boxes for s in samples])[pos_rows]
        gts = torch.cat([s.gt_boxes for s in samples])[pos_rows]
        pred = select_class_deltas(deltas[pos_rows], labels[pos_rows], self.num_classes)
        target = self.coder.encode(rois, gts) if pos_rows.numel() else pred.detach() * 0
        if self.reg_loss == "smooth_l1":
            reg = L.smooth_l1_loss(pred, target, beta=self.smooth_l1_beta)
        else:
            reg = L.l1_loss(pred, target)
        return self.cls_weight * loss_cls, self.reg_weight * reg / n

    def regress(self, boxes: Tensor, cls_logits: Tensor, deltas: Tensor,
                img_shape: Sequence[int]) -> Tensor:
        """Boxes of the next stage: each RoI regressed by its best foreground class's deltas."""
        labels = cls_logits[:, 1:].argmax(dim=1) + 1
        d = select_class_deltas(deltas, labels, self.num_classes)
        return self.coder.decode(boxes, d, max_shape=img_shape)

    def decode_all(self, boxes: Tensor, deltas: Tensor, img_shape: Sequence[int]) -> Tensor:
        """(N, 4) RoIs and (N, R*4) deltas -> (N, K, 4) per-class boxes clipped to the image."""
        n, k = boxes.shape[0], self.num_classes
        d = deltas.view(n, deltas.shape[1] // 4, 4)                       # (N, R, 4)
        decoded = self.coder.decode(boxes[:, None, :].expand(n, d.shape[1], 4), d, max_shape=img_shape)
        return decoded.expand(n, k, 4) if d.shape[1] == 1 else decoded


def _offsets(samples: Sequence[SampledRoIs]) -> list[int]:
    out, total = [], 0
    for s in samples:
        out.append(total)
        total += s.boxes.shape[0]
    return out


def multiclass_nms(boxes: Tensor, scores: Tensor, score_thr: float, nms_thr: float,
                   max_per_img: int) -> tuple[Tensor, Tensor, Tensor]:
    """(N, K, 4) per-class boxes and (N, K) foreground scores -> (boxes, scores, labels 1..K).

    Candidates above ``score_thr`` (degenerate boxes dropped), NMS per class, the best
    ``max_per_img`` sorted by decreasing score.
    """
    n, k = scores.shape
    labels = torch.arange(1, k + 1, device=scores.device).expand(n, k)
    boxes, scores, labels = boxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
    wh = boxes[:, 2:] - boxes[:, :2]
    keep = (scores > score_thr) & (wh[:, 0] > 0) & (wh[:, 1] > 0)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = batched_nms(boxes, scores, labels, nms_thr)[:max_per_img]
    return boxes[keep], scores[keep], labels[keep]


class RoIHead(nn.Module):
    """A cascade of :class:`RoIStage` (one stage: Faster / Fast / Double-Head R-CNN)."""

    def __init__(self, stages: Sequence[RoIStage], extractor: RoIExtractor, sampler: RandomSampler,
                 add_gt_as_proposals: bool = True, score_thr: float = 0.05, nms_thr: float = 0.5,
                 max_per_img: int = 100) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.extractor = extractor
        self.sampler = sampler
        self.add_gt_as_proposals = add_gt_as_proposals
        self.score_thr = score_thr
        self.nms_thr = nms_thr
        self.max_per_img = max_per_img
        self.generator: Optional[torch.Generator] = None

    def loss(self, feats: Sequence[Tensor], proposals: Sequence[Tensor], targets: Sequence[dict]
             ) -> dict[str, Tensor]:
        """Losses of every stage; ``proposals`` are per image (N_i, 4) in input pixels."""
        gts, gt_labels = [], []
        for t in targets:
            keep = ~t["iscrowd"].bool()
            gts.append(t["boxes"][keep])
            gt_labels.append(t["labels"][keep].long())
        boxes = [p.detach() for p in proposals]
        losses: dict[str, Tensor] = {}
        for i, stage in enumerate(self.stages):
            samples = [sample_rois(b, g, lab, stage.assigner, self.sampler, self.add_gt_as_proposals,
                                   self.generator) for b, g, lab in zip(boxes, gts, gt_labels)]
            cls_logits, deltas = stage(self.extractor, feats,
                                       rois_with_batch_index([s.boxes for s in samples]))
            loss_cls, loss_reg = stage.loss(cls_logits, deltas, samples)
            key = "rcnn" if len(self.stages) == 1 else f"rcnn{i + 1}"
            losses[f"loss_{key}_cls"] = stage.loss_weight * loss_cls
            losses[f"loss_{key}_reg"] = stage.loss_weight * loss_reg
            if i + 1 < len(self.stages):
                boxes = self._refine(stage, samples, cls_logits.detach(), deltas.detach(), targets)
        return losses

    @staticmethod
    def _refine(stage: RoIStage, samples: Sequence[SampledRoIs], cls_logits: Tensor, deltas: Tensor,
                targets: Sequence[dict]) -> list[Tensor]:
        """The next stage's proposals: sampled RoIs regressed, the added gt boxes removed.

        Positives are regressed with their gt's class deltas (mmdetection's ``refine_bboxes``),
        other RoIs with their best foreground class's; class-agnostic heads have one set anyway.
        """
        out = []
        for s, off, t in zip(samples, _offsets(samples), targets):
            rows = slice(off, off + s.boxes.shape[0])
            labels = cls_logits[rows, 1:].argmax(dim=1) + 1
            labels[: s.num_pos] = s.labels[: s.num_pos]
            d = select_class_deltas(deltas[rows], labels, stage.num_classes)
            refined = stage.coder.decode(s.boxes, d, max_shape=tuple(t["img_shape"]))
            out.append(refined[~s.is_gt])
        return out

    @torch.no_grad()
    def predict(self, feats: Sequence[Tensor], proposals: Sequence[Tensor], targets: Sequence[dict]
                ) -> list[dict[str, Tensor]]:
        """Per image ``{'boxes' (M, 4), 'scores' (M,), 'labels' (M,)}`` in input pixels, M <= 100."""
        counts = [p.shape[0] for p in proposals]
        boxes = [p.detach() for p in proposals]
        logits_sum: Optional[Tensor] = None
        deltas = torch.zeros(0)
        for i, stage in enumerate(self.stages):
            cls_logits, deltas = stage(self.extractor, feats, rois_with_batch_index(boxes))
            logits_sum = cls_logits if logits_sum is None else logits_sum + cls_logits
            if i + 1 < len(self.stages):
                boxes = [stage.regress(b, c, d, tuple(t["img_shape"])) for b, c, d, t in
                         zip(boxes, cls_logits.split(counts), deltas.split(counts), targets)]
        probs = (logits_sum / len(self.stages)).softmax(dim=1)
        last = self.stages[-1]
        results = []
        for b, p, d, t in zip(boxes, probs.split(counts), deltas.split(counts), targets):
            per_class = last.decode_all(b, d, tuple(t["img_shape"]))
            db, ds, dl = multiclass_nms(per_class, p[:, 1:], self.score_thr, self.nms_thr,
                                        self.max_per_img)
            results.append({"boxes": db, "scores": ds, "labels": dl})
        return results
