"""Class-agnostic COCO Average Recall (AR) of region proposals.

The numbers follow the paper's protocol (Section IV-A, "Evaluation Metrics"): AR is the recall
averaged over the IoU thresholds 0.50:0.05:0.95, computed by pycocotools' ``COCOeval`` on boxes with
``params.useCats = 0`` (every proposal may match every ground-truth box, whatever its class).
By default the same numbers come from :mod:`scrpn.evaluation.fast_recall`, a vectorised
re-implementation of COCOeval's matching (identical within 1e-6, about 20x faster at COCO scale);
``backend="pycocotools"`` runs COCOeval itself.

Reported keys, all floats in percent (round only for display):

* ``AR100``, ``AR300``, ``AR1000`` -- one ``AR{m}`` per entry ``m`` of ``max_dets``;
* ``AR_S``, ``AR_M``, ``AR_L`` -- small / medium / large objects at 100 proposals, as the paper
  defines them (so ``max_dets`` must contain 100);
* ``AR_S_1000``, ``AR_M_1000``, ``AR_L_1000`` -- the same at the largest budget ``max(max_dets)``
  (mmdetection's 'proposal' metric convention); named after that budget, absent when it is 100.

Design choices, and where they differ from naive use of pycocotools:

* The numbers are read from ``cocoeval.eval['recall']`` (shape T x K x A x M) by looking up the
  index of each area range and each budget, never from ``summarize()``, whose area rows are pinned
  to ``maxDets[2]`` and whose printout is the only output of some of its rows.
* A setting without any counted ground truth (e.g. no small objects) is stored by COCOeval as -1;
  we report ``float('nan')`` instead so that it cannot be mistaken for a recall and cannot drag a
  mean down. ``json_safe_metrics`` turns NaN into ``None`` (JSON ``null``), since ``json.dumps``
  would otherwise write the non-standard token ``NaN``.
* Proposals carry a category id only because the COCO results format requires one. Although
  ``useCats = 0`` makes classes irrelevant to matching, COCOeval still drops results whose
  category id is not among the ground truth's categories, so ``evaluate_proposals`` gives every
  proposal the smallest category id of the ground truth. Files written by ``dump_proposals`` use 1.
* Each image's proposals are sorted by score (descending, stable) and cut to ``max(max_dets)``
  before evaluation; COCOeval then keeps the first ``m`` of them for each budget ``m``.
* A ground-truth file is read through :func:`scrpn.data.ground_truth.read_ground_truth`, the
  definition the training-time evaluation uses too (degenerate, outside and ``ignore: 1`` boxes
  not counted, boxes clipped to the image, each case counted and reported under
  ``ground_truth``), or, with ``reading="pycocotools"``, as pycocotools reads it.
* Scores are float64 and ranked by a stable sort of the negated score, as ``COCOeval`` ranks
  them, so near-equal scores are no ties (``tests/test_bad_input_eval.py``).
* Ground-truth images without proposals stay in ``params.imgIds``, so their objects count as
  missed. Proposals for image ids that are not in the ground truth raise an error.
* Crowd ground truths are handled by COCOeval itself: they are not counted as objects to find,
  and a proposal matched to one is ignored (neither a hit nor a miss).
* The object size used for the small/medium/large split is the annotation's ``area`` field (the
  segmentation area on COCO), as in COCOeval, not the box area.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import io
import math
import os
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from scrpn.data.errors import DataError, EvaluationError
from scrpn.data.ground_truth import (GroundTruth, ground_truth_summary, read_ground_truth,
                                     require_objects)
from scrpn.data.proposal_files import (  # noqa: F401 (re-exported: the evaluation API)
    check_boxes_and_scores,
    dump_proposals,
    image_id_of,
    load_proposals,
    proposals_to_coco_results,
    read_json,
    to_numpy,
    xyxy_to_coco_results,
)
from scrpn.evaluation.fast_recall import fast_recall

PathLike = Union[str, "os.PathLike[str]"]
CocoLike = Union[COCO, str, "os.PathLike[str]"]

DEFAULT_MAX_DETS: Tuple[int, ...] = (100, 300, 1000)
# The paper's AR_S / AR_M / AR_L are computed for this many proposals per image.
PAPER_AREA_BUDGET = 100
# Same as pycocotools' defaults; set explicitly so that the protocol is visible here.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
AREA_RANGES: Dict[str, Tuple[float, float]] = {
    "all": (0.0, 1e10),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e10),
}
_AREA_SUFFIX = {"small": "S", "medium": "M", "large": "L"}
# Matching backends of ``evaluate_proposals``; read at call time so tests can switch the default.
BACKENDS: Tuple[str, ...] = ("fast", "pycocotools")
DEFAULT_BACKEND = "fast"
_MAX_LISTED_IDS = 10


@contextlib.contextmanager
def quiet(verbose: bool = False) -> Iterator[None]:
    """Swallow pycocotools' progress prints on stdout unless ``verbose``."""
    if verbose:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def load_coco_gt(coco_gt: CocoLike | Mapping[str, Any], verbose: bool = False,
                 note: Optional[Callable[[str], None]] = None, reading: str = "scrpn") -> COCO:
    """Return ``coco_gt`` if it already is a ``COCO`` object, otherwise build one from a COCO json
    dict (e.g. a dataset's :meth:`~scrpn.data.coco.CocoDetection.ground_truth`) or a json path.

    A file is read through :func:`scrpn.data.ground_truth.read_ground_truth`, the definition of
    the ground truth that the training-time evaluation uses too (``reading="scrpn"``), or as
    pycocotools reads it (``reading="pycocotools"``); ``note`` receives its report (what was
    skipped, by reason). The dict goes to ``COCO`` through ``dataset`` and ``createIndex()``,
    which is what ``COCO(path)`` does internally.
    """
    if isinstance(coco_gt, COCO):
        return coco_gt
    if isinstance(coco_gt, Mapping):
        data = dict(coco_gt)
    else:
        data = read_gt_file(os.fspath(coco_gt), reading, note).coco_dict()
    coco = COCO()
    coco.dataset = data
    with quiet(verbose):
        coco.createIndex()
    return coco


def read_gt_file(name: PathLike, reading: str = "scrpn",
                 note: Optional[Callable[[str], None]] = None) -> GroundTruth:
    """:func:`read_ground_truth` for evaluation: errors become ``EvaluationError``; ``note``
    gets the report."""
    try:
        truth = read_ground_truth(name, reading)
    except EvaluationError:
        raise
    except DataError as error:
        raise EvaluationError(str(error)) from error
    if note is not None:
        note(truth.report())
    return truth


def check_image_ids(coco_gt: COCO, image_ids: Sequence[Any], source: str) -> None:
    """Reject duplicated image ids and image ids that the ground truth does not know.

    A duplicate would silently merge two result sets; an unknown id usually means the results
    were produced for another split (or with re-numbered ids), so it is an error, not a skip.
    """
    duplicates = sorted(i for i, count in collections.Counter(image_ids).items() if count > 1)
    if duplicates:
        raise EvaluationError(f"{source}: image_id listed more than once: "
                              f"{_list_ids(duplicates)}")
    unknown = sorted(set(image_ids) - set(coco_gt.getImgIds()))
    if unknown:
        raise EvaluationError(f"{source}: {len(unknown)} image_id(s) not in the ground truth: "
                              f"{_list_ids(unknown)}")


def _list_ids(ids: Sequence[Any]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_MAX_LISTED_IDS])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > _MAX_LISTED_IDS else "")


def _top_scoring(
    proposals: Sequence[Mapping[str, Any]], keep: int
) -> List[Dict[str, Any]]:
    """Each image's proposals sorted by descending score (stable, as COCOeval) cut to ``keep``."""
    kept = []
    for index, entry in enumerate(proposals):
        boxes, scores = check_boxes_and_scores(entry, index)
        order = np.argsort(-scores, kind="stable")[:keep]
        image_id = image_id_of(entry, index)
        kept.append({"image_id": image_id, "boxes": boxes[order], "scores": scores[order]})
    return kept


def empty_results(coco_gt: COCO) -> COCO:
    """A results ``COCO`` object with no detections (``COCO.loadRes`` fails on an empty list)."""
    results = COCO()
    results.dataset = {
        "images": list(coco_gt.dataset.get("images", [])),
        "categories": copy.deepcopy(coco_gt.dataset.get("categories", [])),
        "annotations": [],
    }
    with quiet():
        results.createIndex()
    return results


def run_cocoeval(
    coco_gt: COCO,
    results: List[Dict[str, Any]],
    use_cats: bool,
    max_dets: Sequence[int],
    verbose: bool = False,
) -> COCOeval:
    """Run COCOeval (bbox) through ``evaluate()`` and ``accumulate()``; no ``summarize()``.

    ``results`` is consumed: ``loadRes`` adds ``id``/``area``/``segmentation`` to its dicts.
    """
    with quiet(verbose):
        coco_dt = coco_gt.loadRes(results) if results else empty_results(coco_gt)
        cocoeval = COCOeval(coco_gt, coco_dt, iouType="bbox")
        cocoeval.params.useCats = int(use_cats)
        cocoeval.params.iouThrs = IOU_THRESHOLDS.copy()
        cocoeval.params.maxDets = [int(m) for m in max_dets]
        cocoeval.params.areaRng = [list(r) for r in AREA_RANGES.values()]
        cocoeval.params.areaRngLbl = list(AREA_RANGES.keys())
        cocoeval.evaluate()
        cocoeval.accumulate()
    return cocoeval


def mean_valid_percent(values: np.ndarray) -> float:
    """Mean of the entries > -1 (COCOeval's 'no ground truth' marker), in percent; NaN if none."""
    valid = values[values > -1]
    return float(100.0 * valid.mean()) if valid.size else float("nan")


def _check_max_dets(max_dets: Sequence[int]) -> Tuple[int, ...]:
    budgets = tuple(sorted({int(m) for m in max_dets}))
    if not budgets or budgets[0] < 1:
        raise EvaluationError(f"max_dets must be positive integers, got {tuple(max_dets)}")
    if PAPER_AREA_BUDGET not in budgets:
        raise EvaluationError(f"max_dets must contain {PAPER_AREA_BUDGET} (AR_S/M/L are computed "
                              f"at {PAPER_AREA_BUDGET} proposals), got {tuple(max_dets)}")
    return budgets


def recall_metrics(recall: np.ndarray, max_dets: Sequence[int]) -> Dict[str, float]:
    """AR keys from COCOeval's ``eval['recall']`` (T x K x A x M), with K == 1 (class-agnostic).

    ``max_dets`` must be the (sorted) ``params.maxDets`` the recall array was computed with and the
    area axis must follow ``AREA_RANGES``.
    """
    areas = list(AREA_RANGES.keys())
    budgets = list(max_dets)
    metrics: Dict[str, float] = {}
    for m, budget in enumerate(budgets):
        metrics[f"AR{budget}"] = mean_valid_percent(recall[:, :, areas.index("all"), m])
    area_budgets = [(PAPER_AREA_BUDGET, "")]
    if budgets[-1] != PAPER_AREA_BUDGET:
        area_budgets.append((budgets[-1], f"_{budgets[-1]}"))
    for budget, name_suffix in area_budgets:
        m = budgets.index(budget)
        for area, letter in _AREA_SUFFIX.items():
            values = recall[:, :, areas.index(area), m]
            metrics[f"AR_{letter}{name_suffix}"] = mean_valid_percent(values)
    return metrics


def evaluate_proposals(
    coco_gt: CocoLike,
    proposals: Sequence[Mapping[str, Any]],
    max_dets: Sequence[int] = DEFAULT_MAX_DETS,
    verbose: bool = False,
    backend: Optional[str] = None,
) -> Dict[str, float]:
    """Class-agnostic COCO AR of ``proposals`` against ``coco_gt`` (a ``COCO`` object or json path).

    Args:
        coco_gt: ground truth; all its images are evaluated, those without proposals count as
            zero recall for their objects.
        proposals: list of ``{"image_id": int, "boxes": (N, 4) xyxy, "scores": (N,)}``, boxes in
            original-image pixels, in any order; at most one entry per image.
        max_dets: proposal budgets per image; must contain 100.
        verbose: let pycocotools print its progress.
        backend: ``"fast"`` (:mod:`scrpn.evaluation.fast_recall`, vectorised, identical numbers
            to 1e-6, about 20x faster at COCO scale) or ``"pycocotools"`` (COCOeval itself, the
            reference); ``None`` uses ``DEFAULT_BACKEND``.

    Returns:
        ``{"AR100": ..., "AR300": ..., "AR1000": ..., "AR_S": ..., "AR_M": ..., "AR_L": ...,
        "AR_S_1000": ..., "AR_M_1000": ..., "AR_L_1000": ...}`` in percent; NaN where a setting
        has no ground truth. With no proposals at all every recall with ground truth is 0.0.
    """
    gt = load_coco_gt(coco_gt, verbose=verbose)
    budgets = _check_max_dets(max_dets)
    image_ids = [image_id_of(entry, index) for index, entry in enumerate(proposals)]
    check_image_ids(gt, image_ids, source="proposals")
    category_ids = sorted(gt.getCatIds())
    agnostic_category = category_ids[0] if category_ids else 1
    kept = _top_scoring(proposals, keep=budgets[-1])
    backend = DEFAULT_BACKEND if backend is None else backend
    if backend == "fast":
        recall = fast_recall(gt, kept, budgets, IOU_THRESHOLDS, list(AREA_RANGES.values()),
                             keep_detections=bool(category_ids))
        return recall_metrics(recall, budgets)
    if backend != "pycocotools":
        raise EvaluationError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    results = proposals_to_coco_results(kept, category_id=agnostic_category)
    cocoeval = run_cocoeval(gt, results, use_cats=False, max_dets=budgets, verbose=verbose)
    return recall_metrics(cocoeval.eval["recall"], cocoeval.params.maxDets)


def evaluate_proposals_file(
    proposals_json: PathLike,
    annotations_json: PathLike,
    max_dets: Sequence[int] = DEFAULT_MAX_DETS,
    verbose: bool = False,
    backend: Optional[str] = None,
    note: Optional[Callable[[str], None]] = None,
    reading: str = "scrpn",
) -> Dict[str, Any]:
    """``evaluate_proposals`` for a proposals results json (as written by ``dump_proposals``).

    The annotations are read as ``reading`` says (``"scrpn"``: the ground truth the training-time
    evaluation counts, :func:`scrpn.data.ground_truth.clean_ground_truth`; ``"pycocotools"``:
    pycocotools' own reading, scored by COCOeval itself unless ``backend`` says otherwise).
    A ground truth without any object to find is an error (the metrics would all be null).
    Proposals whose image_id is not in the annotations raise ``EvaluationError`` naming the
    proposals file and the unknown ids (evaluating another split by mistake is the usual cause).
    ``note`` receives the annotations' report (what was skipped or cleaned, by reason); the
    returned metrics carry the same under ``ground_truth``.
    """
    truth = read_gt_file(annotations_json, reading, note)
    data = truth.coco_dict()
    try:
        require_objects(data, annotations_json)
    except DataError as error:
        raise EvaluationError(str(error)) from error
    gt = load_coco_gt(data, verbose=verbose)
    proposals = load_proposals(proposals_json)
    image_ids = [entry["image_id"] for entry in proposals]
    check_image_ids(gt, image_ids, source=os.fspath(proposals_json))
    if backend is None and reading == "pycocotools":
        backend = "pycocotools"
    metrics: Dict[str, Any] = dict(evaluate_proposals(gt, proposals, max_dets=max_dets,
                                                      verbose=verbose, backend=backend))
    metrics["ground_truth"] = ground_truth_summary(data, truth.skipped, annotations_json, reading)
    return metrics


def json_safe_metrics(metrics: Mapping[str, Any]) -> Dict[str, Any]:
    """Copy of ``metrics`` with NaN replaced by ``None`` (JSON ``null``), recursing into dicts."""
    safe: Dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            safe[key] = json_safe_metrics(value)
        elif isinstance(value, float) and math.isnan(value):
            safe[key] = None
        else:
            safe[key] = value
    return safe


def format_metrics(metrics: Mapping[str, Any], digits: int = 1) -> str:
    """One-line display such as ``AR100 58.3 | AR300 ...``; NaN shows as ``n/a``."""
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            parts.append(f"{key} {'n/a' if math.isnan(value) else f'{value:.{digits}f}'}")
    return " | ".join(parts)
