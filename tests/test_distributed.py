"""Data-parallel training equals single-process training at the same global batch.

Two gloo processes on the CPU (``torch.multiprocessing.spawn``, the environment torchrun would set)
train at batch 1 each; one process trains at batch 2. DDP averages the gradients and the epoch is
sharded batch by batch, so losses and final weights must agree to float rounding, across an epoch
boundary. The sharded evaluation gathered on rank 0 must give the single-process metrics.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from conftest import DummyProposalModel, TinyBoxes, make_cfg
from scrpn.engine.distributed import cleanup_distributed, init_distributed, shard_epoch_order
from scrpn.engine.evaluator import evaluate_model
from scrpn.engine.seeding import seed_everything
from scrpn.engine.trainer import Trainer

NUM_IMAGES = 8
MAX_ITERS = 6  # global batch 2: 4 iterations per epoch, so the run crosses into epoch 1


class ExactModel(DummyProposalModel):
    """The dummy model without randomness in training (no dropout, always the first gt box), so
    that a per-rank draw cannot make the runs differ; the loss is a mean over the batch."""

    def forward(self, images, targets):
        if not self.training:
            return super().forward(images, targets)
        feats = F.relu(self.conv(images)).mean(dim=(2, 3))
        cxcywh = torch.sigmoid(self.fc(feats))
        boxes = torch.cat([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)
        size = torch.tensor([images.shape[3], images.shape[2]] * 2, dtype=torch.float32)
        gt = torch.stack([t["boxes"][0] for t in targets]) / size
        return {"loss_box": F.l1_loss(boxes, gt)}


def run(root: Path, run_dir: Path, batch_size: int) -> None:
    """Train ``ExactModel`` on TinyBoxes, evaluate it; rank 0 writes ``metrics.json``."""
    root.mkdir(parents=True, exist_ok=True)
    dataset = TinyBoxes(root, n=NUM_IMAGES)
    cfg = make_cfg(batch_size=batch_size, base_batch_size=2, max_iters=MAX_ITERS,
                   lr_steps=[5], momentum=0.9, weight_decay=1e-4)
    seed_everything(0)
    model = ExactModel()
    Trainer(cfg, model, dataset, run_dir, progress=False).train()
    metrics = evaluate_model(model, dataset, cfg)
    if metrics is not None:
        (run_dir / "metrics.json").write_text(json.dumps(metrics))


def _worker(rank: int, world_size: int, port: int, tmp: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    info, device = init_distributed("cpu")
    assert (info.rank, info.world_size, device) == (rank, world_size, "cpu")
    try:
        run(Path(tmp) / f"data{rank}", Path(tmp) / "ddp", batch_size=1)
    finally:
        cleanup_distributed()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _losses(run_dir: Path) -> list[float]:
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [r["loss_box"] for r in records if r["type"] == "train"]


def test_two_gloo_processes_match_one_process_at_the_same_global_batch(tmp_path):
    run(tmp_path / "data", tmp_path / "single", batch_size=2)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.iterdir())
    assert len(_losses(ddp)) == MAX_ITERS
    assert _losses(ddp) == pytest.approx(_losses(single), abs=1e-6)
    w_single = torch.load(single / "final.pth", weights_only=True)["model"]
    w_ddp = torch.load(ddp / "final.pth", weights_only=True)["model"]
    start = ExactModel().state_dict()
    for key in w_single:
        assert not torch.equal(w_single[key], start[key])  # the weights did move
        torch.testing.assert_close(w_ddp[key], w_single[key], atol=1e-5, rtol=0)
    m_single = json.loads((single / "metrics.json").read_text())
    m_ddp = json.loads((ddp / "metrics.json").read_text())
    assert m_ddp["num_images"] == NUM_IMAGES
    for key in ("AR100", "AR300", "AR1000"):
        assert m_ddp[key] == pytest.approx(m_single[key], abs=1e-4)


@pytest.mark.parametrize("num, world, batch", [(8, 2, 1), (10, 2, 2), (7, 2, 2), (9, 4, 1)])
def test_shards_rebuild_each_global_batch(num, world, batch):
    order = list(range(100, 100 + num))
    shards = [shard_epoch_order(order, r, world, batch) for r in range(world)]
    assert len({len(s) for s in shards}) == 1  # every rank runs the same number of iterations
    per_rank = len(shards[0])
    steps = -(-num // (world * batch))
    seen = []
    for k in range(steps):
        lo = k * batch
        global_batch = [i for s in shards for i in s[lo:lo + batch]]
        seen.extend(global_batch)
        if (k + 1) * world * batch <= num:  # a full global batch is exactly the next slice
            assert global_batch == order[k * world * batch:(k + 1) * world * batch]
    assert set(seen) == set(order) and per_rank == len(seen) // world
    assert shard_epoch_order(order, 0, 1, batch) == order


def test_amp_flag_is_ignored_on_the_cpu(tmp_path):
    """``train.amp`` only acts on CUDA: on the CPU the run stays float32 and bit-exact."""
    dataset = TinyBoxes(tmp_path, n=4)
    weights = []
    for amp in (False, True):
        cfg = make_cfg(batch_size=2, max_iters=2, amp=amp)
        seed_everything(0)
        trainer = Trainer(cfg, ExactModel(), dataset, tmp_path / f"amp{amp}", progress=False)
        assert trainer.amp is False and not trainer.scaler.is_enabled()
        trainer.train()
        weights.append(trainer.model.state_dict())
        assert "scaler" not in trainer.state_dict()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key])
