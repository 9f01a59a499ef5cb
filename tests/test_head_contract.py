"""Every head through one contract (issue 35): ``ProposalHead`` and what ``ProposalNetwork`` exposes.

Each Table I method (and each Table III configuration of the two-stage head) is built from its
smoke row by ``scrpn.build`` and run through the same calls the trainer, the evaluator, the R-CNN
detectors and ``viz/`` make: a training forward (losses, gradients, diagnostics), the head outputs,
the test-time scores, the network's own selection (which must be what the eval forward returns),
the assignment of every stage, and the IoU mask where the head has one.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from scrpn.build import build_assigners, build_head, build_model
from scrpn.models.heads.base import ProposalHead, ProposalOutputs
from scrpn.models.proposal_network import ProposalNetwork
from scrpn.sampling.assign_result import AssignResult
from scrpn.study.runs import Study

ROOT = Path(__file__).resolve().parents[1]
TABLE_I = ("rpn", "iterative_rpn", "ga_rpn", "cascade_rpn", "sc_rpn")
TABLE_III = ("t3_two_stage", "t3_alignment", "t3_iou_loss", "t3_point", "t3_sads")
SIZE = 64


def _cfg(row: str):
    return Study(profile="smoke", config_root=ROOT / "configs").config(row)


def _batch():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, SIZE, SIZE, generator=g)
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 40.0, 30.0], [30.0, 30.0, 36.0, 62.0], [0, 0, 64, 64.0]]),
                "iscrowd": torch.tensor([False, False, True]), "img_shape": (SIZE, SIZE)},
               {"boxes": torch.zeros(0, 4), "iscrowd": torch.zeros(0, dtype=torch.bool),
                "img_shape": (SIZE, 48)}]
    return images, targets


@pytest.mark.parametrize("row", TABLE_I + TABLE_III)
def test_every_head_keeps_the_contract(row: str) -> None:
    cfg = _cfg(row)
    torch.manual_seed(0)
    net = build_model(cfg)
    assert isinstance(net, ProposalNetwork) and isinstance(net.head, ProposalHead)
    head = net.head
    assert head.strides == tuple(net.backbone.strides)
    assert len(head.stage_names) == len(head.stages) >= 1
    # build_assigners gives the assigners the head trains with, stage by stage
    assert [type(a) for a in build_assigners(cfg)] == [type(p.assigner) for p in head.stages]

    images, targets = _batch()
    gen = torch.Generator().manual_seed(0)
    net.set_generator(gen)
    assert head.generator is gen
    net.train()
    losses = net(images, targets)
    assert losses and all(k.startswith("loss_") and v.dim() == 0 and torch.isfinite(v)
                          for k, v in losses.items())
    sum(losses.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    diag = net.diagnostics()
    assert "diag_fpn_std" in diag and all(isinstance(v, float) for v in diag.values())

    net.eval()
    shapes = [t["img_shape"] for t in targets]
    with torch.no_grad():
        out = net.head_outputs(images, shapes)
        predicted = net(images, targets)
    assert isinstance(out, ProposalOutputs)
    n = sum(out.num_per_level)
    scores, boxes = net.test_scores(out)
    assert scores.shape == (2, n) and boxes.shape == (2, n, 4)
    selected = net.select(out, shapes)
    for (idx, b, s), p, shape in zip(selected, predicted, shapes):
        assert idx.dtype == torch.int64 and ((idx >= 0) & (idx < n)).all()
        torch.testing.assert_close(b, p["boxes"])            # the selection is what eval returns
        torch.testing.assert_close(s, p["scores"])
        assert (s[:-1] >= s[1:]).all() and len(s) <= net.test_cfg.max_per_img
        assert (b[:, 2] <= shape[1]).all() and (b[:, 3] <= shape[0]).all()
    assert len(net.select(out, shapes, max_per_img=3)[0][0]) <= 3

    crowd = targets[0]["iscrowd"]
    gts, ignore = targets[0]["boxes"][~crowd], targets[0]["boxes"][crowd]
    for stage in range(len(head.stage_names)):
        a = net.assign(stage, out, 0, gts, ignore)
        assert isinstance(a, AssignResult) and a.gt_inds.shape == (n,)
        assert int(a.gt_inds.max()) <= len(gts)
    with pytest.raises(ValueError):
        net.assign(len(head.stage_names), out, 0, gts, ignore)

    mask = net.mask_scores(out)
    assert net.has_iou_mask == cfg.model.head.iou_mask.enabled == (mask is not None)
    if mask is not None:
        assert mask.shape == (2, n) and ((mask >= 0) & (mask <= 1)).all()


def test_heads_are_built_by_build_head_alone() -> None:
    """``build_head`` makes every head type from ``model.head``; the layers take no config."""
    for row in TABLE_I:
        head = build_head(_cfg(row).model.head, 16)
        assert isinstance(head, ProposalHead)
        assert not any("Config" in type(v).__name__ for v in vars(head).values())


def test_the_network_refuses_a_head_outside_the_contract() -> None:
    with pytest.raises(TypeError, match="ProposalHead"):
        ProposalNetwork(nn.Identity(), nn.Conv2d(1, 1, 1), _cfg("rpn").model.test)


def test_a_head_missing_a_method_cannot_be_built() -> None:
    class Partial(ProposalHead):
        def forward(self, feats, image_shapes=None):
            return ProposalOutputs([0])

    with pytest.raises(TypeError, match="abstract"):
        Partial((4, 8))


def test_no_caller_probes_a_head() -> None:
    """Outside ``models/heads/`` nothing asks a head or a network whether it has an attribute:
    the contract says what every head has (issue 35; 12 probes before it). The trainer is
    exempt: it trains any ``nn.Module`` (the tests' dummy model too), for which ``diagnostics``
    and ``set_generator`` are optional hooks."""
    import re
    probe = re.compile(r"(hasattr|getattr)\((\w+\.)*(head|net|model)\b[^)]*\"(head|backbone|iou_mask|"
                       r"mask_scores|diagnostics|is_point|prior_generator|use_iou_mask_at_test|test_cfg)\"")
    exempt = {Path("scrpn/engine/trainer.py")}
    found = [f"{rel}:{i}" for p in sorted((ROOT / "scrpn").rglob("*.py"))
             if "heads" not in (rel := p.relative_to(ROOT)).parts and rel not in exempt
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if probe.search(line)]
    assert found == []
    assert probe.search('head = getattr(net, "head", None)')    # the pattern finds the old probes
    assert probe.search('if hasattr(head, "mask_scores") else None')
