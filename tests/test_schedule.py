"""The learning-rate schedule, checked against numbers worked out by hand."""
from __future__ import annotations

import pytest
import torch

from scrpn.config import TrainConfig
from scrpn.engine.schedule import iters_per_epoch, lr_at, scaled_lr, set_lr, total_iters


def paper(**kw) -> TrainConfig:
    """The paper's recipe: 0.005 at batch 4, 12 epochs, /10 after epochs 8 and 11, 500 warm-up."""
    settings = dict(base_lr=0.005, batch_size=4, base_batch_size=4, by_epoch=True, max_epochs=12,
                    lr_steps=[8, 11], lr_gamma=0.1, warmup_iters=500, warmup_ratio=0.001)
    settings.update(kw)
    return TrainConfig(**settings)


@pytest.mark.parametrize("iteration, expected", [
    (0, 0.005 * 0.001),                 # warm-up starts at warmup_ratio
    (250, 0.005 * (0.001 + 0.999 * 0.5)),  # half way: 0.0025025
    (499, 0.005 * (0.001 + 0.999 * 499 / 500)),
    (500, 0.005),                       # warm-up over
    (7999, 0.005),                      # last iteration of epoch index 7
    (8000, 0.0005),                     # "after 8 epochs"
    (10999, 0.0005),
    (11000, 0.00005),                   # "after 11 epochs"
    (11999, 0.00005),
])
def test_paper_schedule_by_epoch(iteration, expected):
    assert lr_at(iteration, paper(), epoch_iters=1000) == pytest.approx(expected, rel=1e-12)


def test_linear_scaling_rule():
    assert scaled_lr(paper(batch_size=8)) == pytest.approx(0.01)
    assert scaled_lr(paper(batch_size=2)) == pytest.approx(0.0025)
    assert lr_at(600, paper(batch_size=16), epoch_iters=1000) == pytest.approx(0.02)


def test_steps_in_iterations_and_warmup_on_top_of_a_step():
    cfg = paper(by_epoch=False, lr_steps=[100, 200], lr_gamma=0.5, warmup_iters=0)
    assert [lr_at(i, cfg, epoch_iters=7) for i in (0, 99, 100, 199, 200)] == \
        pytest.approx([0.005, 0.005, 0.0025, 0.0025, 0.00125])
    # a step inside the warm-up: the warm-up factor multiplies the stepped rate (mmdetection)
    cfg = paper(by_epoch=False, lr_steps=[5], warmup_iters=10, warmup_ratio=0.2)
    assert lr_at(5, cfg, epoch_iters=7) == pytest.approx(0.0005 * (0.2 + 0.8 * 0.5))


def test_run_length():
    assert iters_per_epoch(8, 3) == 3  # the last, smaller batch is kept
    assert total_iters(paper(max_epochs=12), epoch_iters=3) == 36
    assert total_iters(paper(by_epoch=False, max_iters=77), epoch_iters=3) == 77
    with pytest.raises(ValueError):
        iters_per_epoch(0, 4)
    with pytest.raises(ValueError):
        lr_at(-1, paper(), epoch_iters=3)


def test_set_lr_writes_every_group():
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=1.0)
    set_lr(opt, 0.123)
    assert [g["lr"] for g in opt.param_groups] == [0.123, 0.123]
