"""Shared test fixtures: a tiny COCO-style dataset and a dummy model with the real model's contract.

The dummy model follows ``scrpn.build.build_model``'s contract (losses dict in train mode,
per-image ``{'boxes', 'scores'}`` in the input image's pixels in eval mode) and uses every source
of randomness the trainer must checkpoint: ``torch``'s global generator (dropout) and the
generator handed over by ``set_generator`` (which ground-truth box it regresses to).
"""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any, Optional

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from scrpn.config import Config, config_from_dict
from scrpn.engine.seeding import THREADS_ENV

# The suite runs on two pytest-xdist workers (pyproject.toml's addopts). Each worker, and every
# process it starts (CLI runs, notebook kernels, gloo ranks), uses one thread, so that the two
# workers share the two cores instead of oversubscribing them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault(THREADS_ENV, "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(int(os.environ[THREADS_ENV]))

# Modules that take minutes: started first, so that no worker picks one up at the end.
SLOW_FIRST = ("test_notebooks.py", "test_staleness.py", "test_coco_configs.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the order inside a module is kept

ORIG_HW = (64, 96)
SCALE = 0.5


class TinyBoxes(Dataset):
    """``n`` images with two bright rectangles each; samples are the originals scaled by 0.5."""

    def __init__(self, root: Path, n: int = 8, seed: int = 0, first_id: int = 1) -> None:
        gen = torch.Generator().manual_seed(seed)
        h, w = ORIG_HW
        self.boxes = []
        for _ in range(n):
            xy = torch.rand(2, 2, generator=gen) * torch.tensor([w * 0.6, h * 0.6])
            wh = 12 + torch.rand(2, 2, generator=gen) * torch.tensor([w * 0.3, h * 0.3])
            self.boxes.append(torch.cat([xy, xy + wh], dim=1).round())  # (2, 4) original pixels
        self.image_ids = list(range(first_id, first_id + n))
        self.ann_file = Path(root) / "tiny_gt.json"
        self.ann_file.write_text(json.dumps(self._coco_json()))
        self.epochs_seen: list[int] = []

    def _coco_json(self) -> dict:
        h, w = ORIG_HW
        images = [{"id": i, "height": h, "width": w, "file_name": f"{i}.png"} for i in self.image_ids]
        anns = []
        for image_id, boxes in zip(self.image_ids, self.boxes):
            for x1, y1, x2, y2 in boxes.tolist():
                anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1,
                             "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                             "iscrowd": 0})
        return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "box"}]}

    def set_epoch(self, epoch: int) -> None:
        self.epochs_seen.append(epoch)

    def report(self) -> str:
        return f"{self.ann_file}: {len(self)} images, nothing skipped"

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Any]]:
        h, w = int(ORIG_HW[0] * SCALE), int(ORIG_HW[1] * SCALE)
        boxes = self.boxes[index] * SCALE
        image = torch.zeros(3, h, w)
        for x1, y1, x2, y2 in boxes.round().int().tolist():
            image[:, y1:y2, x1:x2] = 1.0
        target = {"boxes": boxes.float(), "labels": torch.ones(2, dtype=torch.int64),
                  "iscrowd": torch.zeros(2, dtype=torch.bool), "image_id": self.image_ids[index],
                  "orig_size": ORIG_HW, "img_shape": (h, w), "scale_factor": SCALE,
                  "flipped": False}
        return image, target


class DummyProposalModel(nn.Module):
    """conv -> pooled features -> one normalised box; L1 loss to a randomly chosen gt box."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)
        self.generator: Optional[torch.Generator] = None

    def set_generator(self, generator: Optional[torch.Generator]) -> None:
        self.generator = generator

    def _normalised_boxes(self, images: Tensor) -> Tensor:
        feats = F.relu(self.conv(images)).mean(dim=(2, 3))  # (B, 8)
        feats = F.dropout(feats, p=0.2, training=self.training)  # global torch RNG
        cxcywh = torch.sigmoid(self.fc(feats))  # (B, 4) in [0, 1]
        half = cxcywh[:, 2:] / 2
        return torch.cat([cxcywh[:, :2] - half, cxcywh[:, :2] + half], dim=1)  # (B, 4)

    def forward(self, images: Tensor, targets: list[dict]) -> Any:
        boxes = self._normalised_boxes(images)
        if self.training:
            size = torch.tensor([images.shape[3], images.shape[2]] * 2, dtype=torch.float32)
            picks = [int(torch.randint(len(t["boxes"]), (1,), generator=self.generator))
                     for t in targets]
            gt = torch.stack([t["boxes"][k] for t, k in zip(targets, picks)]) / size
            return {"loss_box": F.l1_loss(boxes, gt), "loss_small": 0.1 * boxes.abs().mean()}
        results = []
        for box, target in zip(boxes, targets):
            h, w = target["img_shape"]
            grid = torch.linspace(0.0, 0.9, 10)
            extra = torch.stack([grid * 0, grid * 0, grid * w, grid * h], dim=1) + 1.0
            pixel = box * torch.tensor([w, h, w, h], dtype=torch.float32)
            results.append({"boxes": torch.cat([pixel[None], extra], dim=0),
                            "scores": torch.linspace(1.0, 0.1, 11)})
        return results


def make_cfg(**train: Any) -> Config:
    """A tiny, fast config: batch 2, 6 iterations, warm-up 2, a step at iteration 4."""
    settings = {"batch_size": 2, "base_batch_size": 2, "base_lr": 0.05, "max_iters": 6,
                "warmup_iters": 2, "warmup_ratio": 0.1, "lr_steps": [4], "log_interval": 1,
                "seed": 3}
    settings.update(train)
    return config_from_dict({"name": "tiny", "train": settings,
                             "data": {"size_divisor": 8},
                             "eval": {"timing_images": 3, "max_dets": [100, 300, 1000]}})


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> TinyBoxes:
    return TinyBoxes(tmp_path, n=8)


@pytest.fixture
def alarm() -> Any:
    """Fail instead of hanging (an input that is a FIFO must never block its reader): SIGALRM
    raises after 60 s, generous on a loaded machine. Used by the bad-input tests."""
    def hang(signum: int, frame: Any) -> None:
        raise AssertionError("blocked on a non-regular file")
    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder that also holds the embedded datasets' cache (``SCRPN_DATA``)."""
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    return tmp_path


def last_json(capsys: pytest.CaptureFixture) -> dict:
    """The one-line JSON object a ``train`` / ``evaluate`` command prints last."""
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def train_step_then_predict(model: nn.Module, images: Tensor, targets: list) -> tuple[dict, list]:
    """One training step (finite total loss, backward) then one prediction; returns both."""
    model.set_generator(torch.Generator().manual_seed(0))
    model.train()
    losses = model(images, targets)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    model.eval()
    results = model(images, targets)
    assert len(results) == len(targets)
    return losses, results
