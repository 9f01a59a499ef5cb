"""Diagnostics in every run (issue 17): what a failed run needs to say why it failed.

Per log interval in ``log.jsonl``: the mean IoU of the stage-1 positives' decoded boxes with their
gts next to the same for the undecoded priors (does stage 1 move its boxes?), the fraction of
live ReLU channels after each stage's conv, the FPN features' std, the gradient norm before
clipping and how often clipping fired. ``metrics.json`` summarises them (first / last / mean) and,
for heads with an IoU mask, adds the mask's Spearman correlation with the true IoU on validation
positives (``iou_mask_spearman``).
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import last_json
from scrpn.cli import main
from scrpn.engine.logging import read_jsonl, summarise_diagnostics
from scrpn.engine.trainer import gradient_diagnostics
from scrpn.models.heads.iou_mask import positive_mask_and_iou
from scrpn.sampling.assign_result import AssignResult


def test_summarise_diagnostics_by_hand():
    records = [{"type": "train", "iter": 10, "loss": 1.0, "diag_s1_pos_iou": 0.4, "grad_norm": 3.0},
               {"type": "eval", "iter": 10, "AR100": 5.0},
               {"type": "train", "iter": 20, "loss": 0.5, "grad_norm": 1.0, "clip_fired": 1.0},
               {"type": "train", "iter": 30, "loss": 0.4, "diag_s1_pos_iou": 0.6, "grad_norm": 2.0,
                "clip_fired": 0.0}]
    out = summarise_diagnostics(records)
    assert set(out) == {"diag_s1_pos_iou", "grad_norm", "clip_fired"}   # losses are not diagnostics
    assert out["diag_s1_pos_iou"] == pytest.approx({"first": 0.4, "last": 0.6, "mean": 0.5})
    assert out["grad_norm"] == pytest.approx({"first": 3.0, "last": 2.0, "mean": 2.0})
    assert out["clip_fired"] == pytest.approx({"first": 1.0, "last": 0.0, "mean": 0.5})


def _params_with_grads(*grads):
    params = [torch.nn.Parameter(torch.zeros(len(g))) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return params


def test_gradient_norm_is_read_before_clipping():
    params = _params_with_grads([3.0], [4.0])             # total norm 5
    assert gradient_diagnostics(params, None) == pytest.approx({"grad_norm": 5.0})
    assert params[0].grad.item() == 3.0                   # untouched without clipping
    out = gradient_diagnostics(params, 1.0)
    assert out == pytest.approx({"grad_norm": 5.0, "clip_fired": 1.0})
    assert params[0].grad.item() == pytest.approx(0.6, rel=1e-5)   # clipped to norm 1: 3 / 5
    params = _params_with_grads([0.3], [0.4])
    assert gradient_diagnostics(params, 1.0) == pytest.approx({"grad_norm": 0.5, "clip_fired": 0.0})


def test_positive_mask_and_iou_by_hand():
    mask = torch.tensor([0.9, 0.2, 0.7])
    boxes = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 5], [0.0, 0, 5, 10]])
    gts = torch.tensor([[0.0, 0, 10, 10]])
    assign = AssignResult(num_gts=1, gt_inds=torch.tensor([1, 0, 1]), max_overlaps=torch.zeros(3))
    m, iou = positive_mask_and_iou(mask, boxes, assign, gts)
    assert m.tolist() == pytest.approx([0.9, 0.7]) and iou.tolist() == pytest.approx([1.0, 0.5])


def test_a_run_logs_and_summarises_its_diagnostics(data_dir, capsys):
    out = data_dir / "run"
    assert main(["train", "--config", "configs/smoke/sc_rpn.yaml", "--out", str(out), "--no-progress",
                 "--set", "data.num_train=8", "data.num_val=4", "train.max_iters=2",
                 "train.log_interval=1", "train.grad_clip=1.0"]) == 0
    printed = last_json(capsys)
    train = [r for r in read_jsonl(out / "log.jsonl") if r["type"] == "train"]
    for record in train:
        for key in ("diag_s1_live_channels", "diag_s2_live_channels", "diag_fpn_std", "grad_norm", "clip_fired"):
            assert key in record and math.isfinite(record[key]), key
        assert 0.0 <= record["diag_s1_live_channels"] <= 1.0
    assert any("diag_s1_pos_iou" in r and "diag_s1_prior_iou" in r for r in train)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["diagnostics"]) >= {"diag_s1_live_channels", "grad_norm", "clip_fired", "diag_fpn_std"}
    assert metrics["diagnostics"]["grad_norm"]["first"] == pytest.approx(train[0]["grad_norm"])
    rho = metrics["iou_mask_spearman"]
    assert rho is None or -1.0 <= rho <= 1.0          # null when undefined (NaN in JSON)
    assert "iou_mask_spearman" in printed


def test_heads_without_an_iou_mask_report_no_correlation(data_dir, capsys):
    out = data_dir / "run"
    assert main(["train", "--config", "configs/smoke/rpn.yaml", "--out", str(out), "--no-progress",
                 "--set", "data.num_train=8", "data.num_val=4", "train.max_iters=1"]) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert "iou_mask_spearman" not in metrics
    assert "grad_norm" in metrics["diagnostics"] and "diag_s1_pos_iou" in metrics["diagnostics"]


def test_a_channel_is_live_when_it_fires_at_any_level():
    from scrpn.models.heads.stages import _live_channels
    level0 = torch.zeros(2, 3, 4, 4)
    level0[1, 1, 2, 3] = 0.5                      # channel 1 fires once, in image 1
    level1 = torch.zeros(2, 3, 2, 2)
    level1[0, 2, 0, 0] = 2.0                      # channel 2 fires on another level
    assert _live_channels(level0).tolist() == [False, True, False]
    both = torch.stack([_live_channels(level0), _live_channels(level1)]).any(dim=0)
    assert both.float().mean().item() == pytest.approx(2 / 3)
