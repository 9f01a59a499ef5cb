"""SADS inspector, the data side: what an assigner setting decides for every object of one image.

``inspect_sads(image, boxes, setting=None, checkpoint=None)`` runs a setting's two assigners on one
image and returns an :class:`Inspection`: the locations, the boxes each stage scored, both stages'
``AssignResult`` and a candidate table (a pandas DataFrame, one row per candidate of each gt and
stage: level, location, IoU with the gt, rank, the threshold it was compared with, whether it
passes the gt's own rule, whether and to which gt it was assigned). :func:`compare` lines up two
inspections of the same image (A / B) and lists the positives only one of them has;
:func:`plot_comparison` draws them. The widget around this is ``scrpn/viz/inspector_widget.py``
(notebook 10, ``docs/inspector.md``).

Readings and design choices:
  * **Nothing is re-implemented.** The locations and priors come from the head's own generators
    (:func:`head_geometry`, or the trained model's own outputs through
    :func:`scrpn.viz.common.run_head`); the assigners from the head's builder
    (``scrpn.models.heads.targets.build_assigner``), called through the one interface the head
    calls (``assign_priors(PriorSet, gts, ignore)``) with what the head gives each stage: the
    priors in stage 1, the (clipped, detached) stage-1 boxes in stage 2. Every decision shown is
    read from the results: ``gt_inds``; SAT's and ATSS's ``info`` (candidates, their IoUs, the
    threshold). IoUs come from :func:`scrpn.sampling.geometry.pairwise_overlaps`, the assigners'
    own overlap function.
  * **"Passes its own rule"** is the same assigner run on that gt alone: what the gt would get
    without the others. A candidate that passes but is not assigned to the gt lost a conflict
    (PosR: to a smaller gt; SAT, ATSS: to a higher IoU; Max-IoU: to a better or later gt).
  * **A setting** is a study row's two assigner configs (:class:`Setting`), optionally with k,
    sigma, N or PosR's region rule changed, or with ATSS in stage 2 (no study row trains ATSS).
    The default is the mini profile's SC-RPN (``sc_rpn``).
  * **The stage-1 boxes** are the priors (what an untrained head predicts; its offsets start near
    zero) unless a checkpoint is given (a study row and seed: the committed weights under
    ``results/weights`` or the run's checkpoint under ``work_dirs/study``; a path; or a model).
    A checkpoint must be a two-stage head with one prior per location (SC-RPN's family, Cascade
    RPN): RPN (three anchors per location, one stage) and GA-RPN are refused with one message.
  * **Which candidates a table lists** for gt g: SAT / ATSS: the k nearest locations per
    candidate level, as the assigner reports them (rank: nearest first on its level); Max-IoU:
    the locations whose IoU with g is at least ``min_pos_iou``, and at least the best 9 (rank: by
    IoU); PosR / Cascade RPN's region rule: the 9 locations of g's level i_g (eq. 1) nearest to
    its centre (rank: by distance). Every location assigned to g, or passing g's own rule, is
    listed too. ``threshold`` is SAT's mean m_g, ATSS's mean + std, Max-IoU's ``pos_iou_thr``;
    NaN for the region rules, which compare no IoU.
  * Bad input (a box outside the image, zero area, an unreadable file, a checkpoint of another
    method) raises :class:`InspectorError` with one line that says what to change; the widget
    shows that line, never a traceback.

Pinned by ``tests/test_sads_inspector.py`` (a hand-made candidate table, values derived by hand
in its comments; the bad inputs).
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from ..build import build_assigner
from ..config import AssignerConfig, Config, HeadConfig
from ..data.collate import padded_size
from ..models.anchors import AnchorGenerator
from ..models.points import grid_points
from ..pyramid import FPN_STRIDES, level_base_scale
from ..sampling.assign_result import AssignResult
from ..sampling.geometry import box_area, box_centres, pairwise_overlaps, points_in_boxes
from ..sampling.levels import point_levels, target_level
from ..sampling.priors import PriorSet
from ..models.heads.stages import TwoStageProposalHead
from .common import display_image, draw_box, proposal_network_of, run_head
from .knobs import ParameterError, check_knobs
from .style import legible

__all__ = ["CANDIDATE_COLUMNS", "Comparison", "Inspection", "InspectorError", "LocationGrid",
           "PRESETS", "Setting", "compare", "featmap_sizes", "figure_to_png", "head_geometry",
           "inspect_sads", "level_name", "load_checkpoint_model", "load_image", "object_table",
           "order_objects", "parse_box", "check_boxes", "plot_comparison", "plot_image_only",
           "render_comparison",
           "resolve_setting"]

ImageSize = int | tuple[int, int]
# The candidate table's columns, in order (tests/test_sads_inspector.py pins them).
CANDIDATE_COLUMNS = ("gt", "stage", "assigner", "level", "location", "x", "y", "iou", "stage1_iou",
                     "rank", "threshold", "passes", "inside", "assigned", "assigned_to", "label")
SHOWN_NEAREST = 9            # locations listed for the region rules and, at least, for Max-IoU
_LEVEL_MARKERS = ("o", "s", "^", "D", "v")
_RULE_NAMES = {"positive_region": "PosR", "size_aware_threshold": "SAT", "max_iou": "Max-IoU",
               "region": "region rule", "atss": "ATSS"}


class InspectorError(ValueError):
    """Bad input to the inspector; the message is one line saying what to change."""


# ---------------------------------------------------------------------------------------------
# Geometry: the head's own
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocationGrid:
    """The head's locations for one image, flattened over levels (level-major)."""
    strides: tuple[int, ...]
    num_per_level: tuple[int, ...]
    priors: Tensor    # (N, 4) anchors / point prior squares, xyxy
    centers: Tensor   # (N, 2) location centres (x, y)

    @property
    def levels(self) -> Tensor:  # (N,) level index of each location
        return point_levels(list(self.num_per_level))


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


def _check_one_prior(head_cfg: HeadConfig, what: str) -> None:
    if head_cfg.type != "two_stage":
        raise InspectorError(f"{what} is a {head_cfg.type!r} head (GA-RPN): its boxes are not one "
                             "stage-1 box per location; pick a two-stage row (sc_rpn, t3_point, "
                             "t3_iou_loss, cascade_rpn)")
    ratios = (1.0,) if head_cfg.representation == "point" else tuple(head_cfg.anchor_ratios)
    if len(ratios) != 1 or head_cfg.num_stages != 2:
        raise InspectorError(f"{what} has {len(ratios)} anchor(s) per location and "
                             f"{head_cfg.num_stages} stage(s) (RPN's family): SADS compares one "
                             "stage-1 box per location; pick a two-stage row (sc_rpn, t3_point, "
                             "t3_iou_loss, cascade_rpn)")


def head_geometry(head_cfg: HeadConfig, image_size: ImageSize, size_divisor: int = 32,
                  strides: Sequence[int] = FPN_STRIDES) -> LocationGrid:
    """Priors and location centres exactly as ``TwoStageProposalHead.forward`` builds them."""
    _check_one_prior(head_cfg, "the head config")
    strides = tuple(int(s) for s in strides)
    sizes = featmap_sizes(image_size, strides, size_divisor)
    generator = AnchorGenerator(strides=strides, ratios=(1.0,), scales=(head_cfg.anchor_scale,))
    priors = generator.grid_anchors(sizes, "cpu")  # [(H*W, 4)]
    centers = grid_points(sizes, strides, "cpu")   # [(H*W, 2)], one prior per location
    return LocationGrid(strides=strides, num_per_level=tuple(p.shape[0] for p in priors),
                        priors=torch.cat(priors), centers=torch.cat(centers))


def level_name(level: int, strides: Sequence[int] = FPN_STRIDES) -> str:
    """Level index -> FPN name (stride 4 is P2); -1 -> 'none'."""
    if level < 0:
        return "none"
    return f"P{int(round(math.log2(strides[level])))}"


# ---------------------------------------------------------------------------------------------
# Settings: a study row's two assigners, with k, sigma, N, region rule or ATSS changed
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """The two assigners one panel shows: stage 1 on the priors, stage 2 on the stage-1 boxes."""
    label: str
    stage1: AssignerConfig
    stage2: AssignerConfig
    row: Optional[str] = None          # the study row the assigners come from

    def describe(self, stage: int) -> str:
        """E.g. 'SAT, k = 9, N = 2' or 'PosR, sigma = 0.2 (continuous)'."""
        cfg = self.stage1 if stage == 1 else self.stage2
        name = _RULE_NAMES.get(cfg.type, cfg.type)
        if cfg.type == "positive_region":
            return f"{name}, sigma = {cfg.center_ratio:g} ({cfg.region_rule})"
        if cfg.type == "region":
            return f"{name}, centre {cfg.center_ratio:g}, ignore {cfg.ignore_ratio:g}"
        if cfg.type == "size_aware_threshold":
            return f"{name}, k = {cfg.topk}, N = {cfg.num_levels}"
        if cfg.type == "atss":
            return f"{name}, k = {cfg.topk}"
        return f"{name}, pos >= {cfg.pos_iou_thr:g}, neg < {cfg.neg_iou_thr:g}"

    def changed(self, *, k: Optional[int] = None, sigma: Optional[float] = None,
                n: Optional[int] = None, region_rule: Optional[str] = None) -> "Setting":
        """The same setting with k, sigma, N or PosR's region rule changed where its assigners
        have them (k: SAT / ATSS; sigma: PosR / region rule; N: SAT; region rule: PosR)."""
        s1, s2, notes = self.stage1, self.stage2, []
        if sigma is not None and s1.type in ("positive_region", "region") \
                and float(sigma) != s1.center_ratio:
            if not 0.0 < float(sigma) <= 1.0:
                raise InspectorError(f"sigma must be in (0, 1], got {sigma}")
            s1 = replace(s1, center_ratio=float(sigma))
            notes.append(f"sigma {float(sigma):g}")
        if region_rule is not None and s1.type == "positive_region" \
                and region_rule != s1.region_rule:
            if region_rule not in ("continuous", "rounded"):
                raise InspectorError(f"region_rule must be 'continuous' or 'rounded', got {region_rule!r}")
            s1 = replace(s1, region_rule=region_rule)
            notes.append(region_rule)
        if k is not None and s2.type in ("size_aware_threshold", "atss") and int(k) != s2.topk:
            if int(k) < 1:
                raise InspectorError(f"k must be at least 1, got {k}")
            s2 = replace(s2, topk=int(k))
            notes.append(f"k {int(k)}")
        if n is not None and s2.type == "size_aware_threshold" and int(n) != s2.num_levels:
            if not 1 <= int(n) <= 5:
                raise InspectorError(f"N must be in 1..5, got {n}")
            s2 = replace(s2, num_levels=int(n))
            notes.append(f"N {int(n)}")
        label = self.label + (f" ({', '.join(notes)})" if notes else "")
        return Setting(label, s1, s2, self.row)


# label -> (study row, stage-2 assigner replacing the row's, or None)
PRESETS: dict[str, tuple[str, Optional[AssignerConfig]]] = {
    "SADS (SC-RPN)": ("sc_rpn", None),
    "Max-IoU, both stages": ("t3_point", None),
    "PosR + ATSS": ("sc_rpn", AssignerConfig(type="atss", topk=9)),
    "Cascade RPN: region + Max-IoU": ("cascade_rpn", None),
    "Max-IoU + SAT (Table IV)": ("t4_maxiou_sat", None),
    "SADS, PosR rounded (exp. 4 R)": ("x4r_sads_rounded", None),
    "exp. 4 S1: SADS, UnitBox stage 1": ("x4s1_sads_unitbox", None),
    "exp. 4 S2: SADS, stage-1 weight x4": ("x4s2_sads_w2", None),
    "exp. 4 R under S1: rounded, UnitBox": ("x4r_sads_rounded_unitbox", None),
    "exp. 4 R under S2: rounded, weight x4": ("x4r_sads_rounded_w2", None),
}
_SETTING_CACHE: dict[tuple[str, str], Setting] = {}


def _study(profile: str = "mini", results_dir: str | Path = "results", dataset: Optional[str] = None):
    from ..study.runs import Study  # late: the study module is heavy
    return Study(profile=profile, results_dir=results_dir, dataset=dataset, train_missing=False,
                 log=lambda _msg: None)


def _row_config(row: str, profile: str = "mini") -> Config:
    try:
        return _study(profile).config(row)
    except Exception as exc:  # ConfigError: no such row
        raise InspectorError(f"{row}: no such study row in the {profile} profile ({exc})") from exc


def resolve_setting(name: str | Setting | None = None, *, profile: str = "mini", k: Optional[int] = None,
            sigma: Optional[float] = None, n: Optional[int] = None,
            region_rule: Optional[str] = None) -> Setting:
    """A :class:`Setting` from a preset label (:data:`PRESETS`), a study row name (its two
    assigners), or a Setting; None is the mini profile's SC-RPN. k, sigma, N and the region rule
    are then changed where the setting's assigners have them (:meth:`Setting.changed`)."""
    if isinstance(name, Setting):
        base = name
    else:
        label = name or "SADS (SC-RPN)"
        key = (profile, label)
        if key not in _SETTING_CACHE:
            row, stage2 = PRESETS.get(label, (label, None))
            head = _row_config(row, profile).model.head
            if head.type != "two_stage" or head.num_stages != 2:
                raise InspectorError(f"{row}: not a two-stage row (one stage or GA-RPN): it has "
                                     "no stage-2 assigner to show")
            _SETTING_CACHE[key] = Setting(label, head.stage1.assigner, stage2 or head.stage2.assigner, row)
        base = _SETTING_CACHE[key]
    return base.changed(k=k, sigma=sigma, n=n, region_rule=region_rule)


# ---------------------------------------------------------------------------------------------
# Inputs: the image, the boxes, the checkpoint
# ---------------------------------------------------------------------------------------------

def load_image(image: Any, max_side: Optional[int] = None) -> tuple[Tensor, Optional[Tensor], Optional[Tensor], float]:
    """Any image the inspector accepts -> ``(image (3, H, W) float in [0, 1], gts or None,
    crowd boxes or None, scale)``.

    ``image``: a path (str / Path) to a file PIL reads; a numpy (H, W[, C]) or torch (C, H, W)
    array (uint8, or float in [0, 1]); a dataset item ``(image, target)`` whose target's
    ``boxes`` (and ``iscrowd``) become the gts. ``max_side``: a file larger than this is resized
    (keeping its aspect) so that its longer side is ``max_side`` (the profile's models were trained
    at 256 px); ``scale`` says by how much. Unreadable input raises :class:`InspectorError`.
    """
    gts = crowd = None
    scale = 1.0
    if isinstance(image, (tuple, list)) and len(image) == 2 and isinstance(image[1], dict):
        image, target = image
        boxes = torch.as_tensor(target.get("boxes", torch.zeros(0, 4)), dtype=torch.float32).reshape(-1, 4)
        is_crowd = torch.as_tensor(target.get("iscrowd", torch.zeros(len(boxes))), dtype=torch.bool)
        gts, crowd = boxes[~is_crowd], boxes[is_crowd]
    if isinstance(image, (str, Path)):
        path = Path(image)
        try:
            from PIL import Image
            with Image.open(path) as pil:
                pil = pil.convert("RGB")
                if max_side and max(pil.size) > max_side:
                    scale = max_side / max(pil.size)
                    pil = pil.resize((max(1, round(pil.size[0] * scale)), max(1, round(pil.size[1] * scale))))
                arr = np.asarray(pil)
        except Exception as exc:  # OSError, PIL.UnidentifiedImageError, DecompressionBombError
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InspectorError(f"{path}: cannot read the image ({reason})") from exc
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0, gts, crowd, scale
    if isinstance(image, Tensor):
        t = image.detach().cpu()
        if t.dim() == 3 and t.shape[0] in (1, 3):
            t = t.float() / (255.0 if t.dtype == torch.uint8 else 1.0)
            return (t.expand(3, -1, -1) if t.shape[0] == 1 else t), gts, crowd, scale
        image = t.numpy()
    if isinstance(image, np.ndarray):
        arr = display_image(image) if image.ndim in (2, 3) else None
        if arr is None or min(arr.shape[:2]) < 1:
            raise InspectorError(f"an image array must be (H, W), (H, W, 3) or (3, H, W), got shape {image.shape}")
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        return torch.from_numpy(np.ascontiguousarray(arr[..., :3])).permute(2, 0, 1).float(), gts, crowd, scale
    raise InspectorError(f"cannot use a {type(image).__name__} as an image: give a path, an array "
                         "or a dataset item (image, target)")


def example_objects(val: Any, images: int = 50, min_area: float = 64.0
                    ) -> dict[str, tuple[int, int, float, float]]:
    """Notebook 10's three examples among the first ``images`` validation images: the
    ``smallest``, the ``most slender`` and the ``largest`` object of at least ``min_area`` px²
    (a 1-2 px sliver is no one's example), each ``(image index, object index, area, aspect)``;
    the object index counts the image's non-crowd boxes, as :func:`inspect_sads` does."""
    candidates = []
    for index in range(min(len(val), images)):
        target = val[index][1]
        frame = object_table(target["boxes"][~target["iscrowd"].bool()])
        for row in frame.itertuples():
            if row.area >= min_area:
                candidates.append((index, row.gt, row.area, row.aspect))
    return {"smallest": min(candidates, key=lambda o: o[2]),
            "most slender": max(candidates, key=lambda o: o[3]),
            "largest": max(candidates, key=lambda o: o[2])}


def inspector_object(val: Any, image_index: Optional[int] = None, gt: Optional[int] = None
                     ) -> tuple[int, int]:
    """The (image, object) notebook 10 inspects: the parameters' ``image_index`` (object 0 unless
    ``gt``) and ``gt``, checked against ``val`` (an image of the validation set, an object of that
    image), else the most slender example (:func:`example_objects`). A bad value raises
    :class:`~scrpn.viz.knobs.ParameterError` naming it and its valid range, before anything is
    computed (``tests/test_bad_input_cli.py``)."""
    check_knobs("10_sads_inspector", {"image_index": image_index, "gt": gt})
    if image_index is None:
        index, g = example_objects(val)["most slender"][:2]
    elif image_index >= len(val):
        raise ParameterError("image_index", image_index, f"expected a whole number in 0 .. "
                             f"{len(val) - 1} (the validation set has {len(val)} images)")
    else:
        index, g = image_index, 0
    if gt is not None:
        objects = int((~val[index][1]["iscrowd"].bool()).sum())
        if gt >= objects:
            raise ParameterError("gt", gt, f"expected a whole number in 0 .. {objects - 1} "
                                 f"(validation image {index} has {objects} object(s))" if objects
                                 else f"validation image {index} has no objects")
        g = gt
    return int(index), int(g)


def check_boxes(boxes: Any, image_size: tuple[int, int], what: str = "box") -> Tensor:
    """(M, 4) xyxy pixel boxes inside an (H, W) image, each of positive area, else
    :class:`InspectorError` naming the first bad box."""
    h, w = image_size
    try:
        t = torch.as_tensor(np.asarray(boxes, dtype=np.float32) if not isinstance(boxes, Tensor)
                            else boxes.detach().cpu(), dtype=torch.float32)
    except (TypeError, ValueError) as exc:
        raise InspectorError(f"{what}es must be rows of x1, y1, x2, y2 numbers ({exc})") from exc
    if t.numel() == 0:
        return t.reshape(0, 4)
    if t.dim() == 1 and t.numel() == 4:
        t = t[None]
    if t.dim() != 2 or t.shape[1] != 4:
        raise InspectorError(f"{what}es must be rows of x1, y1, x2, y2, got shape {tuple(t.shape)}")
    for i, (x1, y1, x2, y2) in enumerate(t.tolist()):
        text = f"{what}{f' {i}' if len(t) > 1 else ''} ({x1:g}, {y1:g}, {x2:g}, {y2:g})"
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            raise InspectorError(f"{text}: not a finite number")
        if x2 <= x1 or y2 <= y1:
            raise InspectorError(f"{text}: zero area (needs x2 > x1 and y2 > y1)")
        if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
            raise InspectorError(f"{text}: outside the {w} x {h} image (x in 0..{w}, y in 0..{h})")
    return t


def parse_box(text: str) -> list[float]:
    """'x1, y1, x2, y2' (commas or spaces) -> four numbers, else :class:`InspectorError`."""
    parts = [p for p in re.split(r"[,\s;]+", text.strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InspectorError(f"type a box as four numbers x1, y1, x2, y2, got {text.strip()!r}") from None
    if len(values) != 4:
        raise InspectorError(f"type a box as four numbers x1, y1, x2, y2, got {len(values)} number(s)")
    return values


_WEIGHTS_NAME = re.compile(r"^(?P<row>.+)_seed(?P<seed>\d+)\.pt$")


def _checked_network(model: torch.nn.Module, what: str) -> torch.nn.Module:
    """The proposal network of ``model`` when its head gives one stage-1 box per location."""
    try:
        net = proposal_network_of(model)
    except ValueError as exc:
        raise InspectorError(f"{what}: {exc}") from exc
    head = net.head
    if not isinstance(head, TwoStageProposalHead):
        raise InspectorError(f"{what} has a {type(head).__name__} (GA-RPN): its boxes are not one "
                             "stage-1 box per location; pick a two-stage row (sc_rpn, t3_point, "
                             "t3_iou_loss, cascade_rpn)")
    if head.num_anchors != 1 or not head.two_stage:
        raise InspectorError(f"{what} has {head.num_anchors} anchor(s) per location and "
                             f"{2 if head.two_stage else 1} stage(s) (RPN's family): SADS compares one "
                             "stage-1 box per location; pick a two-stage row (sc_rpn, t3_point, "
                             "t3_iou_loss, cascade_rpn)")
    return net.eval()


def load_checkpoint_model(checkpoint: Any, profile: str = "mini", results_dir: str | Path = "results",
                          study: Any = None) -> tuple[torch.nn.Module, int, str]:
    """``(proposal network, size divisor, label)`` of a checkpoint, refused with one
    :class:`InspectorError` line when it cannot give one stage-1 box per location.

    ``checkpoint``: ``(row, seed)``, ``"row"`` / ``"row:seed"`` (the study's committed weights or
    its run checkpoint; nothing is trained), a path to committed weights ``<row>_seed<k>.pt`` or to
    a training checkpoint (``final.pth``), or a ``ProposalNetwork`` (its head's config is read).
    ``study``: the :class:`~scrpn.study.runs.Study` rows are loaded from (its profile, folders and
    ``train_missing``); default: the profile's, training nothing.
    """
    if isinstance(checkpoint, torch.nn.Module):
        return _checked_network(checkpoint, "the model"), 32, "the given model"
    row = seed = None
    if isinstance(checkpoint, (tuple, list)) and len(checkpoint) == 2:
        row, seed = str(checkpoint[0]), int(checkpoint[1])
    elif isinstance(checkpoint, str) and not checkpoint.endswith((".pt", ".pth")):
        row, _, s = checkpoint.partition(":")
        try:
            seed = int(s) if s else 0
        except ValueError:
            raise InspectorError(f"checkpoint {checkpoint!r}: the seed after ':' must be a number") from None
    elif isinstance(checkpoint, (str, Path)):
        path = Path(checkpoint)
        match = _WEIGHTS_NAME.match(path.name)
        if match and path.parent.name == "weights":
            row, seed = match["row"], int(match["seed"])
            results_dir = path.parent.parent
        else:
            return _from_training_checkpoint(path)
    else:
        raise InspectorError(f"cannot use a {type(checkpoint).__name__} as a checkpoint: give "
                             "(row, seed), 'row:seed', a path or a model")
    study = study if study is not None else _study(profile, results_dir)
    try:
        cfg = study.config(row, seed)
    except Exception as exc:  # ConfigError: no such row
        raise InspectorError(f"{row}: no such study row in the {study.profile} profile ({exc})") from exc
    _check_one_prior(cfg.model.head, f"{row} (seed {seed})")
    if not study.train_missing and not has_weights(study, row, seed):
        raise InspectorError(f"{row} seed {seed}: no weights here (neither {study.weights_path(row, seed)} "
                             f"nor a trained checkpoint under {study.work_dir}/study); train it "
                             f"(scrpn study {row} --seeds {seed}) or use the priors")
    try:
        model, cfg = study.load_model(row, seed)
    except FileNotFoundError:
        raise InspectorError(f"{row} seed {seed}: no committed weights ({study.weights_path(row, seed)}) "
                             f"and no trained checkpoint; train it (scrpn study {row} --seeds {seed}) "
                             "or use the priors") from None
    except Exception as exc:  # a corrupt or foreign weights file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InspectorError(f"{row} seed {seed}: cannot load its weights ({reason})") from exc
    label = f"{row} seed {seed}"
    return _checked_network(model, label), cfg.data.size_divisor, label


def has_weights(study: Any, row: str, seed: int) -> bool:
    """Whether ``row`` / ``seed`` can be loaded without training: committed weights, or the run's
    final checkpoint under the study's work folder."""
    if study.weights_path(row, seed).is_file():
        return True
    try:
        return (study.checkpoint_dir(study.config(row, seed)) / "final.pth").is_file()
    except Exception:  # noqa: BLE001 - no such row: no weights
        return False


def _from_training_checkpoint(path: Path) -> tuple[torch.nn.Module, int, str]:
    from ..build import build_model
    from ..config import config_from_dict
    from ..engine.checkpoint import CheckpointError, load_checkpoint

    try:
        state = load_checkpoint(path)
        cfg = config_from_dict(state["config"], str(path))
    except (CheckpointError, ValueError) as exc:
        raise InspectorError(str(exc).splitlines()[0]) from exc
    if cfg.detector.type != "none":
        raise InspectorError(f"{path}: a {cfg.detector.type} detector checkpoint; give the proposal "
                             "row's checkpoint")
    _check_one_prior(cfg.model.head, str(path))
    cfg.model.backbone.pretrained = False
    model = build_model(cfg)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise InspectorError(f"{path}: its weights do not fit its own config ({str(exc).splitlines()[0]})") from exc
    return _checked_network(model, path.name), cfg.data.size_divisor, path.name


# ---------------------------------------------------------------------------------------------
# The inspection of one image under one setting
# ---------------------------------------------------------------------------------------------

@dataclass
class Inspection:
    """One setting's assignment of one image (``inspect_sads``). Location indices are into the N
    locations of all levels (level-major)."""
    image: Tensor                      # (3, H, W) in [0, 1]
    gts: Tensor                        # (M, 4) xyxy
    ignore: Tensor                     # (K, 4) crowd boxes
    setting: Setting
    boxes_source: str                  # "priors" or the checkpoint's label
    grid: LocationGrid
    stage1_boxes: Tensor               # (N, 4) what stage 2 scored
    base_scale: float
    results: tuple[AssignResult, AssignResult]   # stage 1, stage 2
    candidates: Any                    # pandas DataFrame, columns CANDIDATE_COLUMNS
    alone: tuple[list[AssignResult], list[AssignResult]] = field(repr=False, default=((), ()))

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.image.shape[-2]), int(self.image.shape[-1])

    def scored_boxes(self, stage: int) -> Tensor:
        """(N, 4): the priors (stage 1) or the stage-1 boxes (stage 2)."""
        return self.grid.priors if stage == 1 else self.stage1_boxes

    def positives(self, stage: int, gt: Optional[int] = None) -> Tensor:
        """Locations positive in ``stage`` (1 or 2), for gt ``gt`` or for any gt."""
        gt_inds = self.results[stage - 1].gt_inds
        return ((gt_inds == gt + 1) if gt is not None else (gt_inds > 0)).nonzero()[:, 0]

    def positive_pairs(self, stage: int) -> set[tuple[int, int]]:
        """{(location, gt)} of ``stage``'s positives."""
        gt_inds = self.results[stage - 1].gt_inds
        idx = (gt_inds > 0).nonzero()[:, 0]
        return {(int(i), int(gt_inds[i]) - 1) for i in idx}

    def table(self, gt: Optional[int] = None, stage: Optional[int] = None) -> Any:
        """The candidate table, for one gt and / or one stage."""
        frame = self.candidates
        if gt is not None:
            frame = frame[frame["gt"] == gt]
        if stage is not None:
            frame = frame[frame["stage"] == stage]
        return frame.reset_index(drop=True)

    def objects(self) -> Any:
        """One row per gt: size, aspect, eq. (1)'s level and each stage's positive count."""
        frame = object_table(self.gts, self.base_scale, self.grid.strides)
        for stage in (1, 2):
            gt_inds = self.results[stage - 1].gt_inds
            frame[f"stage{stage}_positives"] = [int((gt_inds == g + 1).sum()) for g in range(len(self.gts))]
        return frame

    def summary(self, stage: int = 2) -> str:
        n = len(self.gts)
        npos = len(self.positives(stage))
        missed = sum(1 for g in range(n) if len(self.positives(stage, g)) == 0)
        return (f"{self.setting.label}, stage {stage} ({self.setting.describe(stage)}), boxes: "
                f"{self.boxes_source}: {npos} positive location(s) for {n} object(s), "
                f"{missed} object(s) without any")


def object_table(gts: Tensor, base_scale: float = 16.0, strides: Sequence[int] = FPN_STRIDES) -> Any:
    """One row per gt: x1..y2, width, height, area, sqrt(area), aspect (long side / short side,
    >= 1) and eq. (1)'s level i_g."""
    import pandas as pd

    gts = torch.as_tensor(gts, dtype=torch.float32).reshape(-1, 4)
    wh = (gts[:, 2:] - gts[:, :2]).clamp(min=0)
    area = wh[:, 0] * wh[:, 1]
    longer, shorter = wh.max(dim=1).values, wh.min(dim=1).values
    aspect = torch.where(shorter > 0, longer / shorter.clamp(min=1e-9), torch.full_like(longer, math.inf))
    levels = target_level(area, base_scale, len(strides)).tolist() if len(gts) else []
    return pd.DataFrame({"gt": range(len(gts)), "x1": gts[:, 0].tolist(), "y1": gts[:, 1].tolist(),
                         "x2": gts[:, 2].tolist(), "y2": gts[:, 3].tolist(), "width": wh[:, 0].tolist(),
                         "height": wh[:, 1].tolist(), "area": area.tolist(),
                         "sqrt_area": area.sqrt().tolist(), "aspect": aspect.tolist(),
                         "level": [level_name(int(v), strides) for v in levels]})


ORDERS = ("index", "smallest", "largest", "most slender", "squarest")


def order_objects(gts: Tensor, how: str = "index") -> list[int]:
    """The gt indices in the order ``how`` (one of :data:`ORDERS`): by index, by area (smallest or
    largest first), by aspect ratio (most slender or squarest first); ties by index."""
    frame = object_table(gts)
    keys = {"index": frame["gt"], "smallest": frame["area"], "largest": -frame["area"],
            "most slender": -frame["aspect"], "squarest": frame["aspect"]}
    if how not in keys:
        raise InspectorError(f"order objects by one of {ORDERS}, got {how!r}")
    return [int(i) for i in sorted(range(len(frame)), key=lambda i: (float(keys[how][i]), i))]


def _stage_candidates(insp_stage: int, cfg: AssignerConfig, result: AssignResult,
                      alone: list[AssignResult], boxes: Tensor, stage1_boxes: Tensor,
                      grid: LocationGrid, gts: Tensor, base: float) -> list[dict]:
    rows: list[dict] = []
    if not len(gts):
        return rows
    ious = pairwise_overlaps(boxes, gts)                  # (N, M) what this stage compares
    s1_ious = pairwise_overlaps(stage1_boxes, gts)        # (N, M) what the stage-1 boxes reach
    inside = points_in_boxes(grid.centers, gts)           # (N, M) strict
    levels = grid.levels
    gt_levels = target_level(box_area(gts), base, len(grid.strides))
    dist = torch.cdist(grid.centers, box_centres(gts))    # (N, M)
    gt_inds = result.gt_inds
    for g in range(len(gts)):
        passes = alone[g].gt_inds == 1
        order: dict[int, tuple[int, float]] = {}          # location -> (rank, threshold)
        if "candidates" in result.info:                   # SAT, ATSS: read what they compared
            cand = result.info["candidates"][g]
            threshold = float(result.info["thresholds"][g])
            k = cfg.topk
            for j, loc in enumerate(cand.tolist()):
                if loc >= 0:
                    order[loc] = (j % k + 1, threshold)
            extra_rank = None
        elif cfg.type == "max_iou":
            by_iou = ious[:, g].argsort(descending=True, stable=True)
            count = max(SHOWN_NEAREST, int((ious[:, g] >= cfg.min_pos_iou).sum()))
            rank_of = torch.empty_like(by_iou)
            rank_of[by_iou] = torch.arange(1, len(by_iou) + 1)
            for loc in by_iou[:count].tolist():
                order[loc] = (int(rank_of[loc]), float(cfg.pos_iou_thr))
            extra_rank = lambda loc: (int(rank_of[loc]), float(cfg.pos_iou_thr))  # noqa: E731
        else:                                             # the region rules: no IoU compared
            on_level = (levels == gt_levels[g]).nonzero()[:, 0]
            near = on_level[dist[on_level, g].argsort(stable=True)]
            rank_of = {int(loc): r + 1 for r, loc in enumerate(near.tolist())}
            for loc in near[:SHOWN_NEAREST].tolist():
                order[loc] = (rank_of[loc], math.nan)
            extra_rank = lambda loc: (rank_of.get(loc, -1), math.nan)  # noqa: E731
        for loc in (((gt_inds == g + 1) | passes).nonzero()[:, 0]).tolist():
            if loc not in order:
                order[loc] = extra_rank(loc) if extra_rank else (-1, math.nan)
        for loc, (rank, threshold) in order.items():
            owner = int(gt_inds[loc])
            rows.append({
                "gt": g, "stage": insp_stage, "assigner": _RULE_NAMES.get(cfg.type, cfg.type),
                "level": level_name(int(levels[loc]), grid.strides), "location": int(loc),
                "x": float(grid.centers[loc, 0]), "y": float(grid.centers[loc, 1]),
                "iou": float(ious[loc, g]), "stage1_iou": float(s1_ious[loc, g]),
                "rank": int(rank), "threshold": threshold, "passes": bool(passes[loc]),
                "inside": bool(inside[loc, g]), "assigned": owner == g + 1,
                "assigned_to": owner - 1 if owner > 0 else -1,
                "label": "positive" if owner > 0 else ("ignored" if owner < 0 else "negative")})
    return rows


def inspect_sads(image: Any, boxes: Any = None, setting: Any = None, checkpoint: Any = None, *,
                 ignore: Any = None, profile: str = "mini", results_dir: str | Path = "results",
                 size_divisor: int = 32, model_cache: Optional[dict] = None,
                 study: Any = None) -> Inspection:
    """What ``setting`` assigns on ``image``: both stages, every gt, as data.

    Args:
        image: an array ((H, W, 3) or (3, H, W)), a path, or a dataset item ``(image, target)``.
        boxes: (M, 4) xyxy pixel gts; None: the dataset item's (non-crowd) boxes.
        setting: a preset label (:data:`PRESETS`), a study row, or a :class:`Setting`
            (:func:`resolve_setting`); None: the mini profile's SC-RPN.
        checkpoint: None (the priors stand in for the stage-1 boxes), ``(row, seed)``,
            ``"row:seed"``, a path or a model (:func:`load_checkpoint_model`).
        ignore: (K, 4) crowd boxes (default: the dataset item's).
        model_cache: a dict the caller keeps to reuse loaded checkpoints and their outputs.
        study: the study checkpoints of rows are loaded from (default: the profile's, training
            nothing); its profile is then the profile.
    Returns:
        an :class:`Inspection`; its ``candidates`` is the candidate table (a DataFrame).
    Raises:
        InspectorError: one line, for any bad input.
    """
    import pandas as pd

    img, item_gts, item_crowd, _ = load_image(image)
    hw = (int(img.shape[-2]), int(img.shape[-1]))
    gts = check_boxes(item_gts if boxes is None else boxes, hw)
    if not len(gts):
        raise InspectorError("no ground-truth box: type x1, y1, x2, y2, draw one, or pick an "
                             "image with annotations")
    crowd = check_boxes(item_crowd if ignore is None and item_crowd is not None else
                        (ignore if ignore is not None else torch.zeros(0, 4)), hw, "ignore box")
    if study is not None:
        profile, results_dir = study.profile, study.results_dir
    chosen = resolve_setting(setting, profile=profile)
    cache = model_cache if model_cache is not None else {}
    if checkpoint is None:
        head_cfg = _row_config("sc_rpn", profile).model.head
        grid = head_geometry(head_cfg, hw, size_divisor)
        base = level_base_scale(head_cfg.anchor_scale, grid.strides)
        stage1 = grid.priors
        source = "priors"
    else:
        key = ("model", checkpoint if not isinstance(checkpoint, torch.nn.Module) else id(checkpoint))
        if key not in cache:
            cache[key] = load_checkpoint_model(checkpoint, profile, results_dir, study)
        model, size_divisor, source = cache[key]
        out_key = ("outputs", key, hw, hash(img.numpy().tobytes()))
        if out_key not in cache:
            out = run_head(model, img, size_divisor)
            s1 = out.init_boxes[0] if out.stage2_priors is None else out.stage2_priors[0]
            cache[out_key] = (LocationGrid(strides=tuple(model.head.strides),
                                           num_per_level=tuple(int(n) for n in out.num_per_level),
                                           priors=out.priors.detach().cpu(), centers=out.centers.detach().cpu()),
                              s1.detach().cpu().float())
        grid, stage1 = cache[out_key]
        base = float(model.head.base_scale)   # eq. (1)'s base of the head that made the boxes
    assigners = [build_assigner(c, base, grid.strides) for c in (chosen.stage1, chosen.stage2)]
    prior_sets = [PriorSet(grid.priors, grid.centers, list(grid.num_per_level)),
                  PriorSet(stage1, grid.centers, list(grid.num_per_level))]
    ignore_t = crowd if len(crowd) else None
    results = tuple(a.assign_priors(p, gts, ignore_t) for a, p in zip(assigners, prior_sets))
    alone = tuple([a.assign_priors(p, gts[g:g + 1], ignore_t) for g in range(len(gts))]
                  for a, p in zip(assigners, prior_sets))
    rows = []
    for stage, cfg in ((1, chosen.stage1), (2, chosen.stage2)):
        rows += _stage_candidates(stage, cfg, results[stage - 1], alone[stage - 1],
                                  prior_sets[stage - 1].boxes, stage1, grid, gts, base)
    frame = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    frame = frame.sort_values(["gt", "stage", "assigned", "rank"], ascending=[True, True, False, True],
                              kind="stable").reset_index(drop=True)
    return Inspection(image=img, gts=gts, ignore=crowd, setting=chosen, boxes_source=source, grid=grid,
                      stage1_boxes=stage1, base_scale=base, results=results, candidates=frame,
                      alone=alone)


# ---------------------------------------------------------------------------------------------
# A / B
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """The positives (location, gt) of one stage that only A, only B, or both have."""
    stage: int
    only_a: frozenset
    only_b: frozenset
    both: frozenset

    def counts(self, gt: Optional[int] = None) -> tuple[int, int, int]:
        keep = (lambda s: s) if gt is None else (lambda s: {p for p in s if p[1] == gt})
        return len(keep(self.only_a)), len(keep(self.only_b)), len(keep(self.both))

    def sentence(self, gt: Optional[int] = None) -> str:
        a, b, both = self.counts(gt)
        what = "all objects" if gt is None else f"gt {gt}"
        if not a and not b:
            return f"stage {self.stage}, {what}: A and B assign the same {both} positive(s)"
        return (f"stage {self.stage}, {what}: {a} positive(s) only in A, {b} only in B, "
                f"{both} in both")


def compare(a: Inspection, b: Inspection, stage: int = 2) -> Comparison:
    """Line up two inspections of the same image and gts (their locations must agree)."""
    if a.grid.num_per_level != b.grid.num_per_level or not torch.equal(a.gts, b.gts):
        raise InspectorError("A and B must inspect the same image and objects on the same "
                             "locations (their checkpoints have different pyramids)")
    pa, pb = a.positive_pairs(stage), b.positive_pairs(stage)
    return Comparison(stage, frozenset(pa - pb), frozenset(pb - pa), frozenset(pa & pb))


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------

GT_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf")
ONLY_COLOUR = "#ff00ff"   # a positive the other panel does not have
FONT = 11


def gt_colour(g: int) -> str:
    return GT_COLOURS[g % len(GT_COLOURS)]


def default_limits(insp: Inspection, gt: Optional[int], zoom: float = 3.0) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): the whole image, or gt ``gt`` enlarged ``zoom`` times (at least 48 px),
    a square view moved inside the image where it fits."""
    h, w = insp.image_size
    if gt is None:
        return 0.0, float(w), 0.0, float(h)
    x1, y1, x2, y2 = (float(v) for v in insp.gts[gt])
    half = max(zoom * max(x2 - x1, y2 - y1) / 2, 24.0)
    if 2 * half >= max(w, h):
        return 0.0, float(w), 0.0, float(h)

    def inside(c: float, size: int) -> float:
        return min(max(c, half), size - half) if 2 * half <= size else size / 2

    cx, cy = inside((x1 + x2) / 2, w), inside((y1 + y2) / 2, h)
    return cx - half, cx + half, cy - half, cy + half


def _panel(ax: Axes, insp: Inspection, stage: int, gt: Optional[int], limits: Sequence[float],
           only: set, name: str, selected: Optional[int], other_name: str) -> Any:
    h, w = insp.image_size
    img = display_image(insp.image)
    ax.imshow(img, extent=(0, w, h, 0), interpolation="nearest")
    x0, x1, y0, y1 = limits
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.tick_params(labelsize=FONT - 1)
    gt_inds = insp.results[stage - 1].gt_inds
    centres = insp.grid.centers
    boxes = insp.scored_boxes(stage)
    mappable = None
    for g, box in enumerate(insp.gts):
        chosen = gt is None or g == gt
        draw_box(ax, box, "lime" if (gt is not None and g == gt) else gt_colour(g),
                 lw=2.2 if chosen else 0.8, alpha=1.0 if chosen else 0.6)
    for box in insp.ignore:
        draw_box(ax, box, "white", lw=0.8, ls=":")
    if gt is None:  # all objects: every positive, coloured by its gt
        idx = (gt_inds > 0).nonzero()[:, 0]
        colours = [gt_colour(int(gt_inds[i]) - 1) for i in idx]
        if len(idx):
            ax.scatter(centres[idx, 0], centres[idx, 1], s=34, c=colours, edgecolors="k", linewidths=0.6)
        npos = len(idx)
        only_here = [p for p in only]
    else:
        table = insp.table(gt, stage)
        levels = sorted(set(table["level"]))
        for level in levels:
            rows = table[table["level"] == level]
            marker = _LEVEL_MARKERS[levels.index(level) % len(_LEVEL_MARKERS)]
            mappable = ax.scatter(rows["x"], rows["y"], c=rows["iou"], cmap="viridis", vmin=0, vmax=1,
                                  s=46, marker=marker, edgecolors="white", linewidths=0.6)
        pos = (gt_inds == gt + 1).nonzero()[:, 0]
        for i in pos.tolist():
            draw_box(ax, boxes[i], "red", lw=0.9, alpha=0.7)
        if len(pos):
            ax.scatter(centres[pos, 0], centres[pos, 1], s=120, facecolors="none", edgecolors="red",
                       linewidths=2.0)
        npos = len(pos)
        only_here = [p for p in only if p[1] == gt]
    if only_here:
        locs = [p[0] for p in only_here]
        ax.scatter(centres[locs, 0], centres[locs, 1], s=260, marker="s", facecolors="none",
                   edgecolors=ONLY_COLOUR, linewidths=2.4)
    if selected is not None:
        ax.scatter([float(centres[selected, 0])], [float(centres[selected, 1])], s=420, marker="+",
                   c="yellow", linewidths=2.5)
    what = "all objects" if gt is None else f"gt {gt}"
    ax.set_title(f"{name}: {insp.setting.label}\nstage {stage}: {insp.setting.describe(stage)}; "
                 f"boxes: {insp.boxes_source}\n{what}: {npos} positive(s), {len(only_here)} not in "
                 f"{other_name}", fontsize=FONT, loc="left")
    return mappable


@legible
def plot_comparison(a: Inspection, b: Optional[Inspection] = None, *, stage: int = 2,
                    gt: Optional[int] = None, limits: Optional[Sequence[float]] = None,
                    selected: Optional[int] = None, figsize: tuple[float, float] = (10.0, 5.9)) -> Figure:
    """A and B side by side (B omitted: A alone), one stage, one gt (None: all objects).

    Sized for a 1280-px browser at ``dpi`` 100 (:func:`render_comparison`): 1000 px wide (a
    JupyterLab notebook's output width there), 11-pt text.
    Candidates of the gt are coloured by IoU (the colour bar), one marker per level; positives are
    ringed red with their scored box; a magenta square marks a positive the other panel lacks; a
    yellow cross the selected location.
    """
    fig = Figure(figsize=figsize if b is not None else (figsize[0] * 0.55, figsize[1]), layout="constrained")
    fig.get_layout_engine().set(h_pad=0.06)
    panels = [("A", a)] + ([("B", b)] if b is not None else [])
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    lim = tuple(limits) if limits is not None else default_limits(a, gt)
    cmp = compare(a, b, stage) if b is not None else None
    mappable = None
    for ax, (name, insp) in zip(axes, panels):
        only = set() if cmp is None else set(cmp.only_a if name == "A" else cmp.only_b)
        m = _panel(ax, insp, stage, gt, lim, only, name, selected, "B" if name == "A" else "A")
        mappable = mappable or m
    if mappable is not None:
        bar = fig.colorbar(mappable, ax=list(axes), shrink=0.7, pad=0.01)
        bar.set_label("IoU with the gt", fontsize=FONT)
        bar.ax.tick_params(labelsize=FONT - 1)
    handles = [Line2D([], [], ls="", marker="o", mfc="none", mec="red", mew=2, ms=10, label="positive"),
               Line2D([], [], ls="", marker="s", mfc="none", mec=ONLY_COLOUR, mew=2.4, ms=12,
                      label="in this panel only"),
               Line2D([], [], color="lime", lw=2.2, label="selected gt")]
    if gt is not None:
        handles.insert(0, Line2D([], [], ls="", marker="o", color="#3b528b", ms=7,
                                 label="candidate (colour: IoU, marker: level)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=FONT, frameon=False)
    return fig


@legible
def plot_image_only(image: Tensor, titles: Sequence[str] = ("A", "B"),
                    limits: Optional[Sequence[float]] = None,
                    figsize: tuple[float, float] = (10.0, 5.9)) -> Figure:
    """The panels of :func:`plot_comparison` with the image alone: an image without any object
    yet, on which one can be drawn."""
    fig = Figure(figsize=figsize, layout="constrained")
    h, w = int(image.shape[-2]), int(image.shape[-1])
    x0, x1, y0, y1 = limits if limits is not None else (0.0, float(w), 0.0, float(h))
    for ax, title in zip(fig.subplots(1, len(titles), squeeze=False)[0], titles):
        ax.imshow(display_image(image), extent=(0, w, h, 0), interpolation="nearest")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y1, y0)
        ax.tick_params(labelsize=FONT - 1)
        ax.set_title(f"{title}\nno object yet: draw one (mouse: draw a box) or type x1, y1, x2, y2",
                     fontsize=FONT, loc="left")
    return fig


@dataclass
class FigureMap:
    """Pixel -> data coordinates of a rendered figure's panels (for mouse events)."""
    height_px: int
    width_px: int
    panels: list  # [(bbox (x0, y0, x1, y1) in display px, inverse transform)]

    def locate(self, px: float, py: float) -> Optional[tuple[int, float, float]]:
        """(panel index, x, y) in image coordinates of the pixel (px, py) from the top left."""
        dy = self.height_px - py
        for i, (bbox, inverse) in enumerate(self.panels):
            x0, y0, x1, y1 = bbox
            if x0 <= px <= x1 and y0 <= dy <= y1:
                x, y = inverse.transform((px, dy))
                return i, float(x), float(y)
        return None


def render_comparison(fig: Figure, dpi: int = 100) -> tuple[bytes, FigureMap]:
    """PNG bytes and the pixel map of its image panels (the colour bar is not a panel)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    width, height = canvas.get_width_height()
    panels = [((ax.bbox.x0, ax.bbox.y0, ax.bbox.x1, ax.bbox.y1), ax.transData.inverted().frozen())
              for ax in fig.axes if ax.images]
    buf = io.BytesIO()
    canvas.print_png(buf)
    return buf.getvalue(), FigureMap(height, width, panels)


def figure_to_png(fig: Figure, dpi: int = 100) -> bytes:
    return render_comparison(fig, dpi)[0]
