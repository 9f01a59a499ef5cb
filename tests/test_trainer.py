"""The training loop: learning, exact resume, interruption, logs and evaluation."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path

import pytest
import torch

from conftest import DummyProposalModel, TinyBoxes, make_cfg
from scrpn.config import Config
from scrpn.engine.checkpoint import CheckpointError, load_checkpoint
from scrpn.engine.evaluator import evaluate_model, to_original_coords
from scrpn.engine.logging import read_jsonl
from scrpn.engine.seeding import seed_everything
from scrpn.engine.trainer import Trainer, TrainingInterrupted
from scrpn.evaluation import json_safe_metrics


def _trainer(cfg: Config, dataset: TinyBoxes, run_dir: Path, model_cls=DummyProposalModel,
             **model_kwargs) -> Trainer:
    """Seed, then build the model (its initial weights depend on the seed), then the trainer."""
    seed_everything(cfg.train.seed)
    return Trainer(cfg, model_cls(**model_kwargs), dataset, run_dir, progress=False)


class SignalAtCall(DummyProposalModel):
    """Sends itself ``signum`` during its ``at``-th training forward (1-based)."""

    def __init__(self, at: int, signum: int = signal.SIGTERM) -> None:
        super().__init__()
        self.at, self.signum, self.calls = at, signum, 0

    def forward(self, images, targets):
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                os.kill(os.getpid(), self.signum)
        return super().forward(images, targets)


def test_loss_falls(tiny_dataset, tmp_path):
    cfg = make_cfg(max_iters=40, warmup_iters=5, lr_steps=[30], base_lr=0.2)
    trainer = _trainer(cfg, tiny_dataset, tmp_path / "run")
    result = trainer.train()
    records = [r for r in read_jsonl(tmp_path / "run" / "log.jsonl") if r["type"] == "train"]
    assert result.iterations == 40 and [r["iter"] for r in records] == list(range(1, 41))
    first, last = sum(r["loss_box"] for r in records[:5]), sum(r["loss_box"] for r in records[-5:])
    assert last < 0.7 * first
    assert {"lr", "epoch", "loss", "loss_small", "sec_per_iter"} <= set(records[0])
    assert records[0]["lr"] == pytest.approx(0.2 * 0.1)  # warm-up starts at warmup_ratio
    assert (tmp_path / "run" / "config.yaml").is_file()
    assert (tmp_path / "run" / "final.pth").is_file() and (tmp_path / "run" / "latest.pth").is_file()


def test_epochs_follow_the_data_and_skip_nothing(tiny_dataset, tmp_path):
    # 8 images, batch 3 -> 3 iterations per epoch (last batch of 2 kept); 2 epochs = 6 iterations
    cfg = make_cfg(batch_size=3, by_epoch=True, max_epochs=2, lr_steps=[1])
    trainer = _trainer(cfg, tiny_dataset, tmp_path / "run")
    assert trainer.max_iters == 6
    trainer.train()
    assert tiny_dataset.epochs_seen == [0, 1]


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_interrupt_then_resume_equals_straight_run(tiny_dataset, tmp_path):
    cfg = make_cfg(max_iters=6)  # batch 2, 8 images: 4 iterations per epoch, so 3 is mid-epoch
    straight = _trainer(cfg, tiny_dataset, tmp_path / "a")
    straight.train()
    straight_metrics = evaluate_model(straight.model, tiny_dataset, cfg)

    first = _trainer(cfg, tiny_dataset, tmp_path / "b", SignalAtCall, at=3)
    with pytest.raises(TrainingInterrupted, match="SIGTERM at iteration 3"):
        first.train()
    stopped = load_checkpoint(tmp_path / "b" / "latest.pth")
    assert stopped["iteration"] == 3 and stopped["train_cpu_seconds"] > 0.0
    assert not (tmp_path / "b" / "final.pth").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored

    torch.manual_seed(12345)  # the resumed process starts from unrelated RNG states
    second = Trainer(cfg, DummyProposalModel(), tiny_dataset, tmp_path / "b", progress=False)
    second.resume()
    assert second.iteration == 3
    assert (second.train_seconds, second.train_cpu_seconds) == (stopped["train_seconds"],
                                                                stopped["train_cpu_seconds"])
    second.train()
    assert second.train_cpu_seconds > stopped["train_cpu_seconds"]  # counts both processes
    a, b = _params(straight.model), _params(second.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.optimizer.state_dict()["state"].keys() == second.optimizer.state_dict()["state"].keys()
    metrics = evaluate_model(second.model, tiny_dataset, cfg)
    recall = {k: v for k, v in json_safe_metrics(metrics).items() if k.startswith("AR")}
    assert recall == {k: v for k, v in json_safe_metrics(straight_metrics).items()
                      if k.startswith("AR")}
    iters = [r["iter"] for r in read_jsonl(tmp_path / "b" / "log.jsonl")]
    assert iters == [1, 2, 3, 4, 5, 6]  # the log reads like one uninterrupted run


def test_hard_keyboard_interrupt_saves_consistent_state(tiny_dataset, tmp_path):
    class RaiseAt(DummyProposalModel):
        calls = 0

        def forward(self, images, targets):
            if self.training:
                RaiseAt.calls += 1
                if RaiseAt.calls == 4:
                    raise KeyboardInterrupt
            return super().forward(images, targets)

    cfg = make_cfg(max_iters=6)
    straight = _trainer(cfg, tiny_dataset, tmp_path / "a")
    straight.train()
    first = _trainer(cfg, tiny_dataset, tmp_path / "b", RaiseAt)
    with pytest.raises(TrainingInterrupted, match="at iteration 3"):
        first.train()
    second = Trainer(cfg, DummyProposalModel(), tiny_dataset, tmp_path / "b", progress=False)
    second.resume()
    second.train()
    a, b = _params(straight.model), _params(second.model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_interval_and_fresh_run_refuses_to_overwrite(tiny_dataset, tmp_path):
    cfg = make_cfg(max_iters=5, checkpoint_interval=2)
    trainer = _trainer(cfg, tiny_dataset, tmp_path / "run", SignalAtCall, at=4)
    with pytest.raises(TrainingInterrupted):
        trainer.train()
    assert load_checkpoint(tmp_path / "run" / "latest.pth")["iteration"] == 4
    again = _trainer(cfg, tiny_dataset, tmp_path / "run")
    with pytest.raises(CheckpointError, match="--resume"):
        again.train()


def test_resume_rejects_a_checkpoint_from_another_config(tiny_dataset, tmp_path):
    _trainer(make_cfg(max_iters=2), tiny_dataset, tmp_path / "run").train()
    other = _trainer(make_cfg(max_iters=2, base_lr=0.5), tiny_dataset, tmp_path / "run")
    with pytest.raises(CheckpointError, match="train.base_lr"):
        other.resume()


def test_non_finite_loss_names_the_iteration(tiny_dataset, tmp_path):
    cfg = make_cfg(base_lr=1e30, warmup_iters=0, max_iters=6)
    trainer = _trainer(cfg, tiny_dataset, tmp_path / "run")
    with pytest.raises(Exception, match="iteration [0-9]+: the loss is not finite"):
        trainer.train()


def test_grad_clip_bounds_the_update(tiny_dataset, tmp_path):
    cfg = make_cfg(max_iters=1, warmup_iters=0, momentum=0.0, weight_decay=0.0, base_lr=1.0,
                   grad_clip=1e-3)
    trainer = _trainer(cfg, tiny_dataset, tmp_path / "run")
    before = torch.cat([p.detach().flatten().clone() for p in trainer.model.parameters()])
    trainer.train()
    after = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
    assert torch.linalg.vector_norm(after - before) <= 1e-3 * (1 + 1e-5)


class Oracle(torch.nn.Module):
    """Proposes the ground-truth boxes (in input pixels) with descending scores."""

    def forward(self, images, targets):
        return [{"boxes": t["boxes"], "scores": torch.linspace(1.0, 0.5, len(t["boxes"]))}
                for t in targets]


def test_to_original_coords_unflips_rescales_and_clips():
    target = {"flipped": True, "img_shape": (32, 48), "scale_factor": 0.5, "orig_size": (64, 96)}
    boxes = to_original_coords(torch.tensor([[0.0, 2.0, 10.0, 40.0]]), target)
    assert boxes.tolist() == [[76.0, 4.0, 96.0, 64.0]]  # un-flipped, /0.5, y clipped to 64


def test_evaluation_in_original_pixels_and_val_limit(tiny_dataset, tmp_path):
    cfg = make_cfg()
    full = evaluate_model(Oracle(), tiny_dataset, cfg)
    assert full["num_images"] == 8 and full["seconds_per_image"] > 0
    assert full["AR100"] == pytest.approx(100.0)  # boxes mapped back to the gt's pixels
    limited_cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, val_limit=3))
    limited = evaluate_model(Oracle(), tiny_dataset, limited_cfg, proposals_path=tmp_path / "p.json")
    assert limited["num_images"] == 3
    assert limited["AR100"] == pytest.approx(100.0)  # gt restricted to the evaluated images
    assert {r["image_id"] for r in json.loads((tmp_path / "p.json").read_text())} == {1, 2, 3}


def test_epoch_order_is_a_function_of_seed_and_epoch():
    from scrpn.engine.builders import EpochSampler
    order = list(EpochSampler(10, seed=1, epoch=0))
    assert sorted(order) == list(range(10))
    assert order == list(EpochSampler(10, seed=1, epoch=0))  # no hidden state
    assert order != list(EpochSampler(10, seed=1, epoch=1))
    assert order != list(EpochSampler(10, seed=2, epoch=0))
    assert list(EpochSampler(10, seed=1, epoch=0, skip=4)) == order[4:]  # resume mid-epoch
