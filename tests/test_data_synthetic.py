"""SynthShapes: determinism, COCO validity, the statistics it promises, and the dataset wrapper."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from scrpn.data import (CATEGORIES, SynthShapesConfig, SynthShapesDataset, build_dataset, dataset_card,
                        fpn_level, render_sample, write_coco_split)

STATS_IMAGES = 300
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")


@pytest.fixture(scope="module")
def sample_set():
    cfg = SynthShapesConfig()
    return [render_sample(cfg, "train", i) for i in range(STATS_IMAGES)]


def test_render_is_deterministic_and_seed_dependent():
    cfg = SynthShapesConfig()
    img_a, anns_a = render_sample(cfg, "train", 11)
    img_b, anns_b = render_sample(cfg, "train", 11)
    assert img_a.dtype == np.uint8 and img_a.shape == (320, 320, 3)
    assert img_a.tobytes() == img_b.tobytes() and anns_a == anns_b
    assert render_sample(SynthShapesConfig(seed=1), "train", 11)[0].tobytes() != img_a.tobytes()
    assert render_sample(cfg, "val", 11)[0].tobytes() != img_a.tobytes()
    assert render_sample(cfg, "train", 12)[0].tobytes() != img_a.tobytes()
    with pytest.raises(IndexError):
        render_sample(cfg, "val", cfg.num_val)


def test_bbox_and_area_match_visible_mask(sample_set):
    for img, anns in sample_set[:60]:
        for ann in anns:
            mask = mask_utils.decode(ann["segmentation"])
            ys, xs = np.nonzero(mask)
            x, y, w, h = ann["bbox"]
            assert (x, y, x + w, y + h) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert 0 <= x and 0 <= y and x + w <= 320 and y + h <= 320
            assert ann["area"] == mask.sum() >= 4 and ann["iscrowd"] == 0
        # visible masks of one image never overlap
        if anns:
            stacked = np.stack([mask_utils.decode(a["segmentation"]) for a in anns])
            assert stacked.sum(0).max() <= 1


def test_statistics_match_coco_like_targets(sample_set):
    anns = [a for _, image_anns in sample_set for a in image_anns]
    counts = np.array([len(x) for _, x in sample_set])
    assert 6.3 <= counts.mean() <= 7.7 and counts.max() >= 15  # COCO: 7.3, long tail
    area = np.array([a["area"] for a in anns])
    shares = [(area < 32**2).mean(), ((area >= 32**2) & (area < 96**2)).mean(), (area >= 96**2).mean()]
    assert np.allclose(shares, [0.41, 0.34, 0.24], atol=0.05), shares
    wh = np.array([a["bbox"][2:] for a in anns])
    levels = fpn_level(wh[:, 0] * wh[:, 1], base_scale=16.0)
    assert all((levels == i).mean() > 0.08 for i in range(5)), np.bincount(levels)
    aspect = wh.max(1) / wh.min(1)
    assert (aspect >= 6).sum() >= 10  # slender objects ("toothbrush, knife")
    assert {a["category_id"] for a in anns} == {c["id"] for c in CATEGORIES} and len(CATEGORIES) >= 8


def test_write_coco_split_roundtrip(tmp_path):
    cfg = SynthShapesConfig(num_train=5, num_val=4, seed=3)
    json_path = write_coco_split(cfg, "val", tmp_path)
    coco = COCO(str(json_path))
    assert sorted(coco.getImgIds()) == [1, 2, 3, 4]
    ann = coco.loadAnns(coco.getAnnIds(imgIds=[2]))[0]
    assert coco.annToMask(ann).sum() == ann["area"]
    image, anns = render_sample(cfg, "val", 1)
    from PIL import Image
    assert np.array_equal(np.asarray(Image.open(tmp_path / "val" / "000001.png")), image)
    assert coco.loadAnns(coco.getAnnIds(imgIds=[2])) == anns
    mtime = os.stat(json_path).st_mtime_ns
    assert write_coco_split(cfg, "val", tmp_path) == json_path and os.stat(json_path).st_mtime_ns == mtime
    train_json = write_coco_split(cfg, "train", tmp_path)
    assert len(json.loads(train_json.read_text())["images"]) == 5
    assert not (tmp_path / "train" / "000000.png").exists()  # train renders on the fly
    assert dataset_card(train_json)["images"] == 5


def test_dataset_train_and_val_agree_with_renderer(tmp_path):
    cfg = SynthShapesConfig(num_train=6, num_val=3)
    train = SynthShapesDataset("train", cfg, cache_dir=tmp_path)
    val = build_dataset("synthshapes", "val", config=cfg, cache_dir=tmp_path)
    assert len(train) == 6 and len(val) == 3 and val.image_ids == [1, 2, 3]
    for ds, split in ((train, "train"), (val, "val")):
        img, tgt = ds[2]
        raw, anns = render_sample(cfg, split, 2)
        assert torch.equal(img, torch.from_numpy(raw).permute(2, 0, 1).float() / 255)
        expected = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                                  a["bbox"][1] + a["bbox"][3]] for a in anns])
        assert torch.equal(tgt["boxes"], expected) and tgt["boxes"].dtype == torch.float32
        assert tgt["labels"].tolist() == [a["category_id"] for a in anns]
        assert tgt["image_id"] == 3 and tgt["scale_factor"] == 1.0 and tgt["img_shape"] == (320, 320)
    assert val.ann_file.is_file() and val.skipped == {}


def test_train_flip_reproducible(tmp_path):
    cfg = SynthShapesConfig(num_train=8, num_val=1)
    flipped = SynthShapesDataset("train", cfg, flip_prob=1.0, cache_dir=tmp_path)
    plain = SynthShapesDataset("train", cfg, cache_dir=tmp_path)
    img_f, tgt_f = flipped[0]
    img_p, tgt_p = plain[0]
    assert torch.equal(img_f, img_p.flip(-1))
    assert torch.equal(tgt_f["boxes"][:, [0, 2]], 320 - tgt_p["boxes"][:, [2, 0]])
    half = SynthShapesDataset("train", cfg, flip_prob=0.5, cache_dir=tmp_path)
    half.set_epoch(3)
    decisions = [half[i][1]["flipped"] for i in range(8)]
    assert decisions == [half[i][1]["flipped"] for i in range(8)]


def test_cache_dir_env_override_and_hash(monkeypatch, tmp_path):
    from scrpn.data.synthetic import default_cache_dir
    cfg = SynthShapesConfig()
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path))
    assert default_cache_dir(cfg) == tmp_path / "synthshapes" / cfg.params_hash()
    monkeypatch.delenv("SCRPN_DATA")
    assert default_cache_dir(cfg).parts[-3:-1] == ("data", "synthshapes")
    assert cfg.params_hash() == SynthShapesConfig().params_hash() != SynthShapesConfig(seed=1).params_hash()


def test_build_dataset_names(tmp_path):
    ds = build_dataset("synthshapes", "train", num_train=3, num_val=1, cache_dir=tmp_path)
    assert len(ds) == 3 and ds.config.num_train == 3
    with pytest.raises(ValueError, match="unknown dataset"):
        build_dataset("imagenet", "train")
    with pytest.raises(ValueError, match="split must be one of"):
        build_dataset("synthshapes", "test", cache_dir=tmp_path)
