"""Size-Aware Dynamic Sampling (PosR, SAT), the Max-IoU baseline, ATSS and the random sampler."""
from .assign_result import AssignResult
from .atss import ATSSAssigner
from .geometry import box_area, box_centres, centre_regions, pairwise_overlaps, points_in_boxes
from .levels import adjacent_level, candidate_levels, point_levels, target_level
from .max_iou import MaxIoUAssigner
from .positive_region import PositiveRegionAssigner
from .priors import Assigner, PriorSet
from .sampler import RandomSampler
from .size_aware_threshold import SizeAwareThresholdAssigner

__all__ = [
    "ATSSAssigner", "AssignResult", "Assigner", "MaxIoUAssigner", "PositiveRegionAssigner", "PriorSet", "RandomSampler",
    "SizeAwareThresholdAssigner", "adjacent_level", "box_area", "box_centres", "candidate_levels",
    "centre_regions", "pairwise_overlaps", "point_levels", "points_in_boxes", "target_level",
]
