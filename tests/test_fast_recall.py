"""The vectorised AR backend gives pycocotools' numbers, rule for rule.

Randomised sets exercise every rule of COCOeval that touches recall: crowd gts (IoF-style IoU),
area ranges on the annotation's ``area`` field, duplicated gts (equal IoUs: the last one wins),
gt id 0 (never found), annotations of unlisted categories (dropped), tied scores, empty images,
images without proposals, budgets below the number of proposals. The hand-worked tests of
``test_evaluation_proposals.py`` are re-collected here and run against pycocotools too (they run
against the default fast backend in their own module).
"""
from __future__ import annotations

import numpy as np
import pytest
from pycocotools.coco import COCO

import scrpn.evaluation.proposals as proposals_module
from scrpn.evaluation.fast_recall import coco_box_iou, fast_recall
from scrpn.evaluation.proposals import (AREA_RANGES, IOU_THRESHOLDS, EvaluationError,
                                        evaluate_proposals, run_cocoeval)
from test_evaluation_proposals import *  # noqa: F401,F403  (re-collected: pycocotools backend)
from test_evaluation_proposals import ann, make_coco, props, xyxy


@pytest.fixture(autouse=True)
def _reference_backend_for_recollected_tests(request, monkeypatch):
    """The hand-worked tests imported above run here against pycocotools, the reference."""
    if request.function.__module__ == "test_evaluation_proposals":
        monkeypatch.setattr(proposals_module, "DEFAULT_BACKEND", "pycocotools")


def _random_box(rng: np.random.Generator) -> list[float]:
    side = rng.choice([2.0, 12.0, 40.0, 150.0, 600.0])   # tiny ... huge
    w, h = rng.uniform(0.5, 1.0, 2) * side
    x, y = rng.uniform(0, 600), rng.uniform(0, 400)
    return [float(x), float(y), float(w), float(h)]


def _random_gt(rng: np.random.Generator, num_images: int) -> COCO:
    anns: list[dict] = []
    for image_id in range(1, num_images + 1):
        for _ in range(int(rng.poisson(6)) if rng.random() > 0.15 else 0):
            box = _random_box(rng)
            area = box[2] * box[3] * float(rng.uniform(0.4, 1.0))   # a "segmentation" area
            anns.append({"id": len(anns), "image_id": image_id, "bbox": box, "area": area,
                         "category_id": int(rng.choice([1, 2, 3, 99])),   # 99 is not listed
                         "iscrowd": int(rng.random() < 0.1)})
            if rng.random() < 0.1:   # an exact duplicate: equal IoUs, the last gt must win
                anns.append(dict(anns[-1], id=len(anns), category_id=2))
    coco = COCO()
    coco.dataset = {"images": [{"id": i} for i in range(1, num_images + 1)],
                    "categories": [{"id": c} for c in (1, 2, 3)], "annotations": anns}
    with proposals_module.quiet():
        coco.createIndex()
    return coco


def _random_proposals(rng: np.random.Generator, gt: COCO, max_count: int) -> list[dict]:
    out = []
    for image_id in gt.getImgIds():
        if rng.random() < 0.1:
            continue   # an image without proposals
        gts = [a["bbox"] for a in gt.imgToAnns.get(image_id, [])]
        boxes = []
        for _ in range(int(rng.integers(0, max_count))):
            if gts and rng.random() < 0.6:   # a jittered gt (some exact copies)
                x, y, w, h = gts[int(rng.integers(len(gts)))]
                jitter = rng.normal(0, 0.12, 4) * [w, h, w, h] * (rng.random() > 0.1)
                boxes.append([x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]])
            else:
                boxes.append(xyxy(_random_box(rng)))
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
        scores = np.round(rng.random(len(boxes)), 2)   # many ties: stable order matters
        out.append({"image_id": image_id, "boxes": boxes.astype(np.float32), "scores": scores})
    return out


def _reference_recall(gt: COCO, proposals: list[dict], max_dets: tuple) -> np.ndarray:
    kept = proposals_module._top_scoring(proposals, keep=max(max_dets))
    results = proposals_module.proposals_to_coco_results(kept, category_id=1)
    return run_cocoeval(gt, results, use_cats=False, max_dets=max_dets).eval["recall"]


@pytest.mark.parametrize("seed, max_dets", [(0, (100, 300, 1000)), (1, (1, 10, 100)),
                                            (2, (5, 100))])
def test_recall_array_equals_cocoeval_on_random_sets(seed, max_dets):
    rng = np.random.default_rng(seed)
    gt = _random_gt(rng, num_images=250)
    proposals = _random_proposals(rng, gt, max_count=120)
    reference = _reference_recall(gt, proposals, max_dets)
    kept = proposals_module._top_scoring(proposals, keep=max(max_dets))
    fast = fast_recall(gt, kept, max_dets, IOU_THRESHOLDS, list(AREA_RANGES.values()),
                       chunk_images=int(rng.integers(7, 64)))
    assert fast.shape == reference.shape
    assert (reference > 0).any() and (reference < 1).any()   # not a degenerate case
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-6)


def test_metrics_of_both_backends_agree():
    rng = np.random.default_rng(5)
    gt = _random_gt(rng, num_images=120)
    proposals = _random_proposals(rng, gt, max_count=60)
    fast = evaluate_proposals(gt, proposals, backend="fast")
    reference = evaluate_proposals(gt, proposals, backend="pycocotools")
    assert list(fast) == list(reference)
    for key in reference:
        assert fast[key] == pytest.approx(reference[key], abs=1e-6, nan_ok=True), key


def test_iou_exactly_on_threshold_and_crowd_iof_match_pycocotools():
    from pycocotools import mask as mask_utils
    dets = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 20, 10], [3, 3, 1, 1], [30, 0, 5, 5]],
                    dtype=np.float64)
    gts = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [2, 2, 4, 4], [31, 1, 2, 2]], dtype=np.float64)
    crowd = np.array([False, False, True, True])
    expected = np.asarray(mask_utils.iou(dets.tolist(), gts.tolist(), crowd.astype(int).tolist()))
    np.testing.assert_array_equal(coco_box_iou(dets, gts, crowd), expected)   # bit for bit


def test_gt_with_id_zero_is_never_found_as_in_pycocotools():
    gt = make_coco([ann(0, 1, [0.0, 0.0, 50.0, 50.0]), ann(1, 1, [100.0, 100.0, 50.0, 50.0])])
    proposals = [props(1, [[0, 0, 50, 50], [100, 100, 150, 150]])]
    for backend in ("fast", "pycocotools"):
        assert evaluate_proposals(gt, proposals, backend=backend)["AR100"] == 50.0


def test_equal_iou_goes_to_the_last_gt_so_a_later_proposal_can_take_the_first():
    # Proposal 1 overlaps gts A and B with the same IoU 0.778; COCOeval gives it the *last* one,
    # B, so proposal 2 (exactly A) finds A: both found up to IoU 0.75, one above -> AR 80.
    # Giving it A instead would leave proposal 2 with B at IoU 0.6 only (AR 60 or 65).
    gt = make_coco([ann(1, 1, [0.0, 0.0, 40.0, 40.0]), ann(2, 1, [10.0, 0.0, 40.0, 40.0])])
    proposals = [props(1, [[5, 0, 45, 40], [0, 0, 40, 40]], scores=[0.9, 0.8])]
    for backend in ("fast", "pycocotools"):
        assert evaluate_proposals(gt, proposals, backend=backend)["AR100"] == pytest.approx(80.0)


def test_unknown_backend_raises():
    gt = make_coco([ann(1, 1, [0.0, 0.0, 5.0, 5.0])])
    with pytest.raises(EvaluationError, match="backend"):
        evaluate_proposals(gt, [], backend="turbo")
