"""R-CNN detectors on top of the proposals: configs, proposals files, box AP, the CLI end to end."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from scrpn.cli import main
from scrpn.config import ConfigError, load_config
from scrpn.build import num_classes_of
from scrpn.detectors import FastRCNN, ProposalStore, TwoStageDetector, to_input_coords
from scrpn.engine.evaluator import evaluate_model, to_original_coords
from scrpn.evaluation import dump_proposals
from scrpn.build import build_model
from conftest import last_json, train_step_then_predict

ROOT = Path(__file__).parents[1]
DETECTORS = ROOT / "configs" / "mini" / "detectors"   # the detector rows (issue 35: configs with a home)
DET_CONFIGS = sorted([*DETECTORS.glob("det_*.yaml"), *DETECTORS.glob("x*_det_*.yaml")])
SMALL = ["model.backbone.pretrained=false", "model.backbone.fpn_channels=16",
         "model.head.feat_channels=16", "detector.fc_channels=16", "detector.conv_channels=16",
         "detector.num_convs=1", "detector.num_proposals=40", "detector.sampler.num=32"]


def _batch():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 96, 128, generator=g)
    targets = [
        {"boxes": torch.tensor([[10.0, 12.0, 60.0, 40.0], [70.0, 5.0, 76.0, 60.0]]),
         "labels": torch.tensor([2, 8]), "iscrowd": torch.tensor([False, False]),
         "img_shape": (96, 128), "image_id": 1, "scale_factor": 1.0, "flipped": False},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long),
         "iscrowd": torch.zeros(0, dtype=torch.bool), "img_shape": (90, 120), "image_id": 2,
         "scale_factor": 1.0, "flipped": True},
    ]
    return images, targets


def _proposal_files(tmp_path):
    """Train / val proposals files for images 1 and 2 (image 2 of val left out on purpose)."""
    g = torch.Generator().manual_seed(1)
    def entry(i, n):
        xy = torch.rand(n, 2, generator=g) * 60
        return {"image_id": i, "boxes": torch.cat([xy, xy + 8 + torch.rand(n, 2, generator=g) * 40], 1).numpy(),
                "scores": torch.rand(n, generator=g).numpy()}
    dump_proposals(tmp_path / "train.json", [entry(1, 30), entry(2, 5)])
    dump_proposals(tmp_path / "val.json", [entry(1, 30)])
    return [f"detector.train_proposals={tmp_path / 'train.json'}",
            f"detector.val_proposals={tmp_path / 'val.json'}"]


@pytest.mark.parametrize("path", DET_CONFIGS, ids=[p.stem for p in DET_CONFIGS])
def test_det_config_trains_one_step_and_predicts(path, tmp_path):
    extra = _proposal_files(tmp_path) if "fast_rcnn" in path.stem else []
    cfg = load_config(path, SMALL + extra)
    assert cfg.detector.num_proposals == 40 and num_classes_of(cfg) == 8
    torch.manual_seed(0)
    model = build_model(cfg)
    assert isinstance(model, FastRCNN if "fast_rcnn" in path.stem else TwoStageDetector)
    assert model.produces_detections
    images, targets = _batch()
    losses, results = train_step_then_predict(model, images, targets)
    assert any(k.startswith("loss_rcnn") for k in losses)
    if "fast_rcnn" not in path.stem:
        assert any(k.startswith("loss_s") for k in losses)   # the proposal head learns too
    assert len(results) == 2
    for r, t in zip(results, targets):
        n = r["boxes"].shape[0]
        assert r["scores"].shape == (n,) and r["labels"].shape == (n,) and n <= 100
        assert ((r["labels"] >= 1) & (r["labels"] <= 8)).all()
        h, w = t["img_shape"]
        assert (r["boxes"][:, 0::2] <= w).all() and (r["boxes"][:, 1::2] <= h).all()
        assert (r["scores"][:-1] >= r["scores"][1:]).all()


def test_paper_table_ii_setting_in_the_mini_configs():
    for name in ("det_faster_rcnn_rpn", "det_faster_rcnn_sc_rpn"):
        det = load_config(DETECTORS / f"{name}.yaml").detector
        assert (det.num_proposals, det.pos_iou_thr, det.sampler.num, det.sampler.pos_fraction) == (
            300, 0.65, 512, 0.25)
        assert det.target_stds == [0.1, 0.1, 0.2, 0.2]
    cascade = load_config(DETECTORS / "det_cascade_rcnn_sc_rpn.yaml").detector
    assert cascade.cascade_iou_thrs == [0.5, 0.6, 0.7] and cascade.cascade_loss_weights == [1.0, 0.5, 0.25]
    # Table II's 1000-proposal rows change the proposal count only; Table IX: 1000 and IoU 0.5
    for name in ("det_fast_rcnn_sc_rpn_1000", "det_faster_rcnn_cascade_rpn_1000"):
        det = load_config(DETECTORS / f"{name}.yaml").detector
        assert (det.num_proposals, det.pos_iou_thr) == (1000, 0.65)
    for name in ("det_double_head_rpn", "det_double_head_sc_rpn", "det_cascade_rcnn_rpn"):
        det = load_config(DETECTORS / f"{name}.yaml").detector
        assert det.num_proposals == 1000 and (det.type == "cascade_rcnn" or det.pos_iou_thr == 0.5)
    # every proposal method of Table II has a Fast and a Faster R-CNN row on top of its own row
    for method in ("rpn", "iterative_rpn", "ga_rpn", "cascade_rpn", "sc_rpn"):
        for detector in ("fast_rcnn", "faster_rcnn"):
            cfg = load_config(DETECTORS / f"det_{detector}_{method}.yaml")
            row = load_config(ROOT / "configs" / "mini" / f"{method}.yaml")
            assert cfg.model == row.model and cfg.detector.type == detector


def test_detector_config_is_validated(tmp_path):
    base = DETECTORS / "det_faster_rcnn_rpn.yaml"
    with pytest.raises(ConfigError, match="train_proposals"):
        load_config(base, ["detector.type=fast_rcnn"])
    with pytest.raises(ConfigError, match="cascade_loss_weights"):
        load_config(base, ["detector.cascade_loss_weights=[1.0]"])
    with pytest.raises(ConfigError, match="detector.type"):
        load_config(base, ["detector.type=mask_rcnn"])
    with pytest.raises(ConfigError, match="target_stds"):
        load_config(base, ["detector.target_stds=[0.1, 0.1]"])


@pytest.mark.parametrize("flipped", [False, True])
def test_proposal_coords_round_trip(flipped):
    target = {"img_shape": (200, 300), "orig_size": (100, 150), "scale_factor": 2.0, "flipped": flipped}
    original = torch.tensor([[10.0, 20.0, 50.0, 60.0], [0.0, 0.0, 150.0, 100.0]])
    inputs = to_input_coords(original, target)
    if flipped:
        assert torch.allclose(inputs[0], torch.tensor([200.0, 40.0, 280.0, 120.0]))
    assert torch.allclose(to_original_coords(inputs, target), original)


def test_proposal_store_keeps_best_valid_boxes(tmp_path):
    dump_proposals(tmp_path / "p.json", [{
        "image_id": 7, "boxes": np.array([[0, 0, 5, 5], [1, 1, 1, 9], [0, 0, 9, 9], [2, 2, 4, 4]], np.float32),
        "scores": np.array([0.5, 0.99, 0.9, 0.1], np.float32)}])
    store = ProposalStore(tmp_path / "p.json", num_proposals=2)
    target = {"image_id": 7, "img_shape": (10, 10), "scale_factor": 1.0, "flipped": False}
    # the zero-width box is dropped although it scores best; then the two best remain
    assert torch.equal(store.get(target), torch.tensor([[0.0, 0.0, 9.0, 9.0], [0.0, 0.0, 5.0, 5.0]]))
    assert store.get({**target, "image_id": 8}).shape == (0, 4)


class _OracleDataset(torch.utils.data.Dataset):
    """Two 100x150 images seen at scale 2 (one flipped); categories 5 and 9 behind labels 1 and 2."""

    label_to_cat_id = {1: 5, 2: 9}

    def __init__(self, tmp_path):
        self.gt = {1: [([10, 20, 40, 30], 5), ([60, 10, 30, 80], 9)], 2: [([5, 5, 100, 50], 9)]}
        anns = [{"id": k, "image_id": i, "bbox": b, "area": b[2] * b[3], "iscrowd": 0, "category_id": c}
                for k, (i, b, c) in enumerate(((i, b, c) for i, v in self.gt.items() for b, c in v), 1)]
        self.ann_file = tmp_path / "gt.json"
        self.ann_file.write_text(json.dumps({
            "images": [{"id": i, "width": 150, "height": 100} for i in self.gt], "annotations": anns,
            "categories": [{"id": 5, "name": "a"}, {"id": 9, "name": "b"}]}))

    def __len__(self):
        return 2

    def __getitem__(self, idx):
        image_id = idx + 1
        target = {"image_id": image_id, "orig_size": (100, 150), "img_shape": (200, 300),
                  "scale_factor": 2.0, "flipped": image_id == 2}
        boxes = torch.tensor([[x, y, x + w, y + h] for (x, y, w, h), _ in self.gt[image_id]], dtype=torch.float32)
        target["boxes"] = to_input_coords(boxes, target)
        target["labels"] = torch.tensor([{5: 1, 9: 2}[c] for _, c in self.gt[image_id]])
        return torch.zeros(3, 200, 300), target


class _Oracle(torch.nn.Module):
    produces_detections = True

    def __init__(self, shift_label=False):
        super().__init__()
        self.shift_label = shift_label

    def forward(self, images, targets):
        return [{"boxes": t["boxes"], "scores": torch.ones(len(t["boxes"])),
                 "labels": 3 - t["labels"] if self.shift_label else t["labels"]} for t in targets]


def test_evaluator_gives_box_ap_100_to_an_oracle(tmp_path):
    cfg = load_config(ROOT / "configs" / "smoke" / "rpn.yaml", ["eval.timing_images=0"])
    dataset = _OracleDataset(tmp_path)
    metrics = evaluate_model(_Oracle(), dataset, cfg, proposals_path=tmp_path / "dets.json")
    assert metrics["AP"] == pytest.approx(100.0) and metrics["AP50"] == pytest.approx(100.0)
    assert "AR1000" not in metrics and metrics["num_images"] == 2
    written = json.loads((tmp_path / "dets.json").read_text())
    assert {r["category_id"] for r in written} == {5, 9}
    # Right boxes with the wrong classes score nothing: labels are mapped and matter.
    assert evaluate_model(_Oracle(shift_label=True), dataset, cfg)["AP"] == pytest.approx(0.0)


def test_cli_faster_rcnn_then_fast_rcnn_on_dumped_proposals(data_dir, capsys):
    """Smoke sizes through the CLI: an end-to-end detector prints box AP; a proposal network's
    train and val proposals are dumped with `evaluate --split` and Fast R-CNN trains on them."""
    small = ["data.num_train=4", "data.num_val=2", "train.max_iters=1", "detector.fc_channels=16",
             "detector.num_proposals=30", "detector.sampler.num=32"]
    det = ["--set", *small]
    assert main(["train", "--config", "configs/mini/detectors/det_faster_rcnn_sc_rpn.yaml", "--out",
                 str(data_dir / "faster"), "--no-progress", *det, "data.image_size=128",
                 "model.backbone.fpn_channels=16", "model.head.feat_channels=16",
                 "model.backbone.pretrained=false", "train.batch_size=2"]) == 0
    metrics = last_json(capsys)
    assert {"AP", "AP50", "AP75", "AP_S", "AP_M", "AP_L"} <= set(metrics)
    rpn = data_dir / "rpn"
    common = ["--set", "data.num_train=4", "data.num_val=2", "train.max_iters=1"]
    assert main(["train", "--config", "configs/smoke/rpn.yaml", "--out", str(rpn), "--no-progress",
                 *common]) == 0
    for split in ("train", "val"):
        assert main(["evaluate", "--config", "configs/smoke/rpn.yaml", "--checkpoint",
                     str(rpn / "final.pth"), "--split", split, "--dump-proposals", "--out",
                     str(rpn / split), *common, "model.test.max_per_img=30"]) == 0
        assert "AR100" in last_json(capsys)
    train_props = json.loads((rpn / "train" / "proposals.json").read_text())
    assert {r["image_id"] for r in train_props} == {1, 2, 3, 4}
    assert max(sum(r["image_id"] == i for r in train_props) for i in range(1, 5)) <= 30
    assert main(["train", "--config", "configs/smoke/rpn.yaml", "--out", str(data_dir / "fast"),
                 "--no-progress", *common, "detector.type=fast_rcnn", "detector.fc_channels=16",
                 "detector.sampler.num=32", f"detector.train_proposals={rpn / 'train' / 'proposals.json'}",
                 f"detector.val_proposals={rpn / 'val' / 'proposals.json'}"]) == 0
    assert "AP" in last_json(capsys)
