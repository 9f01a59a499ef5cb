"""Every study config builds the full network (backbone + FPN + head), trains one step and predicts."""
from pathlib import Path

import pytest
import torch

from conftest import train_step_then_predict
from scrpn.config import load_config
from scrpn.build import build_model

ROOT = Path(__file__).parents[1]
# Detector rows (det_*, and the experiments' x8_det_*) add an R-CNN head and need labels:
# tests/test_detectors.py covers them.
CONFIGS = sorted(p for p in (ROOT / "configs").glob("*/*.yaml")
                 if not p.name.startswith(("_", "det_")) and not p.stem.partition("_")[2].startswith("det_"))
SMALL = ["model.backbone.pretrained=false", "model.backbone.fpn_channels=16",
         "model.head.feat_channels=16", "model.test.max_per_img=50"]


def _batch():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 96, 128, generator=g)
    targets = [
        {"boxes": torch.tensor([[10.0, 12.0, 60.0, 40.0], [70.0, 5.0, 76.0, 60.0]]),
         "iscrowd": torch.tensor([False, False]), "img_shape": (96, 128)},
        {"boxes": torch.zeros(0, 4), "iscrowd": torch.zeros(0, dtype=torch.bool), "img_shape": (90, 120)},
    ]
    return images, targets


@pytest.mark.parametrize("path", CONFIGS, ids=[f"{p.parent.name}/{p.stem}" for p in CONFIGS])
def test_config_trains_one_step_and_predicts(path):
    cfg = load_config(path, SMALL)
    torch.manual_seed(0)
    model = build_model(cfg)
    images, targets = _batch()
    _, results = train_step_then_predict(model, images, targets)
    for r, t in zip(results, targets):
        assert r["boxes"].shape[0] == r["scores"].shape[0] <= 50
        h, w = t["img_shape"]
        assert (r["boxes"][:, 0::2] <= w).all() and (r["boxes"][:, 1::2] <= h).all()
        assert (r["scores"][:-1] >= r["scores"][1:]).all()
