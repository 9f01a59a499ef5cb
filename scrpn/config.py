"""One typed configuration schema for every run: YAML in, validated dataclasses out.

A config file is a (possibly partial) YAML mapping that mirrors the dataclasses below. A file may
name a parent with ``_base_: relative/path.yaml``; the child is deep-merged over the parent (the
mmdetection habit, so that each ablation row is a few lines on top of its reference row).
Command-line overrides use dotted keys (``--set train.max_iters=50 model.head.iou_mask.enabled=false``)
and values parsed as YAML scalars.

Validation is strict: an unknown key, a value of the wrong type or outside its allowed set is
rejected with a message naming the file and the dotted key, before anything is trained. A value
that came from ``--set`` is blamed on that ``--set`` item, not on the file. Three checks apply to
every field at once, whatever its type: keys must be strings, every float (lists included) must be
finite (NaN passes both ``<`` and ``>`` and would slip through any range check), and list fields
declare the type and range of their elements (:func:`_list`). ``tests/test_bad_input.py`` runs
the non-finite check over every float field of the schema.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import yaml

from scrpn.inputs import InputFileError, open_input
from scrpn.outputs import atomic_write_text


# Seeds feed numpy's SeedSequence (non-negative) and torch.manual_seed (at most 2^64 - 1).
SEED_MAX = 2**63 - 1
# Every int of a config (list elements too) is an int64 for torch and numpy.
INT_LIMIT = 2**63 - 1


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the file and the key."""


# Keys added after the first study (issue 17's fidelity switches), with the value every cached run
# was trained with. At that value a key is left out of the fingerprint (scrpn/study/runs.py), so the cached runs in
# results/runs/ stay valid; set to anything else, it changes the fingerprint as any key does.
# ``tests/test_fidelity_switches.py`` checks that every committed run's fingerprint still matches;
# resuming or evaluating a checkpoint saved before a key existed treats it as at its first value.
LATER_KEYS_AT_FIRST_VALUE = {
    "model.head.stage1_dilation": 3,
    "model.head.deform_init": "torch",
    "model.head.clip_stage1": False,
    "model.head.iou_mask.second_sigmoid": "train_and_test",
    **{f"model.head.{stage}.loss_norm": "paper" for stage in ("stage1", "stage2")},
    "model.head.ga.loc_targets": "centre_positive",
    "model.head.point_offset_scale": 1.0,
    **{f"model.head.{name}.assigner.region_rule": "continuous"
       for name in ("stage1", "stage2", "ga")},
    # issue 37: the arithmetic (scrpn/engine/precision.py); every committed run trained in fp32
    "train.precision": "fp32",
    "eval.precision": "train",
}


def _choice(*values: str, default: str) -> Any:
    return field(default=default, metadata={"choices": values})


def _ranged(default: Any, lo: float | None = None, hi: float | None = None,
            above: float | None = None) -> Any:
    """A number in ``[lo, hi]``; ``above``: strictly greater than it (e.g. a clipping norm)."""
    return field(default=default, metadata={"min": lo, "max": hi, "above": above})


def _list(default: list, item: type, lo: float | None = None, above: float | None = None,
          nonempty: bool = True) -> Any:
    """A list field whose elements are ``item`` (int, or float: ints accepted) with ``lo <= v``
    and ``v > above``; elements are validated, never converted (resolved configs stay as
    written)."""
    return field(default_factory=lambda: copy.deepcopy(default),
                 metadata={"item": item, "item_min": lo, "item_above": above, "nonempty": nonempty})


@dataclass
class DataConfig:
    dataset: str = _choice("synthshapes", "coco", "deepforest", default="synthshapes")
    root: Optional[str] = None              # coco: dataset root; others: cache dir (None = default)
    train_split: str = "train"
    val_split: str = "val"
    image_size: int = _ranged(320, 64, 4096)   # synthshapes render size / deepforest tile size
    num_train: int = _ranged(4000, 1)          # synthshapes
    num_val: int = _ranged(500, 1)             # synthshapes
    data_seed: int = _ranged(0, 0, SEED_MAX)   # synthshapes generation seed (fixed splits)
    max_size: list = _list([1333, 800], int, lo=1)  # coco keep-ratio resize
    flip_prob: float = _ranged(0.5, 0.0, 1.0)
    size_divisor: int = _ranged(32, 1)
    num_workers: int = _ranged(0, 0)
    val_limit: Optional[int] = _ranged(None, 1)  # evaluate on the first n val images only


@dataclass
class BackboneConfig:
    name: str = _choice("mobilenet_v2", "resnet50", default="mobilenet_v2")
    fpn_channels: int = _ranged(64, 8)
    # true (ImageNet weights, resolved offline), false, or the path of a state dict; strictly a
    # bool or a non-empty string: 0, [] or "" are refused, never read by truthiness
    pretrained: Union[bool, str] = True
    frozen_stages: int = _ranged(1, -1, 4)


@dataclass
class AssignerConfig:
    type: str = _choice("max_iou", "positive_region", "size_aware_threshold", "region", "atss",
                       default="max_iou")
    pos_iou_thr: float = _ranged(0.7, 0.0, 1.0)
    neg_iou_thr: float = _ranged(0.3, 0.0, 1.0)
    min_pos_iou: float = _ranged(0.3, 0.0, 1.0)
    match_low_quality: bool = True
    ignore_iof_thr: float = -1.0
    center_ratio: float = _ranged(0.2, 0.0, 1.0)   # PosR sigma / region assigner centre ratio
    ignore_ratio: float = _ranged(0.5, 0.0, 1.0)   # region assigner (Cascade RPN)
    topk: int = _ranged(9, 1)                      # SAT k (and ATSS's k: no study row uses ATSS)
    num_levels: int = _ranged(2, 1, 5)             # SAT N
    # PosR's centre region: 'continuous' (|x - cx| <= sigma w / 2, nearest-location fallback) or
    # 'rounded' (mmdetection's center_ratio region, rounded to whole cells of the gt's level, as
    # the region assigner does). Fidelity switch, issue 17; see sampling/positive_region.py.
    region_rule: str = _choice("continuous", "rounded", default="continuous")


@dataclass
class SamplerConfig:
    num: int = _ranged(256, 1)
    pos_fraction: float = _ranged(0.5, 0.0, 1.0)


@dataclass
class StageConfig:
    """What one stage learns: its assigner, its sampler (classification samples) and its losses."""
    assigner: AssignerConfig = field(default_factory=AssignerConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    cls_weight: float = _ranged(1.0, 0.0)         # 0 = this stage has no classification branch
    reg_loss: str = _choice("l1", "smooth_l1", "iou", "iou_log", default="l1")
    reg_weight: float = _ranged(1.0, 0.0)
    target_stds: list = _list([1.0, 1.0, 1.0, 1.0], float, above=0.0)
    smooth_l1_beta: float = _ranged(1.0 / 9.0, 0.0)  # reg_loss smooth_l1 (GA-RPN: 1.0)
    # Loss normalisers: 'paper' (eqs. 4-7: IoU losses / positives, all positives regressed) or
    # 'mmdet' (mmdetection's heads: a sampled stage regresses its sampled positives and divides
    # both losses by the sampled count; a stage without sampling divides by #priors / 200).
    # Fidelity switch, issue 17; see models/heads/blocks.py.
    loss_norm: str = _choice("paper", "mmdet", default="paper")


@dataclass
class GuidedAnchorConfig:
    """GA-RPN's own parts (``model.head.type: ga_rpn``, scrpn/models/heads/ga_rpn.py).

    The approximate anchors are ``anchor_ratios`` x ``scales_per_octave`` scales from
    ``anchor_scale`` (mmdetection: octave base scale 8, 3 scales, ratios 0.5 / 1 / 2); the RPN
    part (classification + regression on the guided anchors) is configured by ``stage1``.
    """
    scales_per_octave: int = _ranged(3, 1)
    center_ratio: float = _ranged(0.2, 0.0, 1.0)       # location targets: positive region
    ignore_ratio: float = _ranged(0.5, 0.0, 1.0)       # location targets: ignore region
    neg_loc_weight: float = _ranged(0.1, 0.0)          # weight of negative locations
    loc_weight: float = _ranged(1.0, 0.0)
    focal_alpha: float = _ranged(0.25, 0.0, 1.0)
    focal_gamma: float = _ranged(2.0, 0.0)
    shape_weight: float = _ranged(1.0, 0.0)
    bounded_iou_beta: float = _ranged(0.2, 0.0)
    anchoring_stds: list = _list([0.07, 0.07, 0.14, 0.14], float, above=0.0)
    assigner: AssignerConfig = field(default_factory=AssignerConfig)   # approx Max-IoU 0.7 / 0.3
    sampler: SamplerConfig = field(default_factory=SamplerConfig)      # shape samples 256 / 0.5
    deform_groups: int = _ranged(4, 1)
    loc_filter_thr: float = _ranged(0.01, 0.0, 1.0)    # test: keep locations with p_loc >= thr
    # The location targets' polarity: 'centre_positive' (GA-RPN's paper, mmdetection 1.x) or
    # 'mmdet3_inverted' (what mmdetection 3.3's loss_loc_single computes: FocalLoss reads label 1
    # as background, so centres train as negatives; docs/parity.md). Issue 17.
    loc_targets: str = _choice("centre_positive", "mmdet3_inverted", default="centre_positive")


@dataclass
class IoUMaskConfig:
    enabled: bool = False
    feature: str = _choice("reg", "cls", "fused", default="reg")
    samples: str = _choice("classification", "regression", "regression_and_negatives",
                           default="classification")
    weight: float = _ranged(1.0, 0.0)
    test_with: bool = True                          # IoU-aware score at test time
    double_sigmoid: bool = True
    # Where the second sigmoid acts (double_sigmoid only): 'train_and_test' (the literal reading:
    # BCE on sigmoid(sigmoid(x))) or 'test_only' (BCE on sigmoid(x), the second sigmoid only in the
    # IoU-aware score). Fidelity switch, issue 17; see models/heads/iou_mask.py.
    second_sigmoid: str = _choice("train_and_test", "test_only", default="train_and_test")


@dataclass
class HeadConfig:
    type: str = _choice("two_stage", "ga_rpn", default="two_stage")
    representation: str = _choice("anchor", "point", default="anchor")
    anchor_scale: float = _ranged(8.0, 0.5)         # octave base scale; level rule base = scale*4
    anchor_ratios: list = _list([0.5, 1.0, 2.0], float, above=0.0)
    num_points: int = _ranged(9, 9, 9)
    feat_channels: int = _ranged(64, 8)
    num_stages: int = _ranged(1, 1, 2)
    stage1_conv: str = _choice("conv", "dilation", default="conv")
    # Dilation of stage1_conv 'dilation' (Cascade RPN: 3, fitted to scale-8 anchors); 0 = the
    # dilation whose taps sit where box_to_offsets puts them for the location's own prior
    # (round(anchor_scale / 2)). Fidelity switch, issue 17.
    stage1_dilation: int = _ranged(3, 0, 16)
    # Init of the adaptive / deformable convolutions (alignment, GA-RPN's feature adaption):
    # 'torch' (PyTorch's default, with a bias) or 'mmdet' (Normal(0, 0.01), no bias).
    deform_init: str = _choice("torch", "mmdet", default="torch")
    # Clip the detached stage-1 boxes to the image before stage 2 reads and assigns them
    # (mmdetection decodes them with max_shape). Fidelity switch, issue 17.
    clip_stage1: bool = False
    # Point heads: stage 2's secondary offsets are multiplied by this before they are added to
    # the init offsets (1.0: RepPoints' refined = init + secondary). An analogue of the anchor
    # deltas' target stds, which scale stage 2's deltas down; issue 18, experiment 6, arm P2.
    point_offset_scale: float = _ranged(1.0, 0.01, 10.0)
    alignment: str = _choice("none", "offset", "point", default="none")
    deform_impl: str = _choice("auto", "fast", "torchvision", default="auto")
    point_gradient_mul: float = _ranged(0.1, 0.0, 1.0)
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=lambda: StageConfig(
        assigner=AssignerConfig(pos_iou_thr=0.7, neg_iou_thr=0.7, min_pos_iou=0.3),
        reg_loss="iou", reg_weight=10.0))
    iou_mask: IoUMaskConfig = field(default_factory=IoUMaskConfig)
    ga: GuidedAnchorConfig = field(default_factory=GuidedAnchorConfig)


@dataclass
class TestConfig:
    nms_pre: int = _ranged(2000, 1)
    nms_thr: float = _ranged(0.7, 0.0, 1.0)
    max_per_img: int = _ranged(1000, 1)
    cross_level_nms: bool = False
    cross_level_nms_thr: float = _ranged(0.8, 0.0, 1.0)
    min_bbox_size: float = _ranged(0.0, 0.0)


@dataclass
class ModelConfig:
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    test: TestConfig = field(default_factory=TestConfig)


@dataclass
class TrainConfig:
    batch_size: int = _ranged(4, 1)
    base_lr: float = _ranged(0.005, 0.0)            # at base_batch_size (the paper: 0.005 at 4)
    base_batch_size: int = _ranged(4, 1)            # linear scaling rule: lr = base_lr * bs / base
    momentum: float = _ranged(0.9, 0.0, 1.0)
    weight_decay: float = _ranged(1e-4, 0.0)
    by_epoch: bool = False                          # schedule unit: epochs (COCO) or iterations
    max_epochs: int = _ranged(12, 1)
    max_iters: int = _ranged(1000, 1)
    lr_steps: list = _list([8, 11], int, lo=0, nonempty=False)   # in the schedule's unit
    lr_gamma: float = _ranged(0.1, 0.0, 1.0)
    warmup_iters: int = _ranged(500, 0)
    warmup_ratio: float = _ranged(0.001, 0.0, 1.0)
    grad_clip: Optional[float] = _ranged(None, above=0.0)  # max gradient norm; None = no clipping
    checkpoint_interval: int = _ranged(0, 0)        # iterations; 0 = only at the end/interrupt
    log_interval: int = _ranged(10, 1)
    seed: int = _ranged(0, 0, SEED_MAX)
    deterministic: bool = True
    num_threads: int = _ranged(0, 0)                # torch threads; 0 = leave torch's default
    amp: bool = False                               # mixed precision (autocast + GradScaler), CUDA only
    # the arithmetic of the forward pass (issue 37, scrpn/engine/precision.py): fp32, or bf16 under
    # torch.autocast (CPU: needs avx512_bf16 / amx; CUDA: autocast there). Part of the fingerprint
    # (left out at fp32, the value every committed run trained with)
    precision: str = _choice("fp32", "bf16", default="fp32")
    # speed only (scrpn/engine/memory_format.py): NHWC strides for convolutions; not in fingerprints
    memory_format: str = _choice("contiguous", "channels_last", default="contiguous")
    # speed only (scrpn/engine/seeding.py::configure_torch): false leaves torch's deterministic mode
    # off on CPU-only machines, where it changes no result but slows indexing backward passes
    cpu_deterministic_kernels: bool = True


@dataclass
class EvalConfig:
    max_dets: list = _list([100, 300, 1000], int, lo=1)   # must contain 100 (AR_S/M/L)
    timing_images: int = _ranged(20, 0)             # images timed for seconds_per_image
    # the arithmetic at evaluation (issue 37): ``train`` = train.precision's
    precision: str = _choice("train", "fp32", "bf16", default="train")


@dataclass
class DetectorConfig:
    """An R-CNN detector on top of the proposals (Tables II and IX); ``type: none`` = proposals only.

    ``faster_rcnn`` / ``double_head`` / ``cascade_rcnn`` train end to end with the configured
    proposal head in place of RPN; ``fast_rcnn`` trains backbone + RoI head on precomputed
    proposals read from ``train_proposals`` / ``val_proposals`` (files written by
    ``scrpn evaluate --dump-proposals``). See ``scrpn/detectors/``.
    """
    type: str = _choice("none", "faster_rcnn", "fast_rcnn", "double_head", "cascade_rcnn",
                        default="none")
    num_classes: int = _ranged(0, 0)              # 0 = the dataset's (synthshapes 8, coco 80)
    num_proposals: int = _ranged(1000, 1)         # per image, at train and test
    pos_iou_thr: float = _ranged(0.5, 0.0, 1.0)   # R-CNN Max-IoU (pos = neg = min_pos thr)
    sampler: SamplerConfig = field(default_factory=lambda: SamplerConfig(num=512, pos_fraction=0.25))
    add_gt_as_proposals: bool = True
    roi_size: int = _ranged(7, 1)
    sampling_ratio: int = _ranged(2, 0)           # RoIAlign samples per bin (0 = adaptive)
    finest_scale: float = _ranged(56.0, 1.0)      # RoI level rule: floor(log2(sqrt(area) / s))
    fc_channels: int = _ranged(1024, 8)
    num_fcs: int = _ranged(2, 1)
    conv_channels: int = _ranged(1024, 8)         # double head: width of the conv (box) branch
    num_convs: int = _ranged(4, 0)                # double head: bottleneck blocks after the first
    reg_roi_scale: float = _ranged(1.3, 1.0)      # double head: box branch reads enlarged RoIs
    reg_class_agnostic: bool = False              # cascade stages are always class agnostic
    target_stds: list = _list([0.1, 0.1, 0.2, 0.2], float, above=0.0)
    reg_loss: str = _choice("l1", "smooth_l1", default="l1")
    smooth_l1_beta: float = _ranged(1.0, 0.0)
    cls_weight: float = _ranged(1.0, 0.0)
    reg_weight: float = _ranged(1.0, 0.0)
    cascade_iou_thrs: list = field(default_factory=lambda: [0.5, 0.6, 0.7])
    cascade_stds: list = field(default_factory=lambda: [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                                                        [0.033, 0.033, 0.067, 0.067]])
    cascade_loss_weights: list = field(default_factory=lambda: [1.0, 0.5, 0.25])
    score_thr: float = _ranged(0.05, 0.0, 1.0)
    nms_thr: float = _ranged(0.5, 0.0, 1.0)
    max_per_img: int = _ranged(100, 1)
    train_proposals: Optional[str] = None         # fast_rcnn: proposals json of the train split
    val_proposals: Optional[str] = None           # fast_rcnn: proposals json of the val split


@dataclass
class Config:
    name: str = "unnamed"
    profile: str = _choice("smoke", "mini", "full", default="mini")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)

    @property
    def level_base_scale(self) -> float:
        """Base of the level rule: anchor scale x finest stride (8 x 4 = 32 gives the paper's eq. 1)."""
        from scrpn.pyramid import level_base_scale  # late: the schema imports nothing heavy
        return level_base_scale(self.model.head.anchor_scale)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------
# Loading, merging, overriding
# ----------------------------------------------------------------------------------------------

# A config is a few hundred values; these bounds are far above any real one and keep a hostile
# file cheap: YAML aliases can make a 475-byte file expand to 10^9 values (every walk of the
# parsed tree would then take minutes), and a self-referencing alias makes an infinite tree.
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML silently keeps
    the last) and reads plain scalars as YAML 1.2's core schema does: booleans are only
    ``true`` / ``false``, integers only decimal (``1:30`` is no longer 90, ``010`` no longer 8),
    floats need a dot or an exponent (``1e-4`` is a float, not a string), and dates stay
    strings. A word like ``yes`` or ``off`` is then a string, which a bool field refuses.
    Pinned by ``tests/test_bad_input_config.py``."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node,
                                                                               yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} appears twice in one mapping (line "
                        f"{first_line[key]} and line {line}; the second would silently replace "
                        "the first)", key_node.start_mark)
                first_line[key] = line
        return super().construct_mapping(node, deep)


_YAML11_ONLY = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:timestamp"}
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in entries if tag not in _YAML11_ONLY]
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_StrictLoader.add_constructor(  # decimal only: '010' is 10 (YAML 1.1 read it as octal 8)
    "tag:yaml.org,2002:int", lambda loader, node: int(loader.construct_scalar(node), 10))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?$"
               r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."))


def _expanded_size(root: yaml.Node) -> int:
    """Number of nodes of the tree ``root`` stands for once every alias is expanded, each shared
    node counted once per use but visited once; raises ``yaml.YAMLError`` for a tree deeper than
    :data:`MAX_YAML_DEPTH` or an alias inside the node it names (an infinite tree)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()   # the nodes on the path from the root to the current one

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise yaml.composer.ComposerError(
                None, None, "an alias refers to a node that contains it (an infinite tree)",
                node.start_mark)
        if depth > MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", node.start_mark)
        open_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        else:
            total = 1
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    return size(root, 0)


def parse_yaml(text: str) -> Any:
    """Parse one YAML document with :class:`_StrictLoader`, refusing (``yaml.YAMLError``) a
    document that aliases expand to more than :data:`MAX_YAML_NODES` values or nest deeper than
    :data:`MAX_YAML_DEPTH` levels, before any of it is built."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        total = _expanded_size(node)
        if total > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"aliases expand it to {total:,} values, more than the "
                f"{MAX_YAML_NODES:,} a config may hold", node.start_mark)
        return loader.construct_document(node)
    except RecursionError as exc:  # PyYAML's composer recurses once per nesting level
        raise yaml.YAMLError("nested deeper than Python's recursion limit") from exc
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError, IndexError) as exc:
        # an explicit tag on a value it cannot read: '!!int abc', '!!timestamp junk'
        raise yaml.YAMLError(f"cannot read a value: {' '.join(str(exc).split())}") from exc
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> dict:
    try:  # a directory or a FIFO is named as such (a FIFO is never opened blocking)
        with open_input(path) as stream:
            data = parse_yaml(stream.read().decode("utf-8"))
    except InputFileError as exc:
        raise ConfigError(f"{path}: config file {exc.problem}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.start}: "
                          f"{exc.reason})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML{_yaml_problem(exc)}") from exc
    if data is None:  # an empty file (or comments only) would silently train with every default
        raise ConfigError(f"{path}: the config file is empty (write '{{}}' for all defaults)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: where, then what."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
    what = " ".join(str(part) for part in (getattr(exc, "context", None),
                                           getattr(exc, "problem", None)) if part)
    return f"{where}: {what or ' '.join(str(exc).split())}"


def deep_merge(base: dict, override: dict) -> dict:
    """Return ``base`` updated recursively by ``override`` (mappings merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_raw(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a YAML file and resolve its ``_base_`` chain (paths relative to the file)."""
    return load_raw_with_sources(path, _seen)[0]


def leaf_sources(tree: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, str]:
    """``{dotted key: source}`` for every leaf of ``tree`` (a list is a leaf, as in the schema)."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(leaf_sources(value, source, dotted + "."))
        else:
            out[dotted] = source
    return out


def merge_with_sources(base: tuple[dict, dict[str, str]], layer: dict, source: str
                       ) -> tuple[dict, dict[str, str]]:
    """``deep_merge`` that also records, per leaf, the source that set it last."""
    raw, sources = base
    sources = {k: v for k, v in sources.items()
               if not any(k == d or k.startswith(d + ".") for d in _replaced(raw, layer))}
    sources.update(leaf_sources(layer, source))
    return deep_merge(raw, layer), sources


def _replaced(base: dict, layer: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose whole subtree ``layer`` replaces (a non-mapping over a mapping)."""
    out = []
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out += _replaced(base[key], value, f"{prefix}{key}.")
        elif key in base:
            out.append(f"{prefix}{key}")
    return out


def load_raw_with_sources(path: str | Path, _seen: tuple = ()) -> tuple[dict, dict[str, str]]:
    """:func:`load_raw` plus, for every leaf, the file that set it (``scrpn config show``)."""
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"{path}: circular _base_ chain")
    data = _read_yaml(path)
    base = data.pop("_base_", None)
    if base is None:
        return data, leaf_sources(data, str(path))
    bases = base if isinstance(base, list) else [base]
    if not bases or not all(isinstance(b, str) and b for b in bases):
        raise ConfigError(f"{path}: '_base_' must be a file path or a list of file paths, "
                          f"got {base!r}")
    merged: tuple[dict, dict[str, str]] = ({}, {})
    for b in bases:
        raw, sources = load_raw_with_sources(path.parent / b, _seen + (path,))
        merged = (deep_merge(merged[0], raw), {**merged[1], **sources})
    return merge_with_sources(merged, data, str(path))


def parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value")
    key, raw = item.split("=", 1)
    try:
        value = parse_yaml(raw) if raw != "" else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {item}: cannot parse the value{_yaml_problem(exc)}") from exc
    return key.strip().split("."), value


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    out = copy.deepcopy(raw)
    for item in overrides:
        keys, value = parse_override(item)
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: '{k}' is not a section")
        node[keys[-1]] = value
    return out


def _as_float(value: Any) -> Any:
    """An int given for a float field becomes that float; an int beyond the float range (1 and
    400 zeros) raises ``OverflowError``. Nothing else is converted: a string stays a string and
    is refused as the wrong type (``1e-4`` is a float already, see :class:`_StrictLoader`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _type_ok(value: Any, annotation: Any) -> bool:
    """Strict types, no truthiness: a bool is not an int, an int is a float only for float
    fields, a string must be non-empty where the field takes a path or a string besides a bool.
    A schema annotation this function does not know is a programming error."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation is list:
        return isinstance(value, list)
    raise TypeError(f"config schema: no type check for {annotation!r}")


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    return "null" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


Source = Union[str, Callable[[str], str]]


class Provenance:
    """Names the input a dotted key came from, from the per-key sources that
    :func:`merge_with_sources` records (``{dotted leaf: file or '--set item'}``): the key's own
    source, else that of a ``--set`` item (the last one) or a file below it, else that of a
    section above it, else ``fallback``. Errors, cross-field checks included, and
    ``scrpn config show`` name what this returns (``tests/test_bad_input_config.py``)."""

    def __init__(self, sources: Mapping[str, str], fallback: str,
                 rename: Optional[Mapping[str, str]] = None) -> None:
        self.sources, self.fallback, self.rename = dict(sources), fallback, dict(rename or {})

    def __call__(self, key: str) -> str:
        return self.rename.get(self._find(key), self._find(key))

    def __str__(self) -> str:  # a check written as f"{source}: ..." still names an input
        return self("")

    def _find(self, key: str) -> str:
        if not key:
            return self.fallback
        if key in self.sources:
            return self.sources[key]
        below = [s for k, s in self.sources.items() if k.startswith(key + ".")]
        from_set = [s for s in below if s.startswith("--set ")]
        if from_set or below:
            return (from_set or below)[-1]
        parts = key.split(".")
        for end in range(len(parts) - 1, 0, -1):
            above = ".".join(parts[:end])
            if above in self.sources:
                return self.sources[above]
        return self.fallback


def _where(source: Source, key: str) -> str:
    return source(key) if callable(source) else source


def _blame(source: Source, *keys: str) -> str:
    """The input to blame for a check across ``keys``: the ``--set`` items among their sources
    (a value the user just typed is the likelier mistake), else the first key's source."""
    found = list(dict.fromkeys(_where(source, key) for key in keys))
    typed = [s for s in found if s.startswith("--set ")]
    return ", ".join(typed) if typed else found[0]


def _non_finite(value: Any) -> Any:
    """The first NaN or infinite float in ``value`` (a number or nested lists), else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    if isinstance(value, list):
        for item in value:
            bad = _non_finite(item)
            if bad is not None:
                return bad
    return None


def _build(cls: type, raw: dict, where: str, source: Source) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{_where(source, where)}: '{where or 'config'}' must be a mapping, "
                          f"got {raw!r}")
    not_names = [k for k in raw if not isinstance(k, str)]
    if not_names:
        raise ConfigError(f"{_where(source, where)}: key {not_names[0]!r} in '{where or 'config'}' "
                          "is not a name (keys are strings)")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"{_where(source, key)}: unknown key '{key}' "
                          f"(allowed here: {', '.join(sorted(fields))})")
    kwargs = {}
    default_obj = cls()
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name not in raw:
            continue
        value, hint = raw[name], hints[name]
        if dataclasses.is_dataclass(hint):
            base = dataclasses.asdict(getattr(default_obj, name))
            kwargs[name] = _build(hint, deep_merge(base, value) if isinstance(value, dict) else value,
                                  key, source)
            continue
        origin = _where(source, key)
        if hint in (float, Optional[float]):
            try:
                value = _as_float(value)
            except OverflowError:
                raise ConfigError(f"{origin}: '{key}' = {_short(value)} is beyond the range of a "
                                  "float") from None
        if not _type_ok(value, hint):
            raise ConfigError(f"{origin}: '{key}' has the wrong type: {_short(value)} "
                              f"(expected {_type_name(hint)})")
        if value == "" and str in typing.get_args(hint) and bool in typing.get_args(hint):
            raise ConfigError(f"{origin}: '{key}' is an empty string (expected true, false or "
                              "a file path)")
        bad = _non_finite(value)
        if bad is not None:
            raise ConfigError(f"{origin}: '{key}' = {value!r} is not a finite number")
        _check_int_limit(value, key, origin)
        _check_meta(f, value, key, origin)
        kwargs[name] = value
    return cls(**kwargs)


def _short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters (an int of 400 digits would fill the screen)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...({len(text)} characters)"


def _check_int_limit(value: Any, key: str, source: str) -> None:
    """Every int, in lists too, within the int64 range of torch and numpy (1 followed by 400
    zeros would otherwise pass its range check and fail hours later, inside evaluation)."""
    if isinstance(value, list):
        for pos, item in enumerate(value):
            _check_int_limit(item, f"{key}[{pos}]", source)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_LIMIT:
        raise ConfigError(f"{source}: '{key}' = {_short(value)} is beyond the 64-bit integer "
                          f"range (|value| <= {INT_LIMIT})")


def _check_meta(f: dataclasses.Field, value: Any, key: str, source: str) -> None:
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{source}: '{key}' = {value!r} is not one of {list(choices)}")
    lo, hi, above = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("above")
    if value is not None and lo is not None and value < lo:
        raise ConfigError(f"{source}: '{key}' = {value!r} is below its minimum {lo}")
    if value is not None and hi is not None and value > hi:
        raise ConfigError(f"{source}: '{key}' = {value!r} is above its maximum {hi}")
    if value is not None and above is not None and not value > above:
        raise ConfigError(f"{source}: '{key}' = {value!r} must be greater than {above}")
    if "item" in f.metadata:
        _check_items(f.metadata, value, key, source)


def _check_items(meta: Mapping[str, Any], values: list, key: str, source: str) -> None:
    """Elements of a list field (:func:`_list`): their type, then their range."""
    item = meta["item"]
    if meta["nonempty"] and not values:
        raise ConfigError(f"{source}: '{key}' must not be empty")
    for pos, value in enumerate(values):
        if not _type_ok(value, item):
            raise ConfigError(f"{source}: '{key}[{pos}]' = {value!r} has the wrong type "
                              f"(expected {item.__name__})")
        lo, above = meta["item_min"], meta["item_above"]
        if lo is not None and value < lo:
            raise ConfigError(f"{source}: '{key}[{pos}]' = {value!r} is below its minimum {lo}")
        if above is not None and not value > above:
            raise ConfigError(f"{source}: '{key}[{pos}]' = {value!r} must be greater than {above}")


def _check_consistency(cfg: Config, source: Source) -> None:
    """Checks across fields; each error names the input that set the keys involved
    (:func:`_blame`: a ``--set`` item rather than the file when one of them came from it)."""
    def at(*keys: str) -> str:
        return _blame(source, *keys)

    head = cfg.model.head
    if 100 not in cfg.eval.max_dets:
        raise ConfigError(f"{at('eval.max_dets')}: 'eval.max_dets' must contain 100 (the paper's "
                          f"AR_S / AR_M / AR_L are computed at 100 proposals), got "
                          f"{cfg.eval.max_dets}")
    for stage in ("stage1", "stage2"):
        if head.representation == "point" and not getattr(head, stage).reg_loss.startswith("iou"):
            raise ConfigError(f"{at(f'model.head.{stage}.reg_loss', 'model.head.representation')}"
                              f": point representation needs 'model.head.{stage}.reg_loss: "
                              "iou' (points have no delta encoding)")
    if len(head.anchor_ratios) != 1 and (head.alignment != "none"
                                         or head.stage1.assigner.type == "positive_region"):
        raise ConfigError(f"{at('model.head.anchor_ratios', 'model.head.alignment', 'model.head.stage1.assigner.type')}"
                          ": alignment and the Positive Region assigner work on one prior "
                          "per location: set 'model.head.anchor_ratios: [1.0]'")
    if head.alignment == "point" and head.representation != "point":
        raise ConfigError(f"{at('model.head.alignment', 'model.head.representation')}: "
                          "'model.head.alignment: point' needs representation 'point'")
    if head.num_stages == 1 and head.stage1.cls_weight <= 0:
        raise ConfigError(f"{at('model.head.num_stages', 'model.head.stage1.cls_weight')}: a "
                          "one-stage head needs 'model.head.stage1.cls_weight' > 0")
    if head.num_stages == 1 and (head.alignment != "none" or head.iou_mask.enabled):
        raise ConfigError(f"{at('model.head.num_stages', 'model.head.alignment', 'model.head.iou_mask.enabled')}"
                          ": alignment and the IoU mask need 'model.head.num_stages: 2'")
    if head.type == "ga_rpn":
        _check_ga_rpn(head, at)
    _check_fidelity_switches(head, at)
    if head.stage1.assigner.type == "size_aware_threshold":
        raise ConfigError(f"{at('model.head.stage1.assigner.type')}: the Size-Aware Threshold "
                          "assigner needs init proposals: use it in stage 2 only")
    if head.num_stages == 2 and head.stage2.assigner.type in ("positive_region", "region"):
        raise ConfigError(f"{at('model.head.stage2.assigner.type', 'model.head.num_stages')}: "
                          "stage 2 takes 'max_iou', 'size_aware_threshold' or 'atss'")
    if len(cfg.data.max_size) != 2:
        raise ConfigError(f"{at('data.max_size')}: 'data.max_size' must be "
                          "[long_side, short_side]")
    for stage in ("stage1", "stage2"):
        if len(getattr(head, stage).target_stds) != 4:
            raise ConfigError(f"{at(f'model.head.{stage}.target_stds')}: "
                              f"'model.head.{stage}.target_stds' must have 4 numbers")
    if head.representation == "point" and len(head.anchor_ratios) != 1:
        raise ConfigError(f"{at('model.head.anchor_ratios', 'model.head.representation')}: point "
                          "representation uses one square prior per location: set "
                          "'model.head.anchor_ratios: [1.0]'")
    _check_detector(cfg.detector, at)
    if cfg.train.amp and cfg.train.precision == "bf16":
        raise ConfigError(f"{at('train.amp', 'train.precision')}: 'train.amp' (float16 with a "
                          "GradScaler, CUDA) and 'train.precision: bf16' are two mixed "
                          "precisions: choose one")


Blame = Callable[..., str]


def _check_fidelity_switches(head: HeadConfig, at: Blame) -> None:
    """The issue-17 switches only where they act, so that a row never carries a dead setting."""
    h = "model.head"
    if head.iou_mask.second_sigmoid == "test_only" and not head.iou_mask.double_sigmoid:
        raise ConfigError(f"{at(f'{h}.iou_mask.second_sigmoid', f'{h}.iou_mask.double_sigmoid')}: "
                          "'model.head.iou_mask.second_sigmoid: test_only' needs "
                          "'double_sigmoid: true' (with one sigmoid there is no second one)")
    if head.stage1_dilation != 3 and head.stage1_conv != "dilation":
        raise ConfigError(f"{at(f'{h}.stage1_dilation', f'{h}.stage1_conv')}: "
                          "'model.head.stage1_dilation' acts only with 'stage1_conv: dilation'")
    if head.point_offset_scale != 1.0 and (head.num_stages != 2 or head.representation != "point"):
        raise ConfigError(f"{at(f'{h}.point_offset_scale', f'{h}.num_stages', f'{h}.representation')}"
                          ": 'model.head.point_offset_scale' scales stage 2's secondary "
                          "offsets of a two-stage point head; this head has none")
    if head.clip_stage1 and (head.num_stages != 2 or head.representation != "anchor"):
        raise ConfigError(f"{at(f'{h}.clip_stage1', f'{h}.num_stages', f'{h}.representation')}: "
                          "'model.head.clip_stage1' needs a two-stage anchor head "
                          "(point sets are not boxes before stage 2)")
    for name, assigner in (("stage1", head.stage1.assigner), ("stage2", head.stage2.assigner),
                           ("ga", head.ga.assigner)):
        if assigner.region_rule != "continuous" and assigner.type != "positive_region":
            raise ConfigError(f"{at(f'{h}.{name}.assigner.region_rule', f'{h}.{name}.assigner.type')}"
                              f": 'model.head.{name}.assigner.region_rule' acts only "
                              "with the positive_region assigner")


def _check_ga_rpn(head: HeadConfig, at: Blame) -> None:
    """GA-RPN is one stage of RPN on guided anchors: the two-stage switches do not apply to it."""
    h = "model.head"
    if (head.representation != "anchor" or head.num_stages != 1 or head.alignment != "none"
            or head.stage1_conv != "conv" or head.iou_mask.enabled):
        raise ConfigError(f"{at(f'{h}.type', f'{h}.representation', f'{h}.num_stages', f'{h}.alignment', f'{h}.stage1_conv', f'{h}.iou_mask.enabled')}"
                          ": 'model.head.type: ga_rpn' needs representation anchor, "
                          "num_stages 1, stage1_conv conv, alignment none and no IoU mask")
    if head.stage1.assigner.type != "max_iou" or head.ga.assigner.type != "max_iou":
        raise ConfigError(f"{at(f'{h}.type', f'{h}.stage1.assigner.type', f'{h}.ga.assigner.type')}"
                          ": GA-RPN assigns with Max-IoU: 'model.head.stage1.assigner' and "
                          "'model.head.ga.assigner' need type max_iou")
    if head.stage1.reg_loss not in ("l1", "smooth_l1"):
        raise ConfigError(f"{at(f'{h}.type', f'{h}.stage1.reg_loss')}: GA-RPN regresses deltas "
                          "of the guided anchors: 'model.head.stage1.reg_loss' must be l1 or "
                          "smooth_l1")
    if len(head.ga.anchoring_stds) != 4:
        raise ConfigError(f"{at(f'{h}.ga.anchoring_stds')}: 'model.head.ga.anchoring_stds' must "
                          "have 4 numbers")
    if head.feat_channels % head.ga.deform_groups != 0:
        raise ConfigError(f"{at(f'{h}.feat_channels', f'{h}.ga.deform_groups')}: "
                          "'model.head.feat_channels' must be divisible by "
                          "'model.head.ga.deform_groups'")


def _check_detector(det: DetectorConfig, at: Blame) -> None:
    def numbers(values: Any, n: int) -> bool:
        return (isinstance(values, list) and len(values) == n
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values))

    if len(det.target_stds) != 4:
        raise ConfigError(f"{at('detector.target_stds')}: 'detector.target_stds' must be 4 "
                          "positive numbers")
    stages = len(det.cascade_iou_thrs)
    if stages < 1 or not numbers(det.cascade_iou_thrs, stages) or not all(
            0.0 < v <= 1.0 for v in det.cascade_iou_thrs):
        raise ConfigError(f"{at('detector.cascade_iou_thrs')}: 'detector.cascade_iou_thrs' must "
                          "be IoUs in (0, 1]")
    if not numbers(det.cascade_loss_weights, stages):
        raise ConfigError(f"{at('detector.cascade_loss_weights', 'detector.cascade_iou_thrs')}: "
                          f"'detector.cascade_loss_weights' needs one number per stage ({stages})")
    if (not isinstance(det.cascade_stds, list) or len(det.cascade_stds) != stages
            or not all(numbers(s, 4) and min(s) > 0 for s in det.cascade_stds)):
        raise ConfigError(f"{at('detector.cascade_stds', 'detector.cascade_iou_thrs')}: "
                          f"'detector.cascade_stds' needs 4 positive stds per stage ({stages})")
    if det.type == "fast_rcnn" and not (det.train_proposals and det.val_proposals):
        raise ConfigError(f"{at('detector.type', 'detector.train_proposals', 'detector.val_proposals')}"
                          ": 'detector.type: fast_rcnn' needs 'detector.train_proposals' "
                          "and 'detector.val_proposals' (write them with `scrpn evaluate "
                          "--dump-proposals`)")


def config_from_dict(raw: dict, source: Source = "<dict>") -> Config:
    """Validate ``raw`` into a :class:`Config`; errors name ``source`` (a string, or a function
    of the dotted key that names the input which set it, e.g. a :class:`Provenance`)."""
    cfg = _build(Config, raw, "", source)
    _check_consistency(cfg, source)
    return cfg


def raw_with_overrides(path: str | Path, overrides: Sequence[str]
                       ) -> tuple[dict, dict[str, str]]:
    """The raw config of ``path`` (``_base_`` resolved) with ``--set`` items applied (each
    replaces what it names), and the per-leaf sources: a file, or ``--set key=value``."""
    return overrides_with_sources(load_raw_with_sources(path), overrides)


def overrides_with_sources(merged: tuple[dict, dict[str, str]], overrides: Sequence[str]
                           ) -> tuple[dict, dict[str, str]]:
    """``(raw, sources)`` with the ``--set`` items applied, each recorded as the source of what
    it sets."""
    raw, sources = merged
    for item in overrides:
        sources = merge_with_sources((raw, sources), apply_overrides({}, [item]),
                                     f"--set {item}")[1]
        raw = apply_overrides(raw, [item])
    return raw, sources


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Load ``path`` (resolving ``_base_``), apply ``--set`` overrides and validate; an invalid
    value is reported against the input that set it: the ``--set`` item, the file, or the
    ``_base_`` file it came from (:class:`Provenance`)."""
    overrides = list(overrides or [])
    raw, sources = raw_with_overrides(path, overrides)
    if "name" not in raw:
        raw["name"] = Path(path).stem
    top = str(Path(path).resolve())
    return config_from_dict(raw, Provenance(sources, str(path), rename={top: str(path)}))


def dump_config(cfg: Config, path: str | Path) -> None:
    """Write ``cfg`` as YAML, atomically (:func:`scrpn.outputs.atomic_write`)."""
    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
