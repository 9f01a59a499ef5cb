"""DeltaXYWH coder: hand-worked deltas, round trip, clamping, clipping, empty input."""
from __future__ import annotations

import math

import torch

from scrpn.models.box_coder import DeltaXYWHCoder, clip_to_image


def _random_boxes(n: int, gen: torch.Generator) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=gen) * 500
    wh = torch.rand(n, 2, generator=gen) * 200 + 10  # size ratios < 62.5: no clamping
    return torch.cat([xy, xy + wh], dim=1)


def test_hand_worked_encode():
    prior = torch.tensor([[0.0, 0.0, 10.0, 20.0]])   # centre (5, 10), 10 x 20
    gt = torch.tensor([[2.0, 4.0, 22.0, 24.0]])      # centre (12, 14), 20 x 20
    raw = DeltaXYWHCoder().encode(prior, gt)
    torch.testing.assert_close(raw, torch.tensor([[0.7, 0.2, math.log(2.0), 0.0]]))
    coder = DeltaXYWHCoder(means=(0.1, 0.0, 0.0, 0.0), stds=(0.1, 0.1, 0.2, 0.2))
    torch.testing.assert_close(coder.encode(prior, gt), torch.tensor([[6.0, 2.0, math.log(2.0) / 0.2, 0.0]]))
    torch.testing.assert_close(coder.decode(prior, coder.encode(prior, gt)), gt)


def test_round_trip_random():
    gen = torch.Generator().manual_seed(0)
    priors, gts = _random_boxes(1000, gen), _random_boxes(1000, gen)
    for coder in (DeltaXYWHCoder(), DeltaXYWHCoder(stds=(0.05, 0.05, 0.1, 0.1))):
        deltas = coder.encode(priors, gts)
        torch.testing.assert_close(coder.decode(priors, deltas), gts, atol=1e-4, rtol=0)


def test_huge_dw_is_clamped():
    coder = DeltaXYWHCoder()
    prior = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    big = coder.decode(prior, torch.tensor([[0.0, 0.0, 100.0, 100.0]]))
    # exp(|log(16/1000)|) = 62.5 -> 625 px around the centre (5, 5).
    torch.testing.assert_close(big, torch.tensor([[-307.5, -307.5, 317.5, 317.5]]))
    small = coder.decode(prior, torch.tensor([[0.0, 0.0, -100.0, 0.0]]))
    torch.testing.assert_close(small, torch.tensor([[4.92, 0.0, 5.08, 10.0]]))
    assert torch.isfinite(coder.decode(prior, torch.tensor([[0.0, 0.0, 1e6, 1e6]]))).all()


def test_clip_to_image_shape():
    coder = DeltaXYWHCoder()
    prior = torch.tensor([[90.0, 40.0, 110.0, 60.0]])
    boxes = coder.decode(prior, torch.zeros(1, 4), max_shape=(50, 100))  # (h, w)
    assert boxes.tolist() == [[90.0, 40.0, 100.0, 50.0]]
    no_clip = DeltaXYWHCoder(clip_border=False).decode(prior, torch.zeros(1, 4), max_shape=(50, 100))
    assert no_clip.tolist() == prior.tolist()
    assert clip_to_image(torch.tensor([[-5.0, -5.0, 7.0, 300.0]]), (20, 30, 3)).tolist() == [[0.0, 0.0, 7.0, 20.0]]


def test_empty_and_batched():
    coder = DeltaXYWHCoder(stds=(0.1, 0.1, 0.2, 0.2))
    empty = torch.zeros(0, 4)
    assert coder.encode(empty, empty).shape == (0, 4)
    assert coder.decode(empty, empty, max_shape=(10, 10)).shape == (0, 4)
    gen = torch.Generator().manual_seed(1)
    priors = _random_boxes(6, gen).view(2, 3, 4)
    gts = _random_boxes(6, gen).view(2, 3, 4)
    out = coder.decode(priors, coder.encode(priors, gts))
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out, gts, atol=1e-4, rtol=0)
