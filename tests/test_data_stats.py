"""FPN level rule (paper eq. 1), dataset card on a hand-made json, and batch collation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from scrpn.data import collate_batch, dataset_card, format_card, fpn_level
from scrpn.data.collate import padded_size


def test_fpn_level_is_paper_eq1_for_base_32():
    # i_g = floor((log2 S - 9) / 2), clamped to [0, 4]
    for side, level in [(1, 0), (32, 0), (45, 0), (46, 1), (64, 1), (90, 1), (91, 2), (128, 2),
                        (181, 2), (182, 3), (362, 3), (363, 4), (5000, 4)]:
        assert fpn_level(side * side, 32.0) == level, side
        assert fpn_level(side * side, 32.0) == min(max(math.floor((math.log2(side * side) - 9) / 2), 0), 4)


def test_fpn_level_base_16_thresholds_and_array_types():
    sides = np.array([10, 22, 23, 45, 46, 90, 91, 180, 182, 300], dtype=np.float64)
    expected = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert fpn_level(sides**2, 16.0).tolist() == expected
    assert fpn_level(torch.tensor(sides**2, dtype=torch.float32), 16.0).tolist() == expected
    assert fpn_level(torch.tensor([0.0, -1.0]), 16.0).tolist() == [0, 0]
    assert fpn_level(0.0) == 0


def test_fpn_level_matches_mmdet_region_assigner():
    # mmdetection: floor(log2(sqrt(area)) - log2(8 * 4) + 0.5)
    areas = np.exp(np.random.default_rng(0).uniform(0, 14, 500))
    mmdet = np.clip(np.floor(np.log2(np.sqrt(areas)) - np.log2(32) + 0.5), 0, 4)
    assert (fpn_level(areas, 32.0) == mmdet).all()


def _tiny_json(tmp_path):
    anns = [  # bbox [x, y, w, h]; area is the annotation area used for COCO size bins
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 40, 5], "area": 200, "iscrowd": 0},
        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 0},
        {"id": 4, "image_id": 2, "category_id": 1, "bbox": [0, 0, 200, 200], "area": 30000, "iscrowd": 0},
        {"id": 5, "image_id": 2, "category_id": 1, "bbox": [0, 0, 300, 300], "area": 9e4, "iscrowd": 1},
    ]
    data = {"images": [{"id": i, "file_name": f"{i}.png", "width": 320, "height": 320} for i in (1, 2, 3)],
            "annotations": anns, "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


def test_dataset_card_hand_worked(tmp_path):
    card = dataset_card(_tiny_json(tmp_path), base_scale=16.0)
    assert card["images"] == 3 and card["instances"] == 4 and card["crowd_instances"] == 1
    ipi = card["instances_per_image"]
    assert (ipi["mean"], ipi["min"], ipi["max"]) == (pytest.approx(4 / 3), 0, 3)
    assert ipi["histogram"]["0"] == 1 and ipi["histogram"]["1"] == 1 and ipi["histogram"]["2-3"] == 1
    assert card["size_bins"] == {"small": 0.5, "medium": 0.25, "large": 0.25}
    # box sides sqrt(w*h): 10 -> P2, 14.1 -> P2, 50 -> P4, 200 -> P6
    assert card["fpn_levels"] == {"P2": 0.5, "P3": 0.0, "P4": 0.25, "P5": 0.0, "P6": 0.25}
    # aspect 40x5 = 8 falls in "6-8" (right-closed bins), not in ">8"
    assert card["aspect_ratio"]["1-1.5"] == 0.75 and card["aspect_ratio"]["6-8"] == 0.25
    assert card["aspect_ratio"][">8"] == 0.0
    assert card["categories"] == {"a": 3, "b": 1}
    text = format_card(card)
    assert "| images | 3 |" in text and "| FPN level P6 (base 16) | 25.0 % |" in text


def test_collate_pads_to_multiple_of_32():
    a = (torch.ones(3, 50, 70), {"img_shape": (50, 70)})
    b = (torch.full((3, 64, 33), 0.5), {"img_shape": (64, 33)})
    images, targets = collate_batch([a, b])
    assert images.shape == (2, 3, 64, 96)
    assert images[0, :, :50, :70].min() == 1.0 and images[0, :, 50:].abs().sum() == 0
    assert images[0, :, :, 70:].abs().sum() == 0 and images[1, :, :, 33:].abs().sum() == 0
    assert [t["img_shape"] for t in targets] == [(50, 70), (64, 33)]
    assert padded_size([(32, 32)]) == (32, 32) and padded_size([(33, 1)], 8) == (40, 8)
    with pytest.raises(ValueError):
        collate_batch([])
