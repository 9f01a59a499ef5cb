"""DeepForest loader: box count, tiling rule, spatial train/val split without leakage."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from scrpn.data import DataError, DeepForestDataset, count_labelled_boxes, prepare_deepforest
from scrpn.data import deepforest as df


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare_deepforest(cache_dir=tmp_path_factory.mktemp("deepforest"))


def test_package_ships_951_boxes():
    counts = count_labelled_boxes()
    assert counts["xml_boxes"] == 951
    assert counts["per_image"]["OSBS_029"] == 61 and counts["per_image"]["SOAP_061"] == 37
    assert counts["csv_rows_duplicating_xml"] >= counts["csv_rows"] - 2  # the csv files repeat the xml


def test_tile_starts_hand_worked():
    assert df.tile_starts(700, 320, 32) == [0, 288, 380]
    assert df.tile_starts(320, 320, 32) == [0]
    assert df.tile_starts(100, 320, 32) == [0]
    assert df.tile_starts(609, 320, 32) == [0, 288, 289]


def test_boxes_in_tile_visibility_rule():
    boxes = np.array([[10, 10, 30, 30],      # inside
                      [90, 10, 110, 30],     # half inside -> kept (>= 0.5)
                      [95, 10, 115, 30],     # quarter inside -> crowd (ignored)
                      [200, 10, 220, 30]],   # outside -> dropped
                     dtype=np.float32)
    out, crowd = df.boxes_in_tile(boxes, (0, 0, 100, 100))
    assert out.tolist() == [[10, 10, 30, 30], [90, 10, 100, 30], [95, 10, 100, 30]]
    assert crowd.tolist() == [False, False, True]
    out, _ = df.boxes_in_tile(boxes, (50, 5, 150, 105))
    assert out[0].tolist() == [40, 5, 60, 25]  # tile-relative


def test_split_has_no_leakage_and_boxes_inside(prepared):
    tiles = {}
    for split in ("train", "val"):
        data = json.loads(prepared[split][0].read_text())
        sizes = {img["id"]: (img["width"], img["height"]) for img in data["images"]}
        for img in data["images"]:
            tiles.setdefault(img["source"], {}).setdefault(split, []).append(img["tile"])
            assert (prepared[split][1] / img["file_name"]).is_file()
        for ann in data["annotations"]:
            x, y, w, h = ann["bbox"]
            iw, ih = sizes[ann["image_id"]]
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= iw and y + h <= ih
    assert len(tiles) == 4
    for source, by_split in tiles.items():
        train_right = max(t[2] for t in by_split["train"])
        val_left = min(t[0] for t in by_split["val"])
        assert train_right <= val_left, source  # no pixel column in both splits


def test_dataset_samples(prepared):
    cache_dir = prepared["train"][0].parent
    train = DeepForestDataset("train", cache_dir=cache_dir)
    val = DeepForestDataset("val", cache_dir=cache_dir)
    assert len(train) > len(val) > 0 and train.ann_file == prepared["train"][0]
    img, tgt = val[0]
    assert img.shape[0] == 3 and tgt["img_shape"] == tuple(img.shape[1:]) and tgt["scale_factor"] == 1.0
    assert (tgt["labels"] == 1).all()
    assert (tgt["boxes"][:, 2] <= img.shape[2]).all() and (tgt["boxes"][:, 3] <= img.shape[1]).all()
    with pytest.raises(ValueError, match="'train' or 'val'"):
        DeepForestDataset("test", cache_dir=cache_dir)


def test_missing_package_gives_install_hint(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install --no-deps deepforest==2.1.0"):
        df.find_deepforest_data()
