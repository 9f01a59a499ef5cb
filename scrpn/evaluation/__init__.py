"""Evaluation: class-agnostic proposal AR (vectorised, COCOeval-identical; or pycocotools), detection
AP (pycocotools) and timing."""

from scrpn.evaluation.fast_recall import fast_recall
from scrpn.evaluation.detection import detections_to_coco_results, evaluate_detections
from scrpn.evaluation.proposals import (
    DEFAULT_MAX_DETS,
    EvaluationError,
    dump_proposals,
    evaluate_proposals,
    evaluate_proposals_file,
    format_metrics,
    json_safe_metrics,
    load_proposals,
    proposals_to_coco_results,
)
from scrpn.evaluation.timing import Timer, TimingResult, measure_seconds_per_image

__all__ = [
    "DEFAULT_MAX_DETS",
    "EvaluationError",
    "Timer",
    "TimingResult",
    "detections_to_coco_results",
    "dump_proposals",
    "evaluate_detections",
    "evaluate_proposals",
    "evaluate_proposals_file",
    "fast_recall",
    "format_metrics",
    "json_safe_metrics",
    "load_proposals",
    "measure_seconds_per_image",
    "proposals_to_coco_results",
]
