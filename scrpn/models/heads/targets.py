"""Config -> assigner / sampler objects (the "SADS" and "Max IoU" boxes of Fig. 2)."""
from __future__ import annotations

from ...config import AssignerConfig, SamplerConfig
from ...sampling.atss import ATSSAssigner
from ...sampling.max_iou import MaxIoUAssigner
from ...sampling.positive_region import PositiveRegionAssigner
from ...sampling.priors import Assigner
from ...sampling.region import RegionAssigner
from ...sampling.sampler import RandomSampler
from ...sampling.size_aware_threshold import SizeAwareThresholdAssigner


def build_assigner(cfg: AssignerConfig, base_scale: float, strides: tuple[int, ...]) -> Assigner:
    if cfg.type == "max_iou":
        return MaxIoUAssigner(pos_iou_thr=cfg.pos_iou_thr, neg_iou_thr=cfg.neg_iou_thr,
                              min_pos_iou=cfg.min_pos_iou, match_low_quality=cfg.match_low_quality,
                              ignore_iof_thr=cfg.ignore_iof_thr)
    if cfg.type == "positive_region":
        return PositiveRegionAssigner(center_ratio=cfg.center_ratio, base_scale=base_scale,
                                      strides=strides, region_rule=cfg.region_rule)
    if cfg.type == "region":
        return RegionAssigner(center_ratio=cfg.center_ratio, ignore_ratio=cfg.ignore_ratio,
                              base_scale=base_scale, strides=strides)
    if cfg.type == "size_aware_threshold":
        return SizeAwareThresholdAssigner(topk=cfg.topk, num_levels_used=cfg.num_levels,
                                          base_scale=base_scale, strides=strides)
    if cfg.type == "atss":  # the SADS inspector's comparison (scrpn/viz/sads_inspector.py)
        return ATSSAssigner(topk=cfg.topk, strides=strides)
    raise ValueError(f"unknown assigner type {cfg.type!r}")


def build_sampler(cfg: SamplerConfig) -> RandomSampler:
    return RandomSampler(num=cfg.num, pos_fraction=cfg.pos_fraction)
