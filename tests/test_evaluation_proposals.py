"""Class-agnostic proposal AR on tiny hand-built COCO sets with hand-worked answers."""

import json
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

from scrpn.evaluation.proposals import (
    EvaluationError,
    dump_proposals,
    evaluate_proposals,
    evaluate_proposals_file,
    format_metrics,
    json_safe_metrics,
    load_proposals,
    proposals_to_coco_results,
)

SMALL = [0.0, 0.0, 10.0, 10.0]  # xywh, area 100
MEDIUM = [20.0, 20.0, 50.0, 50.0]  # area 2500
LARGE = [100.0, 100.0, 100.0, 100.0]  # area 10000


def ann(ann_id, image_id, xywh, category_id=1, iscrowd=0):
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, "bbox": list(xywh),
            "area": xywh[2] * xywh[3], "iscrowd": iscrowd}


def dataset(annotations, num_images=1, categories=(1,)):
    return {
        "images": [{"id": i, "width": 640, "height": 480} for i in range(1, num_images + 1)],
        "categories": [{"id": c, "name": f"c{c}"} for c in categories],
        "annotations": annotations,
    }


def make_coco(annotations, num_images=1, categories=(1,)):
    coco = COCO()
    coco.dataset = dataset(annotations, num_images, categories)
    coco.createIndex()
    return coco


def xyxy(xywh):
    x, y, w, h = xywh
    return [x, y, x + w, y + h]


def props(image_id, boxes, scores=None):
    if scores is None:
        scores = np.linspace(1.0, 0.5, len(boxes))
    return {"image_id": image_id, "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
            "scores": np.asarray(scores, np.float32)}


def far_boxes(count):
    """Boxes that overlap no gt of these tests (all gts lie inside [0, 200] x [0, 200])."""
    return [[300.0 + i % 50, 300.0 + i // 50, 310.0 + i % 50, 310.0 + i // 50] for i in range(count)]


def test_perfect_proposals_give_100_everywhere():
    gt = make_coco([ann(1, 1, SMALL), ann(2, 1, MEDIUM), ann(3, 1, LARGE), ann(4, 2, LARGE)],
                   num_images=2)
    proposals = [props(1, [xyxy(SMALL), xyxy(MEDIUM), xyxy(LARGE)]), props(2, [xyxy(LARGE)])]
    metrics = evaluate_proposals(gt, proposals)
    assert list(metrics) == ["AR100", "AR300", "AR1000", "AR_S", "AR_M", "AR_L",
                             "AR_S_1000", "AR_M_1000", "AR_L_1000"]
    assert all(value == 100.0 for value in metrics.values())


def test_bin_without_gt_is_nan_and_json_safe_writes_null():
    gt = make_coco([ann(1, 1, LARGE)])
    metrics = evaluate_proposals(gt, [props(1, [xyxy(LARGE)])])
    assert metrics["AR_L"] == 100.0 and metrics["AR1000"] == 100.0
    assert math.isnan(metrics["AR_S"]) and math.isnan(metrics["AR_M_1000"])
    text = json.dumps(json_safe_metrics(metrics), allow_nan=False)
    assert json.loads(text)["AR_S"] is None
    assert "AR_S n/a" in format_metrics(metrics) and "AR_L 100.0" in format_metrics(metrics)


def test_iou_0725_hits_five_of_ten_thresholds():
    # large gt 100x100 and medium gt 40x40, each covered by a sub-rectangle of 72.5 % of its
    # area: IoU 0.725 lies between the thresholds 0.70 and 0.75, far from either (no rounding).
    gt = make_coco([ann(1, 1, [0.0, 0.0, 100.0, 100.0]), ann(2, 1, [110.0, 20.0, 40.0, 40.0])])
    metrics = evaluate_proposals(gt, [props(1, [[0, 0, 100, 72.5], [110, 20, 150, 49]])])
    for key in ("AR100", "AR300", "AR1000", "AR_M", "AR_L", "AR_L_1000"):
        assert metrics[key] == pytest.approx(50.0, abs=1e-9), key


@pytest.mark.parametrize("height, expected", [(75.0, 60.0), (70.0, 50.0), (69.0, 40.0)])
def test_match_requires_iou_greater_or_equal_threshold(height, expected):
    # IoU 0.75 and 0.70 are exact in binary and equal COCOeval's thresholds: ">=" counts them.
    gt = make_coco([ann(1, 1, [0.0, 0.0, 100.0, 100.0])])
    metrics = evaluate_proposals(gt, [props(1, [[0, 0, 100, height]])])
    assert metrics["AR100"] == pytest.approx(expected, abs=1e-9)


def test_only_top_scoring_proposals_count_for_each_budget():
    # The correct box has the 150th highest score, but sits first in input order: the
    # evaluation must sort by score, then AR100 misses it while AR300 / AR1000 find it.
    gt = make_coco([ann(1, 1, LARGE)])
    boxes = [xyxy(LARGE)] + far_boxes(999)
    scores = np.linspace(1.0, 0.001, 1000, dtype=np.float32)
    scores = np.concatenate([[scores[149]], np.delete(scores, 149)])
    metrics = evaluate_proposals(gt, [props(1, boxes, scores)])
    assert metrics["AR100"] == 0.0 and metrics["AR_L"] == 0.0
    assert metrics["AR300"] == 100.0 and metrics["AR1000"] == 100.0
    assert metrics["AR_L_1000"] == 100.0


def test_proposals_beyond_largest_budget_are_dropped():
    # The correct box comes first in input order but has the lowest score: rank 1001.
    gt = make_coco([ann(1, 1, LARGE)])
    boxes = [xyxy(LARGE)] + far_boxes(1000)
    scores = np.concatenate([[0.05], np.linspace(1.0, 0.1, 1000)])
    metrics = evaluate_proposals(gt, [props(1, boxes, scores)])
    assert metrics["AR1000"] == 0.0
    metrics = evaluate_proposals(gt, [props(1, boxes, scores)], max_dets=(100, 1001))
    assert metrics["AR1001"] == 100.0 and "AR_L_1001" in metrics


def test_small_medium_large_split():
    gt = make_coco([ann(1, 1, SMALL), ann(2, 1, LARGE)])
    metrics = evaluate_proposals(gt, [props(1, [xyxy(LARGE)])])
    assert metrics["AR_L"] == 100.0 and metrics["AR_S"] == 0.0
    assert metrics["AR100"] == 50.0
    assert math.isnan(metrics["AR_M"])


def test_crowd_gt_is_neither_found_nor_missed():
    gt = make_coco([ann(1, 1, MEDIUM), ann(2, 1, LARGE, iscrowd=1), ann(3, 2, LARGE, iscrowd=1)],
                   num_images=2)
    # image 1: the crowd region is never proposed, image 2 has only a crowd gt: both fine.
    metrics = evaluate_proposals(gt, [props(1, [xyxy(MEDIUM)]), props(2, [xyxy(LARGE)])])
    assert metrics["AR100"] == 100.0 and metrics["AR_M"] == 100.0
    assert math.isnan(metrics["AR_L"])  # the only large objects are crowds


def test_gt_image_without_proposals_counts_as_missed():
    gt = make_coco([ann(1, 1, LARGE), ann(2, 2, LARGE)], num_images=2)
    metrics = evaluate_proposals(gt, [props(1, [xyxy(LARGE)])])
    assert metrics["AR100"] == 50.0 and metrics["AR_L_1000"] == 50.0


def test_proposals_on_image_without_gt_are_fine():
    gt = make_coco([ann(1, 1, LARGE)], num_images=2)
    metrics = evaluate_proposals(gt, [props(2, [xyxy(LARGE)]), props(1, [xyxy(LARGE)])])
    assert metrics["AR100"] == 100.0


def test_zero_proposals_give_zero_not_crash():
    gt = make_coco([ann(1, 1, SMALL), ann(2, 1, LARGE)])
    for proposals in ([], [props(1, np.zeros((0, 4)), [])]):
        metrics = evaluate_proposals(gt, proposals)
        assert metrics["AR100"] == 0.0 and metrics["AR1000"] == 0.0
        assert metrics["AR_S"] == 0.0 and metrics["AR_L_1000"] == 0.0
        assert math.isnan(metrics["AR_M"])


def test_class_agnostic_whatever_the_category_ids():
    # No category 1 in the gt (COCOeval drops results of unknown categories even with
    # useCats=0) and two classes that must both be matched by class-less proposals.
    gt = make_coco([ann(1, 1, MEDIUM, category_id=7), ann(2, 1, LARGE, category_id=9)],
                   categories=(7, 9))
    metrics = evaluate_proposals(gt, [props(1, [xyxy(MEDIUM), xyxy(LARGE)])])
    assert metrics["AR100"] == 100.0


def test_accepts_tensors_and_gt_json_path(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(dataset([ann(1, 1, LARGE)])))
    proposals = [{"image_id": torch.tensor(1), "boxes": torch.tensor([xyxy(LARGE)]),
                  "scores": torch.tensor([0.9])}]
    assert evaluate_proposals(str(path), proposals)["AR100"] == 100.0


def test_unknown_and_duplicate_image_ids_raise():
    gt = make_coco([ann(1, 1, LARGE)])
    with pytest.raises(EvaluationError, match="not in the ground truth: 42"):
        evaluate_proposals(gt, [props(42, [xyxy(LARGE)])])
    with pytest.raises(EvaluationError, match="more than once: 1"):
        evaluate_proposals(gt, [props(1, [xyxy(LARGE)]), props(1, [xyxy(SMALL)])])


@pytest.mark.parametrize("entry, message", [
    ({"image_id": 1, "boxes": [[10, 0, 5, 5]], "scores": [1.0]}, "x2 >= x1"),
    ({"image_id": 1, "boxes": [[0, 0, 5]], "scores": [1.0]}, "shape"),
    ({"image_id": 1, "boxes": [[0, 0, 5, 5]], "scores": [1.0, 0.5]}, "scores must have shape"),
    ({"image_id": 1, "boxes": [[0, 0, 5, 5]]}, "missing key 'scores'"),
    ({"image_id": "1", "boxes": [[0, 0, 5, 5]], "scores": [1.0]}, "image_id must be an integer"),
])
def test_bad_in_memory_proposals_raise(entry, message):
    gt = make_coco([ann(1, 1, LARGE)])
    with pytest.raises(EvaluationError, match=message):
        evaluate_proposals(gt, [entry])


def test_max_dets_must_contain_100():
    gt = make_coco([ann(1, 1, LARGE)])
    with pytest.raises(EvaluationError, match="must contain 100"):
        evaluate_proposals(gt, [], max_dets=(300, 1000))
    assert list(evaluate_proposals(gt, [], max_dets=(100,))) == ["AR100", "AR_S", "AR_M", "AR_L"]


def test_coco_results_format():
    results = proposals_to_coco_results([props(3, [[10, 20, 40, 60]], [0.25])])
    assert results == [{"image_id": 3, "bbox": [10.0, 20.0, 30.0, 40.0], "score": 0.25,
                        "category_id": 1}]


def test_dump_load_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 1000, size=(2, 50, 2)).astype(np.float32)
    boxes = np.concatenate([corners.min(axis=0), corners.max(axis=0)], axis=1)
    original = [props(5, boxes, rng.uniform(size=50)), props(2, boxes[:3], [0.3, 0.2, 0.1]),
                {"image_id": 9, "boxes": torch.from_numpy(boxes[:1]), "scores": torch.ones(1)}]
    path = tmp_path / "proposals.json"
    dump_proposals(path, original)
    loaded = load_proposals(path)
    assert [entry["image_id"] for entry in loaded] == [5, 2, 9]
    for before, after in zip(original, loaded):
        # scores as float64 (as pycocotools reads them: near-equal scores are no ties)
        assert after["boxes"].dtype == np.float32 and after["scores"].dtype == np.float64
        np.testing.assert_array_equal(after["boxes"], np.asarray(before["boxes"]))
        np.testing.assert_array_equal(after["scores"], np.asarray(before["scores"]))


def test_evaluate_proposals_file(tmp_path):
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(dataset([ann(1, 1, LARGE), ann(2, 2, SMALL)], num_images=2)))
    proposals_path = tmp_path / "proposals.json"
    dump_proposals(proposals_path, [props(1, [xyxy(LARGE)])])
    metrics = evaluate_proposals_file(proposals_path, gt_path)
    assert metrics["AR100"] == 50.0 and metrics["AR_L"] == 100.0 and metrics["AR_S"] == 0.0
    dump_proposals(proposals_path, [props(1, [xyxy(LARGE)]), props(77, [xyxy(SMALL)])])
    with pytest.raises(EvaluationError, match=r"proposals\.json.*not in the ground truth: 77"):
        evaluate_proposals_file(proposals_path, gt_path)


GOOD = {"image_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5, "category_id": 1}


@pytest.mark.parametrize("text, message", [
    (None, "not found"),
    ('[{"image_id": 1, "bbox": [0, 0, 5, 5], "sco', r"invalid JSON .*line 1 column \d+ \(char \d+\)"),
    ('{"image_id": 1}', "must hold a JSON list"),
    (json.dumps([GOOD, 3]), "entry 1: expected an object"),
    (json.dumps([GOOD, {"image_id": 1, "bbox": [0, 0, 5, 5]}]), "entry 1: missing key 'score'"),
    (json.dumps([GOOD, {**GOOD, "bbox": [0, 0, 5]}]), "entry 1: bbox must be 4 finite numbers"),
    (json.dumps([GOOD, {**GOOD, "bbox": [0, 0, "5", 5]}]), "entry 1: bbox must be 4"),
    (json.dumps([GOOD, {**GOOD, "bbox": [0, 0, -1, 5]}]), "entry 1: bbox has negative width"),
    (json.dumps([GOOD, {**GOOD, "image_id": "1"}]), "entry 1: image_id must be an integer"),
    (json.dumps([GOOD, {**GOOD, "score": None}]), "entry 1: score must be a finite number"),
])
def test_bad_proposals_file_names_file_and_problem(tmp_path, text, message):
    path = tmp_path / "bad_proposals.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(EvaluationError, match=message) as info:
        load_proposals(path)
    assert str(path) in str(info.value)


def test_empty_proposals_file_is_valid(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("[]")
    assert load_proposals(path) == []


@pytest.mark.parametrize("text, message", [
    (None, "annotation file not found"),
    ("[]", "top level must be a JSON object"),
    ('{"images": [], "annotations": []}', "missing top-level key 'categories'"),
])
def test_bad_annotation_file(tmp_path, text, message):
    gt_path = tmp_path / "bad_gt.json"
    if text is not None:
        gt_path.write_text(text)
    proposals_path = tmp_path / "p.json"
    proposals_path.write_text("[]")
    with pytest.raises(EvaluationError, match=message) as info:
        evaluate_proposals_file(proposals_path, gt_path)
    assert str(gt_path) in str(info.value)
