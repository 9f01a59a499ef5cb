"""Detection box AP on tiny hand-built COCO sets, and the timing helper."""

import math

import numpy as np
import pytest
from pycocotools.coco import COCO

from scrpn.evaluation import timing
from scrpn.evaluation.detection import detections_to_coco_results, evaluate_detections
from scrpn.evaluation.proposals import EvaluationError
from scrpn.evaluation.timing import Timer, measure_seconds_per_image

SMALL = [0.0, 0.0, 10.0, 10.0]  # xywh, area 100
MEDIUM = [20.0, 20.0, 50.0, 50.0]  # area 2500
LARGE = [100.0, 100.0, 100.0, 100.0]  # area 10000
LABEL_TO_CATEGORY = {0: 1, 1: 3}  # contiguous model labels -> COCO ids with a gap


def make_coco(annotations, num_images=1, categories=(1, 3)):
    coco = COCO()
    coco.dataset = {
        "images": [{"id": i, "width": 640, "height": 480} for i in range(1, num_images + 1)],
        "categories": [{"id": c, "name": f"c{c}"} for c in categories],
        "annotations": [
            {"id": k + 1, "image_id": image_id, "category_id": category, "bbox": list(xywh),
             "area": xywh[2] * xywh[3], "iscrowd": 0}
            for k, (image_id, category, xywh) in enumerate(annotations)
        ],
    }
    coco.createIndex()
    return coco


def xyxy(xywh):
    x, y, w, h = xywh
    return [x, y, x + w, y + h]


def dets(image_id, boxes, labels, scores=None):
    if scores is None:
        scores = np.linspace(0.9, 0.5, len(boxes))
    return {"image_id": image_id, "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
            "scores": np.asarray(scores, np.float32), "labels": np.asarray(labels, np.int64)}


def test_perfect_detections_give_100():
    gt = make_coco([(1, 1, SMALL), (1, 3, MEDIUM), (2, 1, LARGE), (2, 3, LARGE)], num_images=2)
    detections = [dets(1, [xyxy(SMALL), xyxy(MEDIUM)], [0, 1]),
                  dets(2, [xyxy(LARGE), xyxy(LARGE)], [0, 1])]
    metrics = evaluate_detections(gt, detections, label_to_category=LABEL_TO_CATEGORY)
    assert list(metrics) == ["AP", "AP50", "AP75", "AP_S", "AP_M", "AP_L"]
    # COCOeval's precision is tp / (tp + fp + eps), hence approx rather than ==.
    assert all(value == pytest.approx(100.0, abs=1e-9) for value in metrics.values())


def test_wrong_label_gives_zero_for_that_class():
    # Object B (category 3, medium) is detected with category 1. Category 1: its only object
    # A is found first, B's box is a lower-scored false positive -> AP 100. Category 3: nothing
    # -> AP 0. Medium: only category 3 has a medium object -> 0. Large: the false positive is
    # medium-sized and unmatched, hence ignored for the large range -> 100.
    gt = make_coco([(1, 1, LARGE), (1, 3, MEDIUM)])
    detections = [dets(1, [xyxy(LARGE), xyxy(MEDIUM)], [1, 1], [0.9, 0.8])]
    metrics = evaluate_detections(gt, detections, per_category=True)
    assert metrics["AP_per_category"] == pytest.approx({1: 100.0, 3: 0.0}, abs=1e-9)
    assert metrics["AP"] == pytest.approx(50.0) and metrics["AP50"] == pytest.approx(50.0)
    assert metrics["AP_M"] == 0.0 and metrics["AP_L"] == pytest.approx(100.0)
    assert math.isnan(metrics["AP_S"])


def test_iou_0725_counts_for_ap50_not_ap75():
    gt = make_coco([(1, 1, [0.0, 0.0, 100.0, 100.0])], categories=(1,))
    metrics = evaluate_detections(gt, [dets(1, [[0, 0, 100, 72.5]], [1])])
    assert metrics["AP50"] == pytest.approx(100.0) and metrics["AP75"] == 0.0
    assert metrics["AP"] == pytest.approx(50.0, abs=1e-9)


def test_empty_detections_give_zeros():
    gt = make_coco([(1, 1, SMALL), (1, 3, LARGE)])
    for detections in ([], [dets(1, np.zeros((0, 4)), [], [])]):
        metrics = evaluate_detections(gt, detections, per_category=True)
        assert metrics["AP"] == 0.0 and metrics["AP50"] == 0.0 and metrics["AP_L"] == 0.0
        assert metrics["AP_per_category"] == {1: 0.0, 3: 0.0}
        assert math.isnan(metrics["AP_M"])


def test_no_ground_truth_at_all_is_nan():
    gt = make_coco([], num_images=1)
    metrics = evaluate_detections(gt, [dets(1, [xyxy(LARGE)], [1])])
    assert all(math.isnan(value) for value in metrics.values())


def test_coco_results_map_labels_to_categories():
    results = detections_to_coco_results([dets(4, [[10, 20, 40, 60]], [1], [0.5])],
                                          label_to_category=LABEL_TO_CATEGORY)
    assert results == [{"image_id": 4, "bbox": [10.0, 20.0, 30.0, 40.0], "score": 0.5,
                        "category_id": 3}]


@pytest.mark.parametrize("detections, mapping, message", [
    ([dets(1, [xyxy(LARGE)], [2])], None, r"category_id\(s\) \[2\] are not in the ground truth"),
    ([dets(1, [xyxy(LARGE)], [5])], LABEL_TO_CATEGORY, r"labels \[5\] are not in label_to_category"),
    ([{"image_id": 1, "boxes": [xyxy(LARGE)], "scores": [0.5]}], None, "missing key 'labels'"),
    ([dets(1, [xyxy(LARGE)], [1]) | {"labels": [0.5]}], None, "labels must be integers"),
    ([dets(8, [xyxy(LARGE)], [1])], None, "not in the ground truth: 8"),
])
def test_bad_detections_raise(detections, mapping, message):
    gt = make_coco([(1, 1, LARGE)])
    with pytest.raises(EvaluationError, match=message):
        evaluate_detections(gt, detections, label_to_category=mapping)


# --- timing helper (scrpn/evaluation/timing.py) -------------------------------------------


class FakeClock:
    """Stands in for the ``time`` module: each perf_counter() call advances by 1, 2, 3, ... s."""

    def __init__(self):
        self.now = 0.0
        self.step = 0.0

    def perf_counter(self):
        self.step += 1.0
        self.now += self.step
        return self.now


def test_measure_seconds_per_image_skips_warmup_and_times_every_input(monkeypatch):
    monkeypatch.setattr(timing, "time", FakeClock())
    calls, syncs = [], []
    result = measure_seconds_per_image(calls.append, ["a", "b", "c"], warmup=4,
                                       synchronize=lambda: syncs.append(1))
    assert calls == ["a", "b", "c", "a", "a", "b", "c"]  # warm-up cycles through the inputs
    # clock readings 1, 3, 6, 10, 15, 21 -> durations 3-1, 10-6, 21-15
    assert result.seconds == [2.0, 4.0, 6.0]
    assert result.mean_seconds == 4.0
    mean, seconds = result  # also usable as a plain (mean, list) pair
    assert mean == 4.0 and len(syncs) == 6  # synchronised before and after every timed call


def test_timer_and_bad_arguments():
    with Timer() as timer:
        sum(range(1000))
    assert 0.0 <= timer.seconds < 1.0
    with pytest.raises(ValueError, match="at least one input"):
        measure_seconds_per_image(print, [])
    with pytest.raises(ValueError, match="warmup"):
        measure_seconds_per_image(print, [1], warmup=-1)
