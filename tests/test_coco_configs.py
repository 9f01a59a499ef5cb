"""The COCO configs hold the paper's implementation details and run end to end at full resolution.

Section IV-A: ResNet50-FPN, 1333x800 keep-ratio resize, flip only, sigma 0.2, loss weights cls 2.0
/ init 0.5 / refined 10.0 / mask 1.0, per-head NMS 0.8, SGD (momentum 0.9, weight decay 1e-4) with
a total batch of 4 on 2 GPUs at lr 0.005, 12 epochs with steps after 8 and 11, mmdetection's
warm-up (500 iterations from 0.001). The rows: the proposal networks of Table I (RPN, Iterative
RPN, Cascade RPN, GA-RPN, SC-RPN) and the detectors (``det_*``) of Table II (Fast and Faster
R-CNN on RPN / SC-RPN: mmdetection's full-size R-CNN with the paper's 300 proposals and R-CNN
positive IoU 0.65) and Table IX (Double-Head and Cascade R-CNN, 1000 proposals, IoU 0.5).

The run test builds a two-image COCO set at real image sizes (640x480, 500x375) with COCO's 80
category ids (1..90 with gaps) and trains EVERY row for 2 iterations on the CPU through the CLI,
keeping the 1333x800 resize and every code path of the model; for speed only the widths (FPN /
head channels, the R-CNN's FCs and Double-Head convs) are reduced and the ResNet50 body is frozen
(``frozen_stages=4``: same forward pass, no backbone gradients). Proposal networks report AR;
detectors report box AP (their test score threshold is set to 0 so that the untrained 81-way
classifier still outputs detections and the label -> category id mapping runs). Fast R-CNN reads
a proposals json (COCO results format) written by the test for the tiny set.
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
from scrpn.build import build_roi_head, num_classes_of
from scrpn.study.runs import row_folders

COCO_DIR = Path(__file__).resolve().parents[1] / "configs" / "coco"
ROWS = sorted(p.stem for p in COCO_DIR.glob("*.yaml") if not p.stem.startswith("_"))
DET_ROWS = [row for row in ROWS if row.startswith("det_")]
MINI_DIR = COCO_DIR.parent / "mini"
REQUIRED = {"rpn", "iterative_rpn", "cascade_rpn", "ga_rpn", "sc_rpn",
            "det_fast_rcnn_rpn", "det_fast_rcnn_sc_rpn", "det_faster_rcnn_rpn",
            "det_faster_rcnn_sc_rpn"}
# MS COCO 2017's 80 category ids (1..90 without 12, 26, 29, 30, 45, 66, 68, 69, 71, 83).
COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}]


def proposal_row_of(row: str) -> str:
    """``det_<detector>_<method>`` -> ``<method>`` (the proposal network's own COCO row)."""
    for detector in ("fast_rcnn", "faster_rcnn", "double_head", "cascade_rcnn"):
        if row.startswith(f"det_{detector}_"):
            return row[len(f"det_{detector}_"):]
    raise ValueError(row)


def test_every_required_row_exists():
    assert REQUIRED <= set(ROWS)
    for row in ROWS:   # each COCO row mirrors a mini row of the same name
        assert any((folder / f"{row}.yaml").is_file() for folder in row_folders(MINI_DIR)), row
    for row in DET_ROWS:   # ... and each detector sits on a COCO proposal row
        assert proposal_row_of(row) in ROWS, row


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
    assert backbone.frozen_stages == 1
    assert head.feat_channels == 256
    assert head.anchor_scale == 8.0 and cfg.level_base_scale == 32.0   # eq. (1) exactly
    t = cfg.train
    assert t.batch_size == 2 and t.base_batch_size == 4 and t.base_lr == 0.005   # 2 GPUs x 2
    assert (t.momentum, t.weight_decay) == (0.9, 1e-4)
    assert t.by_epoch and t.max_epochs == 12 and t.lr_steps == [8, 11] and t.lr_gamma == 0.1
    assert (t.warmup_iters, t.warmup_ratio) == (500, 0.001)
    assert t.amp is False
    # Cascade RPN and GA-RPN keep their own recipes' clipping; the paper's rows and mmdetection's
    # R-CNN detectors (faster / fast / dh-faster / cascade-rcnn_r50_fpn_1x) clip nothing.
    assert t.grad_clip == (35.0 if row in ("cascade_rpn", "ga_rpn") else None)
    assert cfg.eval.max_dets == [100, 300, 1000]
    assert cfg.detector.type == ("none" if row not in DET_ROWS else
                                 row.split("_")[1] + "_" + row.split("_")[2])


@pytest.mark.parametrize("row", DET_ROWS)
def test_detector_rows_are_mmdetection_full_size_r_cnn(row):
    cfg = load_config(COCO_DIR / f"{row}.yaml")
    det = cfg.detector
    # The proposal network (or, for Fast R-CNN, the backbone) is the COCO row's, unchanged.
    assert cfg.model == load_config(COCO_DIR / f"{proposal_row_of(row)}.yaml").model
    assert num_classes_of(cfg) == 80 and det.num_classes == 0
    # mmdetection's R-CNN: RoIAlign 7x7 (sampling_ratio 0) on P2-P5, 512 RoIs at 25 % positives
    # with the gts added, two shared FCs of 1024, test score 0.05, NMS 0.5, 100 per image.
    assert (det.roi_size, det.sampling_ratio, det.finest_scale) == (7, 0, 56.0)
    assert (det.sampler.num, det.sampler.pos_fraction, det.add_gt_as_proposals) == (512, 0.25, True)
    assert (det.fc_channels, det.num_fcs) == (1024, 2)
    assert (det.score_thr, det.nms_thr, det.max_per_img) == (0.05, 0.5, 100)
    assert det.reg_class_agnostic is False
    if row.startswith(("det_fast_rcnn_", "det_faster_rcnn_")):
        # Table II: the paper's adjustment (after GA-RPN) of faster-rcnn_r50_fpn_1x.
        assert (det.num_proposals, det.pos_iou_thr) == (300, 0.65)
        assert det.target_stds == [0.1, 0.1, 0.2, 0.2] and det.reg_loss == "l1"
        assert (det.cls_weight, det.reg_weight) == (1.0, 1.0)
    else:
        # Table IX: 1000 proposals and mmdetection's standard R-CNN IoU 0.5.
        assert (det.num_proposals, det.pos_iou_thr) == (1000, 0.5)
        assert (det.reg_loss, det.smooth_l1_beta) == ("smooth_l1", 1.0)
    if det.type == "double_head":   # dh-faster-rcnn_r50_fpn_1x
        assert (det.conv_channels, det.num_convs, det.reg_roi_scale) == (1024, 4, 1.3)
        assert (det.cls_weight, det.reg_weight) == (2.0, 2.0)
        assert det.target_stds == [0.1, 0.1, 0.2, 0.2]
    if det.type == "cascade_rcnn":  # cascade-rcnn_r50_fpn_1x
        assert det.cascade_iou_thrs == [0.5, 0.6, 0.7]
        assert det.cascade_stds == [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                                    [0.033, 0.033, 0.067, 0.067]]
        assert det.cascade_loss_weights == [1.0, 0.5, 0.25]
        assert (det.cls_weight, det.reg_weight) == (1.0, 1.0)
    # The widths reach the modules: 256 x 7 x 7 -> 1024 -> 1024 -> 81 classes / 80 x 4 deltas.
    roi_head = build_roi_head(det, cfg.model.backbone.fpn_channels, num_classes_of(cfg))
    assert len(roi_head.stages) == (3 if det.type == "cascade_rcnn" else 1)
    for stage in roi_head.stages:
        head = stage.bbox_head
        fcs = head.cls_fcs if det.type == "double_head" else head.shared_fcs
        assert [tuple(m.weight.shape) for m in fcs if hasattr(m, "weight")] == \
            [(1024, 256 * 7 * 7), (1024, 1024)]
        assert head.fc_cls.out_features == 81
        assert head.fc_reg.out_features == (4 if det.type == "cascade_rcnn" else 320)
    assert roi_head.extractor.sampling_ratio == 0 and roi_head.sampler.num == 512


@pytest.mark.parametrize("row", [r for r in DET_ROWS if r.startswith("det_fast_rcnn_")])
def test_fast_rcnn_reads_the_proposals_its_comment_dumps(row):
    """The config's proposals paths are where the commands in its header comment write them."""
    text = (COCO_DIR / f"{row}.yaml").read_text()
    det = load_config(COCO_DIR / f"{row}.yaml").detector
    method = proposal_row_of(row)
    for split, path in (("train", det.train_proposals), ("val", det.val_proposals)):
        assert path == f"work_dirs/coco/{method}/seed0/proposals_{split}/proposals.json"
        assert (f"--checkpoint work_dirs/coco/{method}/seed0/final.pth" in text
                and f"--split {split} --dump-proposals --out {Path(path).parent}" in text)
    train = f"scrpn train --config configs/coco/{method}.yaml --out work_dirs/coco/{method}/seed0"
    assert train in text
    assert text.count("--set model.test.max_per_img=300") == 2


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
    """Two images at COCO sizes, a few boxes each, as MS COCO 2017's layout (train = val), with
    COCO's 80 category ids (the objects use ids 1, 44 and 90: labels 1, 40 and 80)."""
    rng = np.random.default_rng(0)
    images, anns = [], []
    for image_id, (w, h) in enumerate([(640, 480), (500, 375)], start=1):
        pixels = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        for k in range(3):
            x, y = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            bw, bh = int(rng.integers(20, w // 2)), int(rng.integers(20, h // 2))
            pixels[y:y + bh, x:x + bw] = 80 * (k + 1)
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": (1, 44, 90)[k],
                         "bbox": [x, y, bw, bh], "area": bw * bh, "iscrowd": 0})
        images.append({"id": image_id, "file_name": f"{image_id:012d}.png",
                       "width": w, "height": h})
        for split in ("train2017", "val2017"):
            (root / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / split / images[-1]["file_name"])
    data = {"images": images, "annotations": anns,
            "categories": [{"id": i, "name": f"c{i}"} for i in COCO_CATEGORY_IDS]}
    (root / "annotations").mkdir(exist_ok=True)
    for split in ("train", "val"):
        (root / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(data))


def write_tiny_proposals(root: Path, path: Path, per_image: int = 400) -> Path:
    """A proposals file for the tiny set, as ``scrpn evaluate --dump-proposals`` writes them: COCO
    results json (``category_id`` 1, ``bbox`` [x, y, w, h] in original pixels, ``score``).

    Per image: each gt box jittered a few times (R-CNN positives at IoU 0.65) and random boxes,
    more than the 300 the Table II rows keep (the store cuts them to the best-scoring ones).
    """
    rng = np.random.default_rng(1)
    data = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    results = []
    for image in data["images"]:
        w, h = image["width"], image["height"]
        gts = [a["bbox"] for a in data["annotations"] if a["image_id"] == image["id"]]
        boxes = [[x + dx * bw, y + dy * bh, bw * (1 + dw), bh * (1 + dh)]
                 for x, y, bw, bh in gts for dx, dy, dw, dh in rng.uniform(-0.08, 0.08, (10, 4))]
        while len(boxes) < per_image:
            x, y = rng.uniform(0, w - 8), rng.uniform(0, h - 8)
            boxes.append([x, y, rng.uniform(4, w - x), rng.uniform(4, h - y)])
        scores = rng.uniform(0.0, 1.0, len(boxes))
        results += [{"image_id": image["id"], "category_id": 1,
                     "bbox": [round(float(v), 2) for v in box], "score": float(s)}
                    for box, s in zip(boxes, scores)]
    path.write_text(json.dumps(results))
    return path


@pytest.fixture(scope="module")
def tiny_coco(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("coco")
    write_tiny_coco(root)
    return root


def small_detector(row: str, tiny_coco: Path, tmp_path: Path) -> list[str]:
    """--set items of a detector row: reduced R-CNN widths, every image gets detections (score
    threshold 0) and, for Fast R-CNN, proposals files of the tiny set (train = val images)."""
    if not row.startswith("det_"):
        return []
    items = ["detector.fc_channels=16", "detector.conv_channels=16", "detector.num_convs=1",
             "detector.score_thr=0.0"]
    if row.startswith("det_fast_rcnn_"):
        train = write_tiny_proposals(tiny_coco, tmp_path / "proposals_train.json")
        val = write_tiny_proposals(tiny_coco, tmp_path / "proposals_val.json")
        items += [f"detector.train_proposals={train}", f"detector.val_proposals={val}"]
    return items


# Detector rows train at half the paper's resolution: their proposal heads are the proposal rows'
# (run at 1333x800 above them), and the R-CNN part does not depend on the image size; at full size
# the nine detector rows alone took two and a half minutes of the suite.
HALF_SIZE = ["data.max_size=[667,400]"]


@pytest.mark.parametrize("row", ROWS)
def test_two_iterations_through_the_cli(row, tiny_coco, tmp_path, capsys):
    """Every COCO row trains two iterations, evaluates and dumps through the CLI: the proposal
    rows at the paper's 1333x800, the detector rows at half of it (``HALF_SIZE``)."""
    out = tmp_path / "run"
    status = main(["train", "--config", str(COCO_DIR / f"{row}.yaml"), "--out", str(out),
                   "--no-progress", "--device", "cpu", "--set", f"data.root={tiny_coco}",
                   "model.backbone.pretrained=false", "model.backbone.frozen_stages=4",
                   "model.backbone.fpn_channels=16",
                   "model.head.feat_channels=16", "train.batch_size=1", "train.max_epochs=1",
                   "data.num_workers=0", "data.val_limit=1", "eval.timing_images=1",
                   "model.test.nms_pre=300",
                   "train.num_threads=2", "train.log_interval=1",
                   *small_detector(row, tiny_coco, tmp_path), *(HALF_SIZE if row in DET_ROWS else []),
                   "--dump-proposals"])
    assert status == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    train = [r for r in log if r["type"] == "train"]
    assert train[-1]["iter"] == 2 and all(math.isfinite(r["loss"]) for r in train)
    # The paper's lr 0.005 at batch 4, linearly scaled to this global batch of 1, warming up from
    # 0.001 over 500 iterations.
    assert [r["lr"] for r in train] == pytest.approx([0.005 / 4 * 0.001,
                                                      0.005 / 4 * (0.001 + 0.999 / 500)])
    metrics = json.loads((out / "metrics.json").read_text())
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    dumped = json.loads((out / "proposals.json").read_text())
    assert {r["image_id"] for r in dumped} <= {1}
    assert metrics["num_images"] == 1 and metrics["name"] == row and metrics["profile"] == "full"
    if row in DET_ROWS:
        # R-CNN losses (every cascade stage), box AP of the detections on the val image
        stages = ["rcnn1", "rcnn2", "rcnn3"] if "cascade_rcnn" in row else ["rcnn"]
        assert {f"loss_{s}_{k}" for s in stages for k in ("cls", "reg")} <= set(train[-1])
        if not row.startswith("det_fast_rcnn_"):   # end to end: the proposal head learns too
            assert any(k.startswith("loss_s") for k in train[-1])
        assert metrics["AP"] is not None and "AR1000" not in metrics
        assert printed["AP"] is not None
        # --dump-proposals wrote the detections: at most 100, labels mapped to COCO's category ids
        assert 0 < len(dumped) <= 100
        assert {r["category_id"] for r in dumped} <= set(COCO_CATEGORY_IDS)
    else:
        assert metrics["AR1000"] is not None and "AP" not in metrics
        assert printed["AR100"] is not None
        assert 0 < len(dumped) <= 1000 and {r["category_id"] for r in dumped} == {1}
