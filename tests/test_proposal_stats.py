"""scrpn.evaluation.proposal_stats: hand-worked best IoUs and histograms, empty cases, round trip."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from scrpn.evaluation.proposal_stats import IOU_BINS, load_stats, proposal_stats, save_stats


def coco(images: dict[int, list[list[float]]], crowd: dict[int, list[list[float]]] | None = None) -> COCO:
    """A COCO object from xywh boxes per image (``crowd``: boxes marked iscrowd)."""
    anns = []
    for image_id, boxes in images.items():
        for box in boxes:
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1, "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0})
    for image_id, boxes in (crowd or {}).items():
        for box in boxes:
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1, "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 1})
    gt = COCO()
    gt.dataset = {"images": [{"id": i, "width": 100, "height": 100} for i in images],
                  "annotations": anns, "categories": [{"id": 1, "name": "x"}]}
    gt.createIndex()
    return gt


def entry(image_id: int, boxes: list[list[float]], scores: list[float]) -> dict:
    return {"image_id": image_id, "boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "scores": np.array(scores, np.float32)}


def test_best_iou_follows_the_score_order_and_the_budget() -> None:
    # one 10x10 object at the origin; proposal A (score 0.9) covers half of it: IoU 0.5;
    # proposal B (score 0.1) is exact: IoU 1.0. Budget 1 sees A only.
    gt = coco({1: [[0, 0, 10, 10]]})
    props = [entry(1, [[0, 0, 10, 20], [0, 0, 10, 10]], [0.9, 0.1])]
    stats = proposal_stats(gt, props, budgets=(1, 2))
    assert stats["best_iou_1"].tolist() == [pytest.approx(0.5)]
    assert stats["best_iou_2"].tolist() == [pytest.approx(1.0)]
    assert stats["gt_wh"].tolist() == [[10.0, 10.0]] and stats["gt_image"].tolist() == [1]
    # histogram: budget 1 -> one proposal in the bin [0.5, 0.55); budget 2 -> one more in the last bin
    assert stats["proposal_iou_hist_1"][10] == 1 and stats["proposal_iou_hist_1"].sum() == 1
    assert stats["proposal_iou_hist_2"][-1] == 1 and stats["proposal_iou_hist_2"].sum() == 2


def test_images_without_proposals_or_objects() -> None:
    gt = coco({1: [[0, 0, 10, 10], [50, 50, 20, 40]], 2: []})
    props = [entry(2, [[0, 0, 5, 5]], [0.5])]  # image 1 has no proposals; image 2 has no object
    stats = proposal_stats(gt, props, budgets=(100,))
    assert stats["best_iou_100"].tolist() == [0.0, 0.0]                  # both objects missed
    assert stats["gt_wh"].tolist() == [[10.0, 10.0], [20.0, 40.0]]
    assert stats["proposal_iou_hist_100"][0] == 1 and stats["proposal_iou_hist_100"].sum() == 1


def test_crowd_boxes_are_not_objects() -> None:
    gt = coco({1: [[0, 0, 10, 10]]}, crowd={1: [[40, 40, 30, 30]]})
    stats = proposal_stats(gt, [entry(1, [[40, 40, 70, 70]], [1.0])], budgets=(10,))
    assert len(stats["best_iou_10"]) == 1 and stats["best_iou_10"][0] == 0.0
    assert stats["proposal_iou_hist_10"][0] == 1  # the proposal on the crowd counts as IoU 0


def test_no_ground_truth_at_all() -> None:
    stats = proposal_stats(coco({1: []}), [entry(1, [], [])], budgets=(100,))
    assert stats["gt_wh"].shape == (0, 2) and stats["best_iou_100"].shape == (0,)
    assert stats["proposal_iou_hist_100"].sum() == 0
    assert np.array_equal(stats["iou_bins"], IOU_BINS)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    gt = coco({1: [[0, 0, 10, 10]], 2: [[5, 5, 10, 5]]})
    stats = proposal_stats(gt, [entry(1, [[0, 0, 10, 10]], [1.0]), entry(2, [[5, 5, 15, 10]], [1.0])])
    path = save_stats(tmp_path / "deep" / "proposal_stats.npz", stats)
    loaded = load_stats(path)
    assert set(loaded) == set(stats)
    for key in stats:
        assert np.array_equal(loaded[key], stats[key]), key
    assert not list(path.parent.glob("*.tmp*"))  # written atomically


def test_missed_fractions_by_size_and_aspect_by_hand():
    from scrpn.evaluation.proposal_stats import missed_fractions
    stats = {"gt_wh": np.array([[10, 10], [40, 40], [200, 100], [80, 10], [20, 100]], dtype=np.float32),
             "best_iou_1000": np.array([0.2, 0.8, 0.29, 0.3, 0.1], dtype=np.float32)}
    # areas 100 (S), 1600 (M), 20000 (L), 800 (S), 2000 (M); aspects 1, 1, 2, 8, 5
    # missed (< 0.3): objects 0, 2, 4 (0.3 itself is found)
    out = missed_fractions(stats)
    assert out["all"] == pytest.approx(3 / 5)
    assert out["S"] == pytest.approx(1 / 2) and out["M"] == pytest.approx(1 / 2) and out["L"] == 1.0
    assert out["aspect<4"] == pytest.approx(2 / 3) and out["aspect>=4"] == pytest.approx(1 / 2)
    assert math.isnan(missed_fractions({**stats, "gt_wh": stats["gt_wh"][:2],
                                        "best_iou_1000": stats["best_iou_1000"][:2]})["L"])
