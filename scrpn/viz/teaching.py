"""Teaching views of the paper's three "weak correlations" (Introduction, Section III, Figs. 1-5).

Each view is a pure function that returns numbers (a small dataclass) plus a function that draws
them into a bare :class:`matplotlib.figure.Figure` (no pyplot state: headless, no leaked figures):

1. **Score versus localisation** (Section III-A, Fig. 4). :func:`score_vs_localisation` runs a
   model's head on one image, takes the candidates the post-processing would feed to NMS (per level
   the ``nms_pre`` best by the model's own test score, clipped to the image, degenerate boxes
   dropped, exactly as :func:`scrpn.models.postprocess.select_proposals` does before its NMS) and
   gives each one its classification score, IoU mask, IoU-aware score (their mean) and its true
   IoU with its best ground truth, with the Pearson and Spearman correlation of each score with
   that IoU. :func:`nms_with_and_without_mask` then runs NMS twice on the candidates around each
   ground truth, ranked by the classification score and by the IoU-aware score, and reports which
   box each ranking keeps: when the IoU-aware ranking keeps a better-localised box, the IoU mask
   has "repaired" NMS.
2. **Sampling inconsistency between the stages** (Section III-B, Algorithms 1-2).
   :func:`positives_per_stage` runs a config's stage-1 and stage-2 assigners through the head's
   own assignment code (``TwoStageProposalHead.assign``, what ``loss`` calls), on the stage-1
   boxes of a model (or, without a model, on the priors an untrained head predicts), and returns
   the positives of each stage: where they are, on which FPN level, for which ground truth, whether
   their location lies inside that ground truth and whether their level is one of its size-aware
   levels (eqs. (1)-(2)). Run it with a Max-IoU config and a SADS config to compare.
3. **Anchors versus points on slender objects** (Section III-C). :func:`anchors_vs_points_on_slender`
   finds the objects of aspect ratio >= 3 and the best IoU the final proposals of each model reach
   on each of them.

Everything works on any image and any proposal network of the project (two-stage or one-stage
heads; GA-RPN for views 1 and 3). Levels are numbered from 0 (P2) as in :mod:`scrpn.sampling.levels`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchvision.ops import box_iou, nms

from ..build import build_head
from ..config import Config
from ..evaluation.correlation import correlation
from .common import (display_image, draw_box, one_thread, padded_image, proposal_network_of,
                     save_figure)
from .common import run_head as head_outputs   # notebook 11's name for it
from .knobs import ParameterError, check_knobs
from .style import MAX_WIDTH_IN, SMALL, TEXT, legible
from ..models.heads.base import ProposalHead
from ..models.heads.iou_mask import iou_aware_score
from ..models.postprocess import pre_nms_candidates
from ..sampling.levels import candidate_levels, point_levels

__all__ = [
    "NmsOutcome", "PositivesPerStage", "ScoreLocalisation", "SlenderMatch", "StagePositives",
    "anchors_vs_points_on_slender", "best_gt_iou", "correlation", "head_outputs",
    "nms_with_and_without_mask", "pick_teaching_image", "plot_anchors_vs_points",
    "plot_positives_per_stage", "plot_score_vs_localisation", "positives_per_stage",
    "positives_table", "save_teaching_figure", "score_vs_localisation", "slender_objects", "teaching_image",
]

LEVEL_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
MODEL_COLORS = ("tab:orange", "tab:cyan", "tab:pink", "tab:olive")


# ============================================================================ shared helpers
def _as_tensor_boxes(boxes: Any) -> Tensor:
    return torch.as_tensor(np.asarray(boxes, dtype=np.float32)).reshape(-1, 4)


def best_gt_iou(boxes: Any, gt_boxes: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each box's IoU with its best ground truth and that gt's index (-1 and IoU 0 without gts)."""
    b, g = _as_tensor_boxes(boxes), _as_tensor_boxes(gt_boxes)
    if b.shape[0] == 0 or g.shape[0] == 0:
        return np.zeros(b.shape[0], np.float64), np.full(b.shape[0], -1, np.int64)
    best, idx = box_iou(b, g).max(dim=1)
    return best.double().numpy(), idx.numpy().astype(np.int64)


def _show_image(ax: Axes, image: Any, gt_boxes: Any, title: str) -> None:
    img = display_image(image)
    ax.imshow(img, interpolation="nearest")
    for box in np.asarray(gt_boxes).reshape(-1, 4):
        draw_box(ax, box, "white", lw=1.2)
    ax.set_xlim(0, img.shape[1])
    ax.set_ylim(img.shape[0], 0)
    ax.set_title(title, fontsize=TEXT)
    ax.set_xticks([])
    ax.set_yticks([])


def save_teaching_figure(fig: Figure, name: str, results_dir: str | Path, dpi: int = 150
                         ) -> list[Path]:
    """Write ``<results_dir>/figures/teaching_<name>.png`` and ``.pdf`` (folders created)."""
    if not name or Path(name).name != name:
        raise ValueError(f"figure name must be a plain file stem, got {name!r}")
    return save_figure(fig, f"teaching_{name}", Path(results_dir) / "figures", dpi)


def _gt_split(target: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
    """(gts, ignore): the non-crowd and crowd boxes, as the head's ``loss`` splits them."""
    boxes = _as_tensor_boxes(target["boxes"])
    crowd = target.get("iscrowd")
    crowd = (torch.zeros(boxes.shape[0], dtype=torch.bool) if crowd is None
             else torch.as_tensor(crowd).bool().reshape(-1))
    return boxes[~crowd], boxes[crowd]


# ============================================================================ 1. score vs IoU
@dataclass
class ScoreLocalisation:
    """The pre-NMS candidates of one image and how well each score tracks their true IoU."""
    boxes: np.ndarray                 # (K, 4) candidates, clipped to the image
    level: np.ndarray                 # (K,) FPN level (0 = P2)
    cls_score: np.ndarray             # (K,) classification probability
    iou_mask: Optional[np.ndarray]    # (K,) IoU-mask probability, None without the branch
    iou_aware: np.ndarray             # (K,) mean of the two (= cls_score without the branch)
    true_iou: np.ndarray              # (K,) IoU with the best gt
    gt_index: np.ndarray              # (K,) that gt (-1 without gts)
    near_iou: float                   # candidates with true IoU >= near_iou are "near" an object
    corr_near: dict[str, dict[str, float]] = field(default_factory=dict)  # score -> pearson, ...
    corr_all: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def near(self) -> np.ndarray:
        return self.true_iou >= self.near_iou


def _candidate_scores(model: nn.Module, out: Any) -> tuple[Tensor, Tensor, Optional[Tensor], Tensor]:
    """(test score, cls prob, IoU mask or None, boxes), each (N, ...) for image 0."""
    net = proposal_network_of(model)
    test_score, boxes = net.test_scores(out)
    cls_prob = net.test_scores(out, use_iou_mask=False)[0]  # no mask: the classification score
    mask = net.mask_scores(out)
    return test_score[0], cls_prob[0], None if mask is None else mask[0], boxes[0]


def _pre_nms_candidates(model: nn.Module, out: Any, test_score: Tensor, boxes: Tensor,
                        img_shape: tuple[int, int], nms_pre: Optional[int]) -> tuple[Tensor, Tensor]:
    """(indices (K,), clipped boxes (K, 4)) of what the model's selection hands to its NMS
    (:func:`scrpn.models.postprocess.pre_nms_candidates` with the model's ``test_cfg``)."""
    test_cfg = proposal_network_of(model).test_cfg
    k = nms_pre if nms_pre is not None else test_cfg.nms_pre
    idx, b, _, _ = pre_nms_candidates(test_score.cpu(), boxes.cpu(), out.num_per_level, img_shape,
                                      int(k), test_cfg.min_bbox_size)
    return idx, b


def score_vs_localisation(model: nn.Module, image: Tensor, target: Mapping[str, Any],
                          nms_pre: Optional[int] = None, near_iou: float = 0.3,
                          size_divisor: int = 32) -> ScoreLocalisation:
    """Classification score, IoU mask, IoU-aware score and true IoU of one image's pre-NMS candidates.

    Candidates: per level the ``nms_pre`` (default: the model's ``test_cfg.nms_pre``) best by the
    score the model ranks with at test time, clipped to ``img_shape``, boxes no larger than
    ``min_bbox_size`` dropped. Correlations are given on all candidates and on the "near" ones
    (true IoU >= ``near_iou``): on all, background dominates; near ones ask the paper's question.
    """
    out = head_outputs(model, image, size_divisor)
    test_score, cls_prob, mask, boxes = _candidate_scores(model, out)
    img_shape = tuple(int(v) for v in target.get("img_shape", image.shape[-2:]))
    keep, b = _pre_nms_candidates(model, out, test_score, boxes, img_shape, nms_pre)
    cls = cls_prob.cpu()[keep]
    m = None if mask is None else mask.cpu()[keep]
    aware = cls if m is None else iou_aware_score(cls, m)
    true_iou, gt_idx = best_gt_iou(b, _gt_split(target)[0])
    res = ScoreLocalisation(b.numpy(), point_levels(out.num_per_level)[keep].numpy(),
                            cls.double().numpy(), None if m is None else m.double().numpy(),
                            aware.double().numpy(), true_iou, gt_idx, near_iou)
    scores = {"classification": res.cls_score, "iou_mask": res.iou_mask, "iou_aware": res.iou_aware}
    for name, s in scores.items():
        if s is not None:
            res.corr_all[name] = correlation(s, true_iou)
            res.corr_near[name] = correlation(s[res.near], true_iou[res.near])
    return res


@dataclass
class NmsOutcome:
    """NMS around one gt, ranked by the classification score and by the IoU-aware score."""
    gt_index: int
    num_candidates: int          # candidates whose best gt is this one, with IoU >= near_iou
    best_available_iou: float    # the best of them: what a perfect ranking would put first
    cls_top_iou: float           # IoU of the box the classification ranking keeps first
    aware_top_iou: float         # same, IoU-aware ranking
    cls_best_kept_iou: float     # best IoU among all boxes NMS keeps, classification ranking
    aware_best_kept_iou: float   # same, IoU-aware ranking
    cls_num_kept: int
    aware_num_kept: int
    cls_top_box: Optional[np.ndarray] = None
    aware_top_box: Optional[np.ndarray] = None

    @property
    def repaired(self) -> bool:
        """The IoU-aware ranking puts a strictly better-localised box first."""
        return self.aware_top_iou > self.cls_top_iou


def _nms_one_ranking(boxes: Tensor, scores: Tensor, ious: np.ndarray, thr: float
                     ) -> tuple[float, float, int, np.ndarray]:
    keep = nms(boxes, scores, thr).numpy()          # decreasing score: keep[0] is the winner
    return float(ious[keep[0]]), float(ious[keep].max()), int(keep.size), boxes[keep[0]].numpy()


def nms_with_and_without_mask(boxes: Any, cls_score: Any, iou_aware: Any, gt_boxes: Any,
                              nms_thr: float = 0.5, near_iou: float = 0.3) -> list[NmsOutcome]:
    """For each gt: NMS on its nearby candidates ranked by each score; which boxes survive.

    The candidates of gt g are those whose best gt is g with IoU >= ``near_iou``. A gt without
    candidates gets NaN IoUs and zero counts. One entry per gt, in order.
    """
    b = _as_tensor_boxes(boxes)
    cls = torch.as_tensor(np.asarray(cls_score, np.float32)).reshape(-1)
    aware = torch.as_tensor(np.asarray(iou_aware, np.float32)).reshape(-1)
    gts = _as_tensor_boxes(gt_boxes)
    true_iou, gt_idx = best_gt_iou(b, gts)
    outcomes = []
    for g in range(gts.shape[0]):
        sel = np.nonzero((gt_idx == g) & (true_iou >= near_iou))[0]
        if sel.size == 0:
            nan = math.nan
            outcomes.append(NmsOutcome(g, 0, nan, nan, nan, nan, nan, 0, 0))
            continue
        t = torch.as_tensor(sel)
        c = _nms_one_ranking(b[t], cls[t], true_iou[sel], nms_thr)
        a = _nms_one_ranking(b[t], aware[t], true_iou[sel], nms_thr)
        outcomes.append(NmsOutcome(g, int(sel.size), float(true_iou[sel].max()), c[0], a[0], c[1],
                                   a[1], c[2], a[2], c[3], a[3]))
    return outcomes


@legible
def plot_score_vs_localisation(result: ScoreLocalisation, image: Any, gt_boxes: Any,
                               outcomes: Sequence[NmsOutcome] = ()) -> Figure:
    """Scatter of each score against the true IoU (two panels) and the box each ranking keeps."""
    fig = Figure(figsize=(MAX_WIDTH_IN, 4.0), layout="constrained")
    axes = fig.subplots(1, 3)
    near = result.near
    panels = [("classification", result.cls_score, "classification score"),
              ("iou_aware", result.iou_aware,
               "IoU-aware score" if result.iou_mask is not None else "IoU-aware = cls (no IoU mask)")]
    for ax, (key, score, label) in zip(axes[:2], panels):
        ax.scatter(result.true_iou[~near], score[~near], s=4, c="0.75", label="background")
        ax.scatter(result.true_iou[near], score[near], s=8, c=result.level[near], cmap="viridis",
                   vmin=0, vmax=4, label=f"near (IoU >= {result.near_iou:g})")
        cn = result.corr_near.get(key, {})
        ax.set_title(f"{label}\nnear: Pearson {cn.get('pearson', math.nan):.2f}, "
                     f"Spearman {cn.get('spearman', math.nan):.2f}", fontsize=TEXT)
        ax.set_xlabel("true IoU with the best ground truth")
        ax.set_ylabel(label)
        ax.set_xlim(0, 1)
        ax.legend(fontsize=SMALL, loc="upper left")
    _show_image(axes[2], image, gt_boxes, "first box kept by NMS per gt")
    for o in outcomes:
        if o.cls_top_box is not None:
            draw_box(axes[2], o.cls_top_box, "tab:red", ls="--", lw=1.4)
            draw_box(axes[2], o.aware_top_box, "tab:green", ls="-", lw=1.2)
    repaired = sum(o.repaired for o in outcomes)
    worse = sum(o.aware_top_iou < o.cls_top_iou for o in outcomes)
    axes[2].set_xlabel(f"red dashed: by cls score; green: by IoU-aware score\n"
                       f"IoU-aware better for {repaired} gt(s), worse for {worse}", fontsize=SMALL)
    return fig


# ============================================================================ 2. positives per stage
@dataclass
class StagePositives:
    """The positives one stage's assigner picks on one image."""
    stage: int                    # 1 or 2
    assigner: str                 # its type (max_iou, positive_region, size_aware_threshold, ...)
    indices: np.ndarray           # (P,) positive locations (indices into the flattened priors)
    levels: np.ndarray            # (P,) their FPN level
    centers: np.ndarray           # (P, 2) their location centre (x, y)
    boxes: np.ndarray             # (P, 4) the box the assigner judged (prior, or stage-1 box)
    gt_index: np.ndarray          # (P,) the gt each is assigned to
    overlaps: np.ndarray          # (P,) IoU with that gt (1 for Positive Region: no IoU involved)
    counts_per_level: np.ndarray  # (L,)
    counts_per_gt: np.ndarray     # (M,)
    inside_gt: np.ndarray         # (P,) bool: location centre strictly inside its gt
    on_size_levels: np.ndarray    # (P,) bool: level is the gt's i_g or j_g (eqs. (1)-(2))


@dataclass
class PositivesPerStage:
    label: str
    gt_boxes: np.ndarray          # (M, 4) the non-crowd gts
    gt_levels: np.ndarray         # (M, 2) i_g and j_g (-1: none)
    stages: list[StagePositives]
    boxes_source: str             # "model" (its stage-1 boxes) or "priors" (untrained head)


def _assign_head(cfg: Config) -> ProposalHead:
    """A head built from ``cfg`` (:func:`scrpn.build.build_head`, with the assigners
    :func:`scrpn.build.build_assigners` gives) for its ``assign``: what ``loss`` uses."""
    if cfg.model.head.type != "two_stage":
        raise ValueError(f"positives_per_stage needs a two-stage head, not {cfg.model.head.type!r}")
    with torch.random.fork_rng(devices=[]):  # layer initialisation must not move the global RNG
        return build_head(cfg.model.head, cfg.model.backbone.fpn_channels)


@torch.no_grad()
def _stage_outputs(cfg: Config, head: nn.Module, model: Optional[nn.Module], image: Tensor) -> Any:
    """A model's head outputs on ``image``, or an untrained head's on zero features (= priors)."""
    if model is not None:
        return head_outputs(model, image, cfg.data.size_divisor)
    ph, pw = padded_image(image, cfg.data.size_divisor).shape[-2:]
    feats = [torch.zeros(1, cfg.model.backbone.fpn_channels, math.ceil(ph / s), math.ceil(pw / s))
             for s in head.strides]
    return head.eval()(feats)


def _stage_positives(stage: int, kind: str, result: Any, out: Any, boxes: Tensor, gts: Tensor,
                     gt_levels: Tensor) -> StagePositives:
    pos = torch.nonzero(result.gt_inds > 0).squeeze(1)
    gt_of = result.gt_inds[pos] - 1
    lv = point_levels(out.num_per_level)[pos]
    centers = out.centers[pos].cpu()
    own = gts[gt_of]  # (P, 4): "inside" is strict, as in the assigners' points_in_boxes
    inside = ((centers[:, 0] > own[:, 0]) & (centers[:, 0] < own[:, 2])
              & (centers[:, 1] > own[:, 1]) & (centers[:, 1] < own[:, 3]))
    on_levels = (gt_levels[gt_of] == lv[:, None]).any(dim=1)
    return StagePositives(stage, kind, pos.numpy(), lv.numpy(), centers.numpy(),
                          boxes[pos].cpu().numpy(), gt_of.numpy(), result.max_overlaps[pos].numpy(),
                          np.bincount(lv.numpy(), minlength=len(out.num_per_level)),
                          np.bincount(gt_of.numpy(), minlength=gts.shape[0]), inside.numpy(),
                          on_levels.numpy())


def positives_per_stage(cfg: Config, model: Optional[nn.Module], image: Tensor,
                        target: Mapping[str, Any], label: Optional[str] = None) -> PositivesPerStage:
    """Stage-1 and stage-2 positives of ``cfg``'s assigners on one image, per FPN level.

    The assignment is the head's own (``TwoStageProposalHead.assign``, the code ``loss`` runs):
    stage 1 sees the priors / locations, stage 2 the stage-1 boxes of ``model`` (any proposal
    network with the same prior layout; ``None``: an untrained head, whose stage-1 boxes are the
    priors). ``cfg`` only chooses the assigners, so a Max-IoU and a SADS config can be compared on
    the boxes of the same model. Crowd gts are ignore regions, as in training.
    """
    head = _assign_head(cfg)
    out = _stage_outputs(cfg, head, model, image)
    gts, ignore = _gt_split(target)
    gt_levels = candidate_levels((gts[:, 2:] - gts[:, :2]).clamp(min=0).prod(dim=1), 2,
                                 head.base_scale, len(head.strides))
    kinds = [cfg.model.head.stage1.assigner.type, cfg.model.head.stage2.assigner.type]
    stages = []
    for s in range(2 if head.two_stage else 1):
        result = head.assign(s, out, 0, gts, ignore)
        boxes = out.priors if s == 0 else out.init_boxes[0]
        stages.append(_stage_positives(s + 1, kinds[s], result, out, boxes, gts, gt_levels))
    name = label or f"{cfg.name}: " + " -> ".join(k for k in kinds[:len(stages)])
    return PositivesPerStage(name, gts.numpy(), gt_levels.numpy(), stages,
                             "model" if model is not None else "priors")


def positives_table(results: Iterable[PositivesPerStage]) -> list[dict[str, Any]]:
    """One row per (strategy, stage): counts per level and per gt, and the consistency fractions."""
    rows = []
    for r in results:
        for st in r.stages:
            n = int(st.indices.size)
            row: dict[str, Any] = {"strategy": r.label, "stage": st.stage, "assigner": st.assigner,
                                   "positives": n}
            row.update({f"P{k + 2}": int(c) for k, c in enumerate(st.counts_per_level)})
            row["per_gt"] = st.counts_per_gt.tolist()
            row["gts_without_positive"] = int((st.counts_per_gt == 0).sum())
            row["inside_gt_%"] = float(100.0 * st.inside_gt.mean()) if n else math.nan
            row["on_size_levels_%"] = float(100.0 * st.on_size_levels.mean()) if n else math.nan
            rows.append(row)
    return rows


@legible
def plot_positives_per_stage(results: Sequence[PositivesPerStage], image: Any) -> Figure:
    """Rows: strategies. Columns: stage-1 positives, stage-2 positives (coloured by level;
    crosses: location outside its gt), positives per level (bars)."""
    fig = Figure(figsize=(MAX_WIDTH_IN, 3.6 * len(results)), layout="constrained")
    axes = np.asarray(fig.subplots(len(results), 3, squeeze=False))
    for row, r in zip(axes, results):
        for col in range(2):
            ax = row[col]
            if col >= len(r.stages):
                ax.set_axis_off()
                continue
            st = r.stages[col]
            _show_image(ax, image, r.gt_boxes, f"{r.label}\nstage {st.stage} ({st.assigner}):\n"
                        f"{st.indices.size} positives, {int(st.inside_gt.sum())} inside their gt")
            for lvl in np.unique(st.levels):
                for inside, marker in ((True, "o"), (False, "x")):
                    sel = (st.levels == lvl) & (st.inside_gt == inside)
                    if sel.any():
                        row[col].scatter(st.centers[sel, 0], st.centers[sel, 1], s=18, marker=marker,
                                         c=LEVEL_COLORS[int(lvl) % len(LEVEL_COLORS)],
                                         label=f"P{int(lvl) + 2}" if inside else None)
            if st.indices.size:
                ax.legend(fontsize=SMALL, loc="lower right")
        ax = row[2]
        num_levels = len(r.stages[0].counts_per_level)
        x = np.arange(num_levels)
        width = 0.8 / len(r.stages)
        for k, st in enumerate(r.stages):
            ax.bar(x + (k - (len(r.stages) - 1) / 2) * width, st.counts_per_level, width,
                   label=f"stage {st.stage}")
        ax.set_xticks(x, [f"P{k + 2}" for k in range(num_levels)])
        ax.set_ylabel("positives")
        ax.set_title("positives per FPN level", fontsize=TEXT)
        ax.legend(fontsize=SMALL)
    return fig


# ============================================================================ 3. slender objects
def slender_objects(boxes: Any, min_aspect: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the boxes with long side / short side >= ``min_aspect``, and every aspect ratio.

    Degenerate boxes (a side <= 0) get aspect ratio inf and are not returned.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    wh = b[:, 2:] - b[:, :2]
    long_, short = wh.max(axis=1), wh.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.where(short > 0, long_ / np.where(short > 0, short, 1.0), np.inf)
    return np.nonzero(np.isfinite(aspect) & (aspect >= min_aspect))[0], aspect


@dataclass
class SlenderMatch:
    """One slender gt and, per model, its best proposal."""
    sample: int                       # position of the image in the samples given
    gt_index: int
    gt_box: np.ndarray                # (4,)
    aspect: float
    best_iou: dict[str, float]        # model label -> best IoU over its proposals
    best_box: dict[str, np.ndarray]   # model label -> that proposal (4,), NaN without proposals


@torch.no_grad()
def _proposals(model: nn.Module, image: Tensor, size_divisor: int, top_k: Optional[int]) -> Tensor:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        x = padded_image(image, size_divisor).to(device)
        with one_thread():   # the same bytes under any thread count (common.one_thread)
            boxes = model(x, [{"img_shape": tuple(int(v) for v in image.shape[-2:])}])[0]["boxes"]
    finally:
        model.train(was_training)
    return boxes.cpu()[:top_k] if top_k is not None else boxes.cpu()


def anchors_vs_points_on_slender(models: Mapping[str, nn.Module],
                                 samples: Iterable[tuple[Tensor, Mapping[str, Any]]],
                                 min_aspect: float = 3.0, top_k: Optional[int] = None,
                                 max_objects: Optional[int] = None, size_divisor: int = 32
                                 ) -> list[SlenderMatch]:
    """Best IoU each model's proposals reach on every slender (aspect >= ``min_aspect``) gt.

    ``models`` maps a label to a proposal network, typically an anchor-based row (``t3_iou_loss``)
    and a point-based row (``t3_point`` or ``sc_rpn``). Proposals are the models' final ones
    (after NMS), the first ``top_k`` (default: all) as AR@k counts them. Crowd gts are skipped.
    """
    matches: list[SlenderMatch] = []
    for i, (image, target) in enumerate(samples):
        gts = _gt_split(target)[0]
        idx, aspect = slender_objects(gts.numpy(), min_aspect)
        if idx.size == 0:
            continue
        proposals = {name: _proposals(m, image, size_divisor, top_k) for name, m in models.items()}
        for g in idx:
            best_iou, best_box = {}, {}
            for name, p in proposals.items():
                if p.shape[0] == 0:
                    best_iou[name], best_box[name] = 0.0, np.full(4, np.nan)
                    continue
                ious = box_iou(p, gts[g:g + 1])[:, 0]
                best_iou[name] = float(ious.max())
                best_box[name] = p[int(ious.argmax())].numpy()
            matches.append(SlenderMatch(i, int(g), gts[g].numpy(), float(aspect[g]), best_iou, best_box))
            if max_objects is not None and len(matches) >= max_objects:
                return matches
    return matches


@legible
def plot_anchors_vs_points(matches: Sequence[SlenderMatch], images: Sequence[Any],
                           max_panels: int = 6, margin: float = 0.6) -> Figure:
    """One crop per slender gt (white) with each model's best proposal; ``images[m.sample]``.

    The crop is the gt enlarged by ``margin`` of its long side on every side. Worst-covered gts
    (smallest best IoU over the models) first: they are where the representations differ.
    """
    shown = sorted(matches, key=lambda m: min(m.best_iou.values(), default=0.0))[:max_panels]
    cols = max(1, min(3, len(shown)))
    rows = max(1, math.ceil(len(shown) / cols))
    fig = Figure(figsize=(3.3 * cols, 3.3 * rows), layout="constrained")   # 3 columns: 9.9 in
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[len(shown):]:
        ax.set_axis_off()
    if not shown:
        axes[0].text(0.5, 0.5, "no slender object in these images", ha="center", va="center")
    for ax, m in zip(axes, shown):
        img = display_image(images[m.sample])
        _show_image(ax, img, m.gt_box[None], f"image {m.sample}, gt {m.gt_index}, "
                    f"aspect {m.aspect:.1f}")
        for k, (name, box) in enumerate(m.best_box.items()):
            if np.isfinite(box).all():
                draw_box(ax, box, MODEL_COLORS[k % len(MODEL_COLORS)], ls=("--", "-", ":")[k % 3],
                         lw=1.6, label=f"{name}: IoU {m.best_iou[name]:.2f}")
        x1, y1, x2, y2 = m.gt_box
        pad = margin * max(x2 - x1, y2 - y1)
        ax.set_xlim(max(0.0, x1 - pad), min(img.shape[1], x2 + pad))
        ax.set_ylim(min(img.shape[0], y2 + pad), max(0.0, y1 - pad))
        ax.legend(fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.01), frameon=False)
    return fig


def teaching_image(dataset: Any, image_index: Optional[int] = None, min_aspect: float = 3.0,
                   min_objects: int = 3) -> int:
    """The validation image notebook 11 teaches on: its parameter ``image_index``, checked
    against ``dataset`` (a :class:`~scrpn.viz.knobs.ParameterError` naming the valid range, before
    anything is computed; ``scrpn reproduce -p`` runs the same check before the kernel starts),
    else :func:`pick_teaching_image`. Pinned by ``tests/test_bad_input_cli.py``."""
    check_knobs("11_teaching_weak_correlations", {"image_index": image_index})
    if image_index is None:
        return pick_teaching_image(dataset, min_aspect=min_aspect, min_objects=min_objects)
    if image_index >= len(dataset):
        raise ParameterError("image_index", image_index, f"expected a whole number in 0 .. "
                             f"{len(dataset) - 1} (the validation set has {len(dataset)} images)")
    return int(image_index)


def pick_teaching_image(dataset: Any, min_aspect: float = 3.0, min_objects: int = 3,
                        max_scan: int = 50) -> int:
    """Index of the first of ``dataset``'s first ``max_scan`` samples with a slender object and
    at least ``min_objects`` gts (the first sample if none qualifies)."""
    for i in range(min(len(dataset), max_scan)):
        boxes = dataset[i][1]["boxes"]
        if len(boxes) >= min_objects and slender_objects(np.asarray(boxes), min_aspect)[0].size:
            return i
    return 0
