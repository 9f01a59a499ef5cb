"""SADS inspector: what Size-Aware Dynamic Sampling decides for one ground-truth box.

Pick an image and one of its ground-truth boxes g; the inspector shows
  * i_g, the target level of eq. (1), and j_g, the adjacent level of eq. (2)
    (``scrpn.sampling.levels``; level 0 is P2);
  * stage 1, Positive Region assigner (Algorithm 1): the centre region R_g of ratio sigma, the
    locations of level i_g inside it, and the positives PosR finally gives g (after its
    nearest-location fallback and its smallest-gt-wins conflict rule);
  * stage 2, Size-Aware Threshold assigner (Algorithm 2): per candidate level the k locations
    nearest to g's centre, the IoUs of their stage-1 boxes with g, the mean m_g (SAT's threshold),
    the standard deviation (shown only to compare with ATSS's mean + std, which SAT does not use),
    and the positives and negatives SAT gives g;
  * for comparison, the Max-IoU assigner on the same stage-1 boxes.

Design choices:
  * Nothing is re-implemented. The locations and priors come from the head's own generators
    (``AnchorGenerator`` and ``grid_points``, built with the arguments ``TwoStageProposalHead``
    uses), the assigners from the head's own builder (``build_assigner``), and every decision shown
    is read from the assigners' results (``AssignResult.gt_inds`` and SAT's ``info``). The
    inspector only slices those results for one gt, so what it shows is what training does.
  * All gts of the image are assigned together, as in training: a location may be lost to another
    gt (PosR: the smaller gt wins; SAT: the higher IoU wins), and the view shows that.
  * The boxes SAT (and Max-IoU) score are the stage-1 (init) proposals. Without a trained model the
    priors stand in for them (anchors, or the point prior squares: the box of the head's 3x3 prior
    point grid is exactly that square), which is what an untrained head predicts (its offsets start
    near zero). A trained model's stage-1 boxes can be passed as ``boxes``
    (see :func:`model_stage1_boxes`); ``SADSView.boxes_source`` says which was used.
  * Feature map sizes follow the backbone: the image is padded to ``size_divisor`` (as the collate
    function does) and level s has ``ceil(padded / s)`` cells per side (P6 is P5 max-pooled with
    stride 2, which is the same number).
  * Pure function + dataclass + plotting function; the ipywidgets front end only wires sliders to
    them, and imports ipywidgets lazily so that this module imports (and is tested) without it.
    ``plot_sads`` builds a bare ``matplotlib.figure.Figure`` (no pyplot state), so it works
    headless with any backend and leaks no open figures.

Edge cases: an image without gts, or a gt index out of range, raises ValueError. A degenerate gt
(zero width or height, area 0) does not crash: eq. (1) gives level 0 and eq. (2) no adjacent
level; PosR's region is a segment, so the nearest level-0 location becomes its positive (fallback);
every IoU with it is 0, so SAT's threshold is 0 and nothing passes ``IoU > 0``: no SAT positive;
Max-IoU gives it no low-quality match either. These are the assigners' own behaviours.
"""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from torch import Tensor

from ..build import build_assigner
from ..config import AssignerConfig, Config, HeadConfig
from ..data.collate import padded_size
from ..models.anchors import AnchorGenerator
from ..models.heads.stages import TwoStageProposalHead
from ..pyramid import FPN_STRIDES, level_base_scale
from ..models.points import grid_points
from ..sampling.assign_result import AssignResult
from .common import display_image, draw_box, proposal_network_of, run_head
from ..sampling.levels import adjacent_level, point_levels, target_level
from ..sampling.geometry import box_area, centre_regions, points_in_boxes
from ..sampling.max_iou import MaxIoUAssigner
from ..sampling.positive_region import PositiveRegionAssigner
from ..sampling.size_aware_threshold import SizeAwareThresholdAssigner

__all__ = ["LocationGrid", "SADSView", "SADSInspector", "featmap_sizes", "head_geometry",
           "inspect_sads", "level_name", "model_stage1_boxes", "plot_sads", "sads_assigners",
           "figure_to_png"]

ImageSize = int | tuple[int, int]
NUM_AXES = 5  # PosR, SAT, Max-IoU, IoU bars, and the colour bar of the SAT panel
_LEVEL_MARKERS = ("o", "s", "^", "D", "v")


# ---------------------------------------------------------------------------------------------
# Geometry and assigners: the head's own
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocationGrid:
    """The head's locations for one image size, flattened over levels (location-major)."""
    strides: tuple[int, ...]
    featmap_sizes: tuple[tuple[int, int], ...]
    num_per_level: tuple[int, ...]
    priors: Tensor    # (N, 4) anchors / point prior squares, xyxy
    centers: Tensor   # (N, 2) location centres (x, y)


def _hw(image_size: ImageSize) -> tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    h, w = image_size
    return int(h), int(w)


def featmap_sizes(image_size: ImageSize, strides: Sequence[int] = FPN_STRIDES,
                  size_divisor: int = 32) -> list[tuple[int, int]]:
    """(H, W) of each FPN level for an image padded to ``size_divisor``: ceil(padded / stride)."""
    ph, pw = padded_size([_hw(image_size)], size_divisor)
    return [(math.ceil(ph / s), math.ceil(pw / s)) for s in strides]


def head_geometry(head_cfg: HeadConfig, image_size: ImageSize, size_divisor: int = 32,
                  strides: Sequence[int] = FPN_STRIDES) -> LocationGrid:
    """Priors and location centres exactly as ``TwoStageProposalHead.forward`` builds them."""
    if head_cfg.type != "two_stage":
        raise ValueError(f"the SADS inspector needs the two-stage head, got type {head_cfg.type!r}")
    ratios = (1.0,) if head_cfg.representation == "point" else tuple(head_cfg.anchor_ratios)
    if len(ratios) != 1:
        raise ValueError("SADS works on one prior per location: the head config has "
                         f"{len(ratios)} anchor ratios, set 'model.head.anchor_ratios: [1.0]'")
    strides = tuple(int(s) for s in strides)
    sizes = featmap_sizes(image_size, strides, size_divisor)
    generator = AnchorGenerator(strides=strides, ratios=ratios, scales=(head_cfg.anchor_scale,))
    priors = generator.grid_anchors(sizes, "cpu")  # [(H*W, 4)]
    centers = grid_points(sizes, strides, "cpu")   # [(H*W, 2)], one prior per location
    return LocationGrid(strides=strides, featmap_sizes=tuple(sizes),
                        num_per_level=tuple(p.shape[0] for p in priors),
                        priors=torch.cat(priors), centers=torch.cat(centers))


def sads_assigners(head_cfg: HeadConfig, topk: int, center_ratio: float, num_levels_used: int,
                   max_iou_cfg: Optional[AssignerConfig] = None,
                   strides: Sequence[int] = FPN_STRIDES
                   ) -> tuple[PositiveRegionAssigner, SizeAwareThresholdAssigner, MaxIoUAssigner]:
    """PosR, SAT and Max-IoU built by the head's builder, with the level base of the head.

    The Max-IoU default is the stage-2 Max-IoU that SAT replaces in Table IV (pos 0.7, neg 0.7,
    low-quality min 0.3: ``HeadConfig().stage2.assigner``), unless the head's own stage 2 is
    Max-IoU, in which case that one is used.
    """
    strides = tuple(int(s) for s in strides)
    base = level_base_scale(head_cfg.anchor_scale, strides)
    posr_cfg = replace(head_cfg.stage1.assigner, type="positive_region", center_ratio=center_ratio)
    sat_cfg = replace(head_cfg.stage2.assigner, type="size_aware_threshold", topk=topk,
                      num_levels=num_levels_used)
    if max_iou_cfg is None:
        own = head_cfg.stage2.assigner
        max_iou_cfg = own if own.type == "max_iou" else HeadConfig().stage2.assigner
    if max_iou_cfg.type != "max_iou":
        raise ValueError(f"max_iou_cfg must have type 'max_iou', got {max_iou_cfg.type!r}")
    return (build_assigner(posr_cfg, base, strides), build_assigner(sat_cfg, base, strides),
            build_assigner(max_iou_cfg, base, strides))


def level_name(level: int, strides: Sequence[int] = FPN_STRIDES) -> str:
    """Level index -> FPN name (stride 4 is P2); -1 -> 'none'."""
    if level < 0:
        return "none"
    return f"P{int(round(math.log2(strides[level])))}"


# ---------------------------------------------------------------------------------------------
# The view of one gt
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SADSView:
    """Everything SADS (and Max-IoU) decided for gt ``gt_index``. Indices are into the N
    locations of ``LocationGrid`` (all levels concatenated); ``levels`` are SAT's candidate levels,
    best first, and index the first axis of the ``cand_*`` arrays."""
    image_size: tuple[int, int]
    gt_index: int
    gt_box: Tensor                 # (4,) xyxy
    gt_area: float
    strides: tuple[int, ...]
    num_per_level: tuple[int, ...]
    base_scale: float              # level rule base b = anchor_scale x finest stride
    i_g: int                       # eq. (1)
    j_g: int                       # eq. (2), -1: none
    topk: int
    center_ratio: float
    num_levels_used: int
    boxes_source: str              # "priors" (no model) or "model" (given stage-1 boxes)
    centers: Tensor                # (N, 2)
    boxes: Tensor                  # (N, 4) the stage-1 boxes SAT and Max-IoU scored
    # stage 1, PosR
    posr_region: Tensor            # (4,) centre region R_g, ratio sigma
    posr_in_region: Tensor         # (R,) level-i_g locations inside R_g (bounds inclusive)
    posr_fallback: bool            # R_g held no level-i_g location: the nearest one was used
    posr_positives: Tensor         # (P1,) locations PosR finally assigns to g
    # stage 2, SAT
    levels: tuple[int, ...]        # candidate levels, best first
    cand_indices: Tensor           # (levels, k) long, -1 where a level has fewer than k locations
    cand_centres: Tensor           # (levels, k, 2), 0 at padding
    cand_ious: Tensor              # (levels, k) IoU(stage-1 box, g), 0 at padding
    cand_inside: Tensor            # (levels, k) bool, location centre strictly inside g
    sat_mean: float                # mean of the candidate IoUs (recomputed here)
    sat_std: float                 # their std (unbiased, as ATSS); not used by SAT
    sat_threshold: float           # the threshold SAT itself reports (info['thresholds'])
    sat_passed: Tensor             # (levels, k) bool, g's rule: IoU > threshold and inside g
    sat_positives: Tensor          # (P2,) locations SAT finally assigns to g
    sat_negatives: Tensor          # (Q,) g's candidates SAT labels negative (0)
    sat_num_negatives: int         # negatives over the whole image (N_2 = T - P_2)
    # Max-IoU on the same boxes
    maxiou_positives: Tensor       # (P3,) locations Max-IoU assigns to g
    maxiou_pos_ious: Tensor        # (P3,) their IoUs with g
    maxiou_num_negatives: int
    maxiou_num_ignored: int
    maxiou_thresholds: tuple[float, float, float]  # (pos_iou_thr, neg_iou_thr, min_pos_iou)

    @property
    def cand_valid(self) -> Tensor:  # (levels, k) bool
        return self.cand_indices >= 0

    @property
    def atss_threshold(self) -> float:
        """ATSS's mean + std, for comparison only (SAT uses the mean alone)."""
        return self.sat_mean + self.sat_std

    def level_names(self) -> list[str]:
        return [level_name(lv, self.strides) for lv in self.levels]

    def summary(self) -> str:
        """One line: the gt, its levels (eqs. 1 and 2) and where the stage-1 boxes come from."""
        x1, y1, x2, y2 = (float(v) for v in self.gt_box)
        source = "priors (no model)" if self.boxes_source == "priors" else "model"
        return (f"gt #{self.gt_index}: {x2 - x1:.0f} x {y2 - y1:.0f} px, S_g = {self.gt_area:.0f}"
                f" -> i_g = {level_name(self.i_g, self.strides)} (eq. 1), "
                f"j_g = {level_name(self.j_g, self.strides)} (eq. 2), base b = {self.base_scale:g};"
                f" stage-1 boxes: {source}")


def _head_and_divisor(cfg: Config | HeadConfig, size_divisor: Optional[int]
                      ) -> tuple[HeadConfig, int]:
    if isinstance(cfg, Config):
        return cfg.model.head, size_divisor or cfg.data.size_divisor
    if isinstance(cfg, HeadConfig):
        return cfg, size_divisor or 32
    raise TypeError(f"cfg must be a Config or a HeadConfig, got {type(cfg).__name__}")


def _checked_gts(gt_boxes: Tensor | np.ndarray | Sequence, gt_index: int) -> Tensor:
    gts = torch.as_tensor(gt_boxes, dtype=torch.float32)
    if gts.numel() == 0:
        raise ValueError("the image has no ground-truth box (gt_boxes is empty): SADS assigns "
                         "samples per gt, so there is nothing to inspect; pick another image")
    if gts.dim() != 2 or gts.shape[1] != 4:
        raise ValueError(f"gt_boxes must be (M, 4) xyxy, got shape {tuple(gts.shape)}")
    if not 0 <= int(gt_index) < gts.shape[0]:
        raise ValueError(f"gt_index {gt_index} is out of range: the image has {gts.shape[0]} "
                         f"ground-truth box(es), valid indices 0..{gts.shape[0] - 1}")
    return gts


def _checked_boxes(boxes: Optional[Tensor], grid: LocationGrid) -> tuple[Tensor, str]:
    if boxes is None:
        return grid.priors, "priors"
    boxes = torch.as_tensor(boxes, dtype=torch.float32).detach().cpu()
    if boxes.dim() != 2 or boxes.shape != grid.priors.shape:
        raise ValueError(f"boxes must be the (N, 4) stage-1 boxes of the {grid.priors.shape[0]} "
                         f"locations of this image size, got shape {tuple(boxes.shape)}")
    return boxes, "model"


def inspect_sads(gt_boxes: Tensor | np.ndarray | Sequence, gt_index: int, image_size: ImageSize,
                 cfg: Config | HeadConfig, boxes: Optional[Tensor] = None, *,
                 topk: Optional[int] = None, center_ratio: Optional[float] = None,
                 num_levels_used: Optional[int] = None,
                 gt_boxes_ignore: Optional[Tensor] = None,
                 max_iou_cfg: Optional[AssignerConfig] = None,
                 size_divisor: Optional[int] = None) -> SADSView:
    """Run PosR (stage 1), SAT (stage 2) and Max-IoU on one image and return gt g's view.

    Args:
        gt_boxes: (M, 4) xyxy gts of the image (non-crowd); all are assigned together.
        gt_index: g, the gt to inspect (0 <= g < M).
        image_size: H (square) or (H, W) of the un-padded image.
        cfg: the run config (its head and ``data.size_divisor``) or a head config alone.
        boxes: (N, 4) stage-1 (init) boxes of a trained model (:func:`model_stage1_boxes`).
            **When None, the priors (anchors / point prior squares) are used as the stage-1
            boxes**, i.e. what an untrained head predicts.
        topk, center_ratio, num_levels_used: k, sigma and N; default: the config's
            (``stage2.assigner.topk``, ``stage1.assigner.center_ratio``,
            ``stage2.assigner.num_levels``).
        gt_boxes_ignore: (K, 4) crowd boxes, as in training.
        max_iou_cfg: the Max-IoU settings to compare with (default: see :func:`sads_assigners`).
        size_divisor: padding multiple (default: the config's, 32 for a head config).
    """
    head_cfg, divisor = _head_and_divisor(cfg, size_divisor)
    gts = _checked_gts(gt_boxes, gt_index)
    g = int(gt_index)
    grid = head_geometry(head_cfg, image_size, divisor)
    stage1, source = _checked_boxes(boxes, grid)
    s1, s2 = head_cfg.stage1.assigner, head_cfg.stage2.assigner
    k = int(topk if topk is not None else s2.topk)
    sigma = float(center_ratio if center_ratio is not None else s1.center_ratio)
    n_used = int(num_levels_used if num_levels_used is not None else s2.num_levels)
    posr, sat, maxiou = sads_assigners(head_cfg, k, sigma, n_used, max_iou_cfg, grid.strides)
    ignore = None if gt_boxes_ignore is None else torch.as_tensor(
        gt_boxes_ignore, dtype=torch.float32).reshape(-1, 4)
    counts = list(grid.num_per_level)
    r1 = posr.assign(grid.centers, counts, gts, ignore)
    r2 = sat.assign(stage1, grid.centers, counts, gts, ignore)
    r3 = maxiou.assign(stage1, gts, ignore)
    area = box_area(gts[g:g + 1])  # (1,)
    base = level_base_scale(head_cfg.anchor_scale, grid.strides)
    return SADSView(
        image_size=_hw(image_size), gt_index=g, gt_box=gts[g].clone(), gt_area=float(area[0]),
        strides=grid.strides, num_per_level=grid.num_per_level, base_scale=base,
        i_g=int(target_level(area, base, len(grid.strides))[0]),
        j_g=int(adjacent_level(area, base, len(grid.strides))[0]),
        topk=k, center_ratio=sigma, num_levels_used=n_used, boxes_source=source,
        centers=grid.centers, boxes=stage1,
        **_posr_fields(grid, gts, g, sigma, base, r1), **_sat_fields(grid, gts, g, r2),
        **_maxiou_fields(maxiou, g, r3))


def _posr_fields(grid: LocationGrid, gts: Tensor, g: int, sigma: float, base: float,
                 result: AssignResult) -> dict[str, Any]:
    """Algorithm 1 for gt g: its region R_g, the level-i_g locations inside, the final positives."""
    i_g = int(target_level(box_area(gts[g:g + 1]), base, len(grid.strides))[0])
    region = centre_regions(gts[g:g + 1], sigma)  # (1, 4)
    on_level = point_levels(list(grid.num_per_level)) == i_g  # (N,)
    inside = points_in_boxes(grid.centers, region, strict=False)[:, 0] & on_level  # (N,)
    return dict(posr_region=region[0], posr_in_region=inside.nonzero()[:, 0],
                posr_fallback=not bool(inside.any()),
                posr_positives=(result.gt_inds == g + 1).nonzero()[:, 0])


def _sat_fields(grid: LocationGrid, gts: Tensor, g: int, result: AssignResult) -> dict[str, Any]:
    """Algorithm 2 for gt g, read from the assigner's ``info`` (candidates, IoUs, threshold)."""
    info = result.info
    levels_row = info["levels"][g]  # (n_used,), -1 for an unused slot (no j_g)
    n_used = levels_row.numel()
    keep = levels_row >= 0
    cand = info["candidates"][g].reshape(n_used, -1)[keep]  # (levels, k)
    ious = info["candidate_ious"][g].reshape(n_used, -1)[keep]  # (levels, k)
    valid = cand >= 0
    safe = cand.clamp(min=0)
    centres = grid.centers[safe] * valid[..., None]  # (levels, k, 2)
    inside = points_in_boxes(grid.centers[safe.reshape(-1)], gts[g:g + 1])[:, 0]
    inside = inside.reshape(cand.shape) & valid  # (levels, k)
    values = ious[valid]
    threshold = float(info["thresholds"][g])
    gt_inds = result.gt_inds
    return dict(levels=tuple(int(v) for v in levels_row[keep]), cand_indices=cand,
                cand_centres=centres, cand_ious=ious, cand_inside=inside,
                sat_mean=float(values.mean()) if values.numel() else float("nan"),
                sat_std=float(values.std()) if values.numel() > 1 else 0.0,
                sat_threshold=threshold,
                sat_passed=valid & inside & (ious > threshold),
                sat_positives=(gt_inds == g + 1).nonzero()[:, 0],
                sat_negatives=cand[valid & (gt_inds[safe] == 0)],
                sat_num_negatives=int((gt_inds == 0).sum()))


def _maxiou_fields(assigner: MaxIoUAssigner, g: int, result: AssignResult) -> dict[str, Any]:
    pos = result.gt_inds == g + 1  # (N,)
    neg = assigner.neg_iou_thr
    neg_thr = float(neg[1]) if isinstance(neg, (tuple, list)) else float(neg)
    return dict(maxiou_positives=pos.nonzero()[:, 0], maxiou_pos_ious=result.max_overlaps[pos],
                maxiou_num_negatives=int((result.gt_inds == 0).sum()),
                maxiou_num_ignored=int((result.gt_inds < 0).sum()),
                maxiou_thresholds=(float(assigner.pos_iou_thr), neg_thr,
                                   float(assigner.min_pos_iou)))


def model_stage1_boxes(model: torch.nn.Module, image: Tensor, size_divisor: int = 32) -> Tensor:
    """A trained ``ProposalNetwork``'s stage-1 (init) boxes for one (3, H, W) image: (N, 4).

    The image is padded at the right / bottom as the collate function does, so the boxes line up
    with :func:`head_geometry` for the same size and divisor (:func:`scrpn.viz.common.run_head`).
    """
    net = proposal_network_of(model)   # a ProposalNetwork, or an R-CNN detector's
    if not isinstance(net.head, TwoStageProposalHead):
        raise ValueError(f"model must be a ProposalNetwork with a two-stage head, "
                         f"not {type(net.head).__name__}")
    return run_head(net, image, size_divisor).init_boxes[0].detach().cpu()


# ---------------------------------------------------------------------------------------------
# Plotting
# ---------------------------------------------------------------------------------------------

def _image_array(image: Optional[Tensor | np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """The image to draw under the panels (:func:`scrpn.viz.common.display_image`), or a grey
    canvas of ``size`` when there is none."""
    if image is None:
        return np.full((*size, 3), 0.85, dtype=np.float32)
    return display_image(image)


def _zoom_limits(view: SADSView, zoom: Optional[float]) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): the gt enlarged ``zoom`` times (at least 3 cells of i_g), in the image."""
    h, w = view.image_size
    if zoom is None:
        return 0.0, float(w), 0.0, float(h)
    x1, y1, x2, y2 = (float(v) for v in view.gt_box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(zoom * max(x2 - x1, y2 - y1) / 2, 3.0 * view.strides[view.i_g], 16.0)
    return (max(cx - half, 0.0), min(cx + half, float(w)),
            max(cy - half, 0.0), min(cy + half, float(h)))


def _draw_base(ax: Axes, img: np.ndarray, view: SADSView, limits: tuple[float, ...]) -> None:
    h, w = view.image_size
    ax.imshow(img, extent=(0, w, h, 0), cmap="gray" if img.ndim == 2 else None,
              interpolation="nearest")
    x0, x1, y0, y1 = limits
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)  # image rows grow downwards
    ax.tick_params(labelsize=7)
    draw_box(ax, view.gt_box, "lime", lw=2.0, label="ground truth g")


def _draw_posr(ax: Axes, view: SADSView) -> None:
    """Stage 1: level-i_g locations, R_g, locations inside it, PosR's final positives."""
    level_of = point_levels(list(view.num_per_level))
    on_level = view.centers[level_of == view.i_g]  # (H*W, 2)
    ax.scatter(on_level[:, 0], on_level[:, 1], s=6, c="white", edgecolors="k", linewidths=0.3,
               label=f"locations of i_g = {level_name(view.i_g, view.strides)}")
    draw_box(ax, view.posr_region, "yellow", lw=1.5, ls="--",
          label=f"R_g (sigma = {view.center_ratio:g})")
    final = set(view.posr_positives.tolist())
    lost = [i for i in view.posr_in_region.tolist() if i not in final]
    if lost:
        pts = view.centers[lost]
        ax.scatter(pts[:, 0], pts[:, 1], s=40, facecolors="none", edgecolors="orange",
                   linewidths=1.5, label="in R_g, lost to a smaller gt")
    pos = view.centers[view.posr_positives]
    ax.scatter(pos[:, 0], pos[:, 1], s=40, c="lime", edgecolors="k", linewidths=0.8,
               label="PosR positive")
    note = " (nearest-location fallback)" if view.posr_fallback else ""
    ax.set_title(f"Stage 1, PosR (Alg. 1): level {level_name(view.i_g, view.strides)}\n"
                 f"{len(view.posr_positives)} positive(s){note}; no negatives", fontsize=9)
    ax.legend(fontsize=6, loc="lower left", framealpha=0.8)


def _draw_sat(ax: Axes, view: SADSView) -> Any:
    """Stage 2: the candidates coloured by IoU; SAT positives ringed red, with their boxes."""
    mappable = None
    positives = set(view.sat_positives.tolist())
    for row, level in enumerate(view.levels):
        valid = view.cand_valid[row]
        idx = view.cand_indices[row][valid].tolist()
        pts = view.cand_centres[row][valid]
        ring = ["red" if i in positives else "white" for i in idx]
        mappable = ax.scatter(pts[:, 0], pts[:, 1], c=view.cand_ious[row][valid].numpy(),
                              cmap="viridis", vmin=0.0, vmax=1.0, s=46,
                              marker=_LEVEL_MARKERS[row % len(_LEVEL_MARKERS)], edgecolors=ring,
                              linewidths=[2.0 if c == "red" else 0.6 for c in ring],
                              label=f"candidates on {level_name(level, view.strides)}")
    for i in view.sat_positives.tolist():
        draw_box(ax, view.boxes[i], "red", lw=0.8, alpha=0.6)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="red", mew=2.0,
                          label="SAT positive (its stage-1 box in red)"))
    ax.legend(handles=handles, fontsize=6, loc="lower left", framealpha=0.8)
    ax.set_title(f"Stage 2, SAT (Alg. 2): k = {view.topk}, levels "
                 f"{', '.join(view.level_names())}\nthreshold m_g = mean = {view.sat_threshold:.3f}"
                 f" (std {view.sat_std:.3f}); {len(view.sat_positives)} positive(s)", fontsize=9)
    return mappable


def _draw_maxiou(ax: Axes, view: SADSView) -> None:
    pos_thr, neg_thr, min_pos = view.maxiou_thresholds
    idx = view.maxiou_positives.tolist()
    for i in idx:
        draw_box(ax, view.boxes[i], "orange", lw=0.8, alpha=0.7)
    pts = view.centers[idx] if idx else torch.zeros(0, 2)
    ax.scatter(pts[:, 0], pts[:, 1], s=50, c="orange", marker="X", edgecolors="k",
               linewidths=0.6, label="Max-IoU positive (its box in orange)")
    level_of = point_levels(list(view.num_per_level))
    names = sorted({level_name(int(level_of[i]), view.strides) for i in idx})
    ax.legend(fontsize=6, loc="lower left", framealpha=0.8)
    ax.set_title(f"Max-IoU for comparison (pos >= {pos_thr:g}, neg < {neg_thr:g}, "
                 f"low-quality >= {min_pos:g})\n{len(idx)} positive(s) on "
                 f"{', '.join(names) or 'no level'}", fontsize=9)


def _draw_iou_bars(ax: Axes, view: SADSView) -> None:
    """D_g per level, nearest first, against the SAT threshold (mean) and ATSS's mean + std."""
    x, ticks, labels, colours, heights = 0, [], [], [], []
    xs: list[int] = []
    for row, level in enumerate(view.levels):
        valid = view.cand_valid[row]
        n = int(valid.sum())
        for col in range(n):
            colours.append("red" if view.sat_passed[row, col] else
                           "steelblue" if view.cand_inside[row, col] else "lightgray")
            heights.append(float(view.cand_ious[row, col]))
            xs.append(x + col)
        ticks.append(x + (n - 1) / 2)
        labels.append(level_name(level, view.strides))
        x += n + 1  # a gap between levels
    ax.bar(xs, heights, color=colours, edgecolor="k", linewidth=0.3)
    ax.axhline(view.sat_threshold, color="k", lw=1.2,
               label=f"m_g = mean = {view.sat_threshold:.3f}")
    ax.axhline(view.atss_threshold, color="k", lw=1.0, ls="--",
               label=f"mean + std = {view.atss_threshold:.3f} (ATSS, unused)")
    ax.set_xticks(ticks, labels)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("IoU(stage-1 box, g)", fontsize=8)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color="red", label="IoU > m_g and centre in g"),
                Patch(color="steelblue", label="centre in g, IoU <= m_g"),
                Patch(color="lightgray", label="centre outside g")]
    ax.legend(handles=handles, fontsize=6, loc="upper right", framealpha=0.8)
    ax.set_title("Candidate IoUs D_g per level (nearest first)", fontsize=9)


def plot_sads(image: Optional[Tensor | np.ndarray], view: SADSView, *, zoom: Optional[float] = 3.0,
              title: Optional[str] = None, figsize: tuple[float, float] = (20.0, 5.2)) -> Figure:
    """The SADS view as a figure with ``NUM_AXES`` axes (no pyplot: safe headless).

    Panels: PosR (stage 1), SAT candidates coloured by IoU (with a colour bar), Max-IoU positives,
    and a bar chart of the candidate IoUs per level against the mean threshold.
    ``image``: (3, H, W) in [0, 1], an (H, W[, 3]) array, or None for a blank canvas.
    ``zoom``: show the gt enlarged this many times (None: the whole image).
    """
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1.0, 1.0, 1.0, 1.2]})
    img = _image_array(image, view.image_size)
    limits = _zoom_limits(view, zoom)
    for ax in axes[:3]:
        _draw_base(ax, img, view, limits)
    _draw_posr(axes[0], view)
    mappable = _draw_sat(axes[1], view)
    fig.colorbar(mappable, ax=axes[1], shrink=0.8).set_label("IoU with g", fontsize=8)
    _draw_maxiou(axes[2], view)
    _draw_iou_bars(axes[3], view)
    fig.suptitle(title or view.summary(), fontsize=10)
    return fig


def figure_to_png(fig: Figure, dpi: int = 90) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Interactive front end
# ---------------------------------------------------------------------------------------------

def _stream_output(text: str, name: str = "stdout") -> dict[str, str]:
    return {"output_type": "stream", "name": name, "text": text}


class SADSInspector:
    """ipywidgets front end: image / gt pickers and k, sigma, N sliders over ``plot_sads``.

    ``dataset`` yields ``(image (3, H, W), target)`` with ``target['boxes']`` (and optionally
    ``'iscrowd'``), e.g. ``build_val_dataset(cfg)``. With ``model`` (a ``ProposalNetwork``), SAT
    scores its stage-1 boxes (computed once per image); otherwise the priors.
    """

    def __init__(self, dataset: Any, cfg: Config, model: Optional[torch.nn.Module] = None, *,
                 image_index: int = 0, gt_index: int = 0, zoom: Optional[float] = 3.0) -> None:
        import ipywidgets as widgets  # optional dependency: only the interactive tool needs it

        self.dataset, self.cfg, self.model, self.zoom = dataset, cfg, model, zoom
        self._boxes_cache: dict[int, Tensor] = {}
        stage1, stage2 = cfg.model.head.stage1.assigner, cfg.model.head.stage2.assigner
        style = {"description_width": "initial"}
        self.image = widgets.IntSlider(value=image_index, min=0, max=max(len(dataset) - 1, 0),
                                       description="image", style=style)
        self.gt = widgets.Dropdown(description="gt", style=style)
        self.topk = widgets.IntSlider(value=stage2.topk, min=1, max=27, description="k (topk)",
                                      style=style)
        self.sigma = widgets.FloatSlider(value=stage1.center_ratio, min=0.05, max=1.0, step=0.05,
                                         description="sigma (centre ratio)", style=style)
        self.levels = widgets.IntSlider(value=stage2.num_levels, min=1, max=5,
                                        description="N (levels)", style=style)
        self.output = widgets.Output()
        self._quiet = False  # True while the gt list is rebuilt: one render per user action
        self._update_gt_options()
        if gt_index:
            if not 0 <= gt_index < len(self.gt.options):
                raise ValueError(f"image {image_index} has {len(self.gt.options)} gt boxes, "
                                 f"no gt_index {gt_index}")
            self.gt.value = gt_index  # no observer yet: the one render is the one below
        self.image.observe(self._on_image, names="value")
        for w in (self.gt, self.topk, self.sigma, self.levels):
            w.observe(self._on_change, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.image, self.gt]),
                                    widgets.HBox([self.topk, self.sigma, self.levels]),
                                    self.output])
        self.render()

    def _gts(self, index: int) -> tuple[Tensor, Tensor, Tensor]:
        image, target = self.dataset[index]
        boxes = target["boxes"]
        crowd = target.get("iscrowd", torch.zeros(len(boxes), dtype=torch.bool)).bool()
        return image, boxes[~crowd], boxes[crowd]

    def _update_gt_options(self) -> None:
        _, gts, _ = self._gts(self.image.value)
        wh = gts[:, 2:] - gts[:, :2]
        options = [(f"{i}: {float(w):.0f} x {float(h):.0f} px", i) for i, (w, h) in enumerate(wh)]
        self.gt.options = options
        self.gt.value = 0 if options else None

    def _on_image(self, _change: Any) -> None:
        self._quiet = True
        try:
            self._update_gt_options()
        finally:
            self._quiet = False
        self.render()

    def _on_change(self, _change: Any) -> None:
        if not self._quiet:
            self.render()

    def _stage1_boxes(self, index: int, image: Tensor) -> Optional[Tensor]:
        if self.model is None:
            return None
        if index not in self._boxes_cache:
            self._boxes_cache[index] = model_stage1_boxes(self.model, image,
                                                          self.cfg.data.size_divisor)
        return self._boxes_cache[index]

    def figure(self) -> Optional[Figure]:
        """The current view as a figure; None when the image has no gt."""
        index = self.image.value
        image, gts, crowd = self._gts(index)
        if gts.shape[0] == 0 or self.gt.value is None:
            return None
        view = inspect_sads(gts, int(self.gt.value), tuple(image.shape[-2:]), self.cfg,
                            self._stage1_boxes(index, image), topk=self.topk.value,
                            center_ratio=self.sigma.value, num_levels_used=self.levels.value,
                            gt_boxes_ignore=crowd)
        return plot_sads(image, view, zoom=self.zoom)

    def render(self) -> None:
        """Redraw into the Output widget by setting its ``outputs`` (one state update).

        Not the ``with output:`` capture: that relies on the front end (or nbclient, in a
        papermill run) routing messages by ``msg_id``, which made headless runs hang at times.
        """
        try:
            fig = self.figure()
        except ValueError as exc:  # the documented input errors of inspect_sads
            self.output.outputs = (_stream_output(f"cannot inspect: {exc}\n", "stderr"),)
            return
        if fig is None:
            text = f"image {self.image.value} has no ground-truth box: pick another image\n"
            self.output.outputs = (_stream_output(text),)
            return
        png = base64.b64encode(figure_to_png(fig)).decode("ascii")
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": png, "text/plain": "<SADS view>"}},)

    TEXT = ("SADS inspector (sliders for image, gt, k, sigma, N): run this cell in JupyterLab "
            "with ipywidgets to use it; a saved notebook keeps no live widget")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The widget's view, with a text that says what it is and how to get it (instead of
        ``VBox(children=...)``): a saved notebook shows only that text."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.TEXT
        return bundle
