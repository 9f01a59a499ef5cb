"""The COCO configs hold the paper's implementation details and run end to end at full resolution.

Section IV-A: ResNet50-FPN, 1333x800 keep-ratio resize, flip only, sigma 0.2, loss weights cls 2.0
/ init 0.5 / refined 10.0 / mask 1.0, per-head NMS 0.8, SGD (momentum 0.9, weight decay 1e-4) with
a total batch of 4 on 2 GPUs at lr 0.005, 12 epochs with steps after 8 and 11, mmdetection's
warm-up (500 iterations from 0.001). The run test builds a two-image COCO set at real image sizes
(640x480, 500x375) and trains RPN and SC-RPN for 2 iterations on the CPU through the CLI, keeping
the 1333x800 resize and every code path of the model; for speed only the widths (FPN / head
channels) are reduced and the ResNet50 body is frozen (``frozen_stages=4``: same forward pass, no
backbone gradients). The peer rows are checked for their values only (their heads run in their
own mini / smoke tests).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scrpn.cli import main
from scrpn.config import load_config

COCO_DIR = Path(__file__).resolve().parents[1] / "configs" / "coco"
ROWS = sorted(p.stem for p in COCO_DIR.glob("*.yaml") if not p.stem.startswith("_"))
MINI_DIR = COCO_DIR.parent / "mini"


def test_every_required_row_exists():
    assert {"rpn", "sc_rpn"} <= set(ROWS)
    for row in ROWS:   # each COCO row mirrors a mini row of the same name
        assert (MINI_DIR / f"{row}.yaml").is_file(), row


@pytest.mark.parametrize("row", ROWS)
def test_paper_setting(row):
    cfg = load_config(COCO_DIR / f"{row}.yaml")
    assert cfg.profile == "full" and cfg.name == row
    assert cfg.data.dataset == "coco" and cfg.data.root == "data/coco"
    assert (cfg.data.train_split, cfg.data.val_split) == ("train", "val")
    assert cfg.data.max_size == [1333, 800] and cfg.data.flip_prob == 0.5
    assert cfg.data.val_limit is None
    backbone, head = cfg.model.backbone, cfg.model.head
    assert (backbone.name, backbone.fpn_channels, backbone.pretrained) == ("resnet50", 256, True)
    assert head.feat_channels == 256
    assert head.anchor_scale == 8.0 and cfg.level_base_scale == 32.0   # eq. (1) exactly
    t = cfg.train
    assert t.batch_size == 2 and t.base_batch_size == 4 and t.base_lr == 0.005   # 2 GPUs x 2
    assert (t.momentum, t.weight_decay) == (0.9, 1e-4)
    assert t.by_epoch and t.max_epochs == 12 and t.lr_steps == [8, 11] and t.lr_gamma == 0.1
    assert (t.warmup_iters, t.warmup_ratio) == (500, 0.001)
    assert t.amp is False
    assert t.grad_clip == (35.0 if row in ("cascade_rpn", "ga_rpn") else None)
    assert cfg.eval.max_dets == [100, 300, 1000]


def test_sc_rpn_is_the_paper_head():
    cfg = load_config(COCO_DIR / "sc_rpn.yaml")
    head, test = cfg.model.head, cfg.model.test
    assert head.representation == "point" and head.alignment == "point" and head.num_stages == 2
    assert head.stage1.assigner.type == "positive_region"
    assert head.stage1.assigner.center_ratio == 0.2                       # sigma
    assert head.stage2.assigner.type == "size_aware_threshold"
    assert (head.stage2.assigner.topk, head.stage2.assigner.num_levels) == (9, 2)
    assert head.stage1.reg_loss == head.stage2.reg_loss == "iou"
    assert head.stage2.cls_weight == 2.0                                  # lambda_cls
    assert head.stage1.reg_weight == 0.5                                  # lambda_init
    assert head.stage2.reg_weight == 10.0                                 # lambda_refined
    assert head.iou_mask.enabled and head.iou_mask.weight == 1.0          # lambda_mask
    assert (test.nms_thr, test.cross_level_nms, test.cross_level_nms_thr) == (0.8, True, 0.8)
    assert (test.nms_pre, test.max_per_img) == (2000, 1000)


def test_rpn_is_mmdetection_rpn():
    cfg = load_config(COCO_DIR / "rpn.yaml")
    head, test = cfg.model.head, cfg.model.test
    assert head.anchor_ratios == [0.5, 1.0, 2.0] and head.num_stages == 1
    assert (test.nms_pre, test.nms_thr, test.max_per_img, test.cross_level_nms) == \
        (2000, 0.7, 1000, False)


def write_tiny_coco(root: Path) -> None:
    """Two images at COCO sizes, a few boxes each, as MS COCO 2017's layout (train = val)."""
    rng = np.random.default_rng(0)
    images, anns = [], []
    for image_id, (w, h) in enumerate([(640, 480), (500, 375)], start=1):
        pixels = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        for k in range(3):
            x, y = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            bw, bh = int(rng.integers(20, w // 2)), int(rng.integers(20, h // 2))
            pixels[y:y + bh, x:x + bw] = 80 * (k + 1)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1 + k % 2,
                         "bbox": [x, y, bw, bh], "area": bw * bh, "iscrowd": 0})
        images.append({"id": image_id, "file_name": f"{image_id:012d}.png",
                       "width": w, "height": h})
        for split in ("train2017", "val2017"):
            (root / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / split / images[-1]["file_name"])
    data = {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    (root / "annotations").mkdir(exist_ok=True)
    for split in ("train", "val"):
        (root / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(data))


@pytest.fixture(scope="module")
def tiny_coco(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("coco")
    write_tiny_coco(root)
    return root


@pytest.mark.parametrize("row", ["rpn", "sc_rpn"])
def test_two_full_resolution_iterations_through_the_cli(row, tiny_coco, tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["train", "--config", str(COCO_DIR / f"{row}.yaml"), "--out", str(out),
                   "--no-progress", "--device", "cpu", "--set", f"data.root={tiny_coco}",
                   "model.backbone.pretrained=false", "model.backbone.frozen_stages=4",
                   "model.backbone.fpn_channels=16",
                   "model.head.feat_channels=16", "train.batch_size=1", "train.max_epochs=1",
                   "data.num_workers=0", "data.val_limit=1", "eval.timing_images=1",
                   "model.test.nms_pre=300",
                   "train.num_threads=2", "train.log_interval=1"])
    assert status == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    train = [r for r in log if r["type"] == "train"]
    assert train[-1]["iter"] == 2 and all(math.isfinite(r["loss"]) for r in train)
    # The paper's lr 0.005 at batch 4, linearly scaled to this global batch of 1, warming up from
    # 0.001 over 500 iterations.
    assert [r["lr"] for r in train] == pytest.approx([0.005 / 4 * 0.001,
                                                      0.005 / 4 * (0.001 + 0.999 / 500)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_images"] == 1 and metrics["AR1000"] is not None
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["AR100"] is not None
