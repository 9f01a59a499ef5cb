"""Proposal files: per-image proposals <-> COCO results json, with one clear error per bad entry.

A proposals file is a COCO results list (``[{"image_id", "bbox": [x, y, w, h], "score",
"category_id"}, ...]``) with boxes in original-image pixels, as ``scrpn train --dump-proposals``
and ``scrpn evaluate --dump-proposals`` write it and as Fast R-CNN
(:mod:`scrpn.detectors.proposal_store`) and ``scrpn evaluate --proposals`` read it. In memory,
proposals are per-image ``{"image_id": int, "boxes": (N, 4) xyxy, "scores": (N,)}``.

Every problem raises :class:`~scrpn.data.errors.EvaluationError` naming the file (or the entry)
and the problem: a missing or truncated file (line and column), a non-list, an entry without
``image_id`` / ``bbox`` / ``score``, a non-integer image id, non-finite or negative-size boxes.
This module is the data layer's, so that the detectors read proposal files without importing
the evaluation package.
"""

from __future__ import annotations

import json
import operator
import os
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np

from . import json_io
from scrpn.outputs import atomic_write_text

from .errors import EvaluationError
from .ground_truth import ID_LIMIT

__all__ = ["check_boxes_and_scores", "dump_proposals", "image_id_of", "load_proposals",
           "proposals_to_coco_results", "read_json", "to_numpy", "xyxy_to_coco_results"]

PathLike = Union[str, "os.PathLike[str]"]


def read_json(path: PathLike, what: str = "file") -> Any:
    """Parse a JSON file of an evaluation input; any failure raises ``EvaluationError`` naming it
    (:func:`scrpn.data.json_io.read_json`)."""
    return json_io.read_json(path, what, lambda name, problem: EvaluationError(f"{name}: {problem}"))


def to_numpy(values: Any, dtype: type = np.float32) -> np.ndarray:
    """Convert a tensor (any device, with or without grad), array or nested list to numpy."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def image_id_of(entry: Mapping[str, Any], index: int) -> int:
    """The entry's ``image_id`` as a Python int (accepts numpy / 0-d tensor integers)."""
    if not isinstance(entry, Mapping):
        raise EvaluationError(f"entry {index}: expected a dict, got {type(entry).__name__}")
    if "image_id" not in entry:
        raise EvaluationError(f"entry {index}: missing key 'image_id'")
    value = entry["image_id"]
    problem = EvaluationError(f"entry {index}: image_id must be an integer, got {value!r}")
    if isinstance(value, bool):
        raise problem
    try:
        return operator.index(value)
    except TypeError:
        raise problem from None


def check_boxes_and_scores(
    entry: Mapping[str, Any], index: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Validate one per-image entry's ``boxes`` (N, 4) xyxy and ``scores`` (N,).

    Returns float64 copies, so that ``x2 - x1`` of float32 inputs is exact and the float32
    boxes survive a dump/load round trip bit for bit.
    """
    where = f"entry {index} (image_id {image_id_of(entry, index)})"
    for key in ("boxes", "scores"):
        if key not in entry:
            raise EvaluationError(f"{where}: missing key '{key}'")
    try:
        boxes = to_numpy(entry["boxes"], np.float64)
        scores = to_numpy(entry["scores"], np.float64)
    except (TypeError, ValueError) as error:
        raise EvaluationError(
            f"{where}: boxes and scores must be numeric arrays ({error})") from error
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise EvaluationError(f"{where}: boxes must have shape (N, 4), got {boxes.shape}")
    if scores.shape != (boxes.shape[0],):
        raise EvaluationError(f"{where}: scores must have shape ({boxes.shape[0]},), "
                              f"got {scores.shape}")
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise EvaluationError(f"{where}: boxes and scores must be finite")
    if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise EvaluationError(f"{where}: boxes must be (x1, y1, x2, y2) with x2 >= x1, y2 >= y1")
    return boxes, scores


def xyxy_to_coco_results(
    image_id: int, boxes: np.ndarray, scores: np.ndarray, category_ids: Sequence[int]
) -> List[Dict[str, Any]]:
    """One image's boxes as COCO result dicts with ``bbox = [x, y, w, h]`` in plain floats.

    ``tolist()`` yields Python floats (JSON-serialisable) much faster than per-element casts,
    which matters for 5000 images x 1000 proposals.
    """
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    return [
        {"image_id": int(image_id), "bbox": bbox, "score": score, "category_id": int(category)}
        for bbox, score, category in zip(xywh.tolist(), scores.tolist(), category_ids)
    ]


def proposals_to_coco_results(
    proposals: Sequence[Mapping[str, Any]], category_id: int = 1
) -> List[Dict[str, Any]]:
    """Flatten per-image proposals into the COCO results format, keeping their order.

    Args:
        proposals: list of ``{"image_id": int, "boxes": (N, 4) xyxy, "scores": (N,)}`` with boxes
            in original-image pixels (arrays, tensors or lists).
        category_id: written on every result; irrelevant to class-agnostic evaluation (see the
            module docstring for why ``evaluate_proposals`` picks it from the ground truth).
    """
    results: List[Dict[str, Any]] = []
    for index, entry in enumerate(proposals):
        boxes, scores = check_boxes_and_scores(entry, index)
        categories = [category_id] * boxes.shape[0]
        results.extend(xyxy_to_coco_results(image_id_of(entry, index), boxes, scores, categories))
    return results


def dump_proposals(path: PathLike, proposals: Sequence[Mapping[str, Any]]) -> None:
    """Write proposals as COCO results json (``category_id`` 1), readable by ``load_proposals``.

    The write is atomic (:func:`scrpn.outputs.atomic_write`): a run killed during the dump, or a
    full disk, leaves the previous file intact."""
    text = json.dumps(proposals_to_coco_results(proposals))
    atomic_write_text(path, text)


def _check_result_entry(entry: Any, index: int, name: str) -> None:
    """Validate one COCO result dict of a proposals file; errors name the file and the index."""
    where = f"{name}: entry {index}"
    if not isinstance(entry, dict):
        raise EvaluationError(f"{where}: expected an object, got {type(entry).__name__}")
    for key in ("image_id", "bbox", "score"):
        if key not in entry:
            raise EvaluationError(f"{where}: missing key '{key}'")
    if not json_io.is_int(entry["image_id"]):
        raise EvaluationError(f"{where}: image_id must be an integer, got {entry['image_id']!r:.80}")
    if not -ID_LIMIT <= entry["image_id"] < ID_LIMIT:
        raise EvaluationError(f"{where}: image_id {entry['image_id']} is out of range (ids must "
                              "fit in 64 bits, |id| < 2^63)")
    bbox = entry["bbox"]
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(json_io.is_number(v) for v in bbox):
        raise EvaluationError(f"{where}: bbox must be 4 finite numbers [x, y, w, h], "
                              f"got {str(bbox)[:80]}")
    if bbox[2] < 0 or bbox[3] < 0:
        raise EvaluationError(f"{where}: bbox has negative width or height: {bbox}")
    score = entry["score"]
    if not json_io.is_number(score):
        raise EvaluationError(f"{where}: score must be a finite number, got {score!r:.80}")
    if json_io.is_int(score) and abs(score) > 2 ** 53:
        # pycocotools would rank such integers exactly (int64), a float cannot: refuse rather
        # than rank differently
        raise EvaluationError(f"{where}: score {score} is an integer beyond 2^53, which has no "
                              "exact float value; write scores as floats")


def load_proposals(path: PathLike) -> List[Dict[str, Any]]:
    """Read a COCO results json of proposals back into per-image ``{image_id, boxes, scores}``.

    Images appear in the order of their first result; within an image the file order is kept.
    Boxes come back as float32 (N, 4) xyxy; scores as float64 (N,), as pycocotools reads them,
    so that near-equal scores (0.9000000001 and 0.9000000002, 1e-50 and 2e-50) are not made
    ties and rank as in COCOeval (``tests/test_bad_input_eval.py``); ``category_id`` is ignored.
    An empty list is a valid file (no proposals at all).
    """
    name = os.fspath(path)
    data = read_json(name, what="proposals file")
    if not isinstance(data, list):
        raise EvaluationError(f"{name}: proposals file must hold a JSON list of results, "
                              f"got {type(data).__name__}")
    grouped: Dict[int, Tuple[List[List[float]], List[float]]] = {}
    for index, entry in enumerate(data):
        _check_result_entry(entry, index, name)
        x, y, w, h = (float(v) for v in entry["bbox"])
        boxes, scores = grouped.setdefault(entry["image_id"], ([], []))
        boxes.append([x, y, x + w, y + h])
        scores.append(float(entry["score"]))
    return [
        {
            "image_id": image_id,
            "boxes": np.asarray(boxes, dtype=np.float64).astype(np.float32).reshape(-1, 4),
            "scores": np.asarray(scores, dtype=np.float64),
        }
        for image_id, (boxes, scores) in grouped.items()
    ]
