"""Anchor generator: hand-worked values, location-major order, counts."""
from __future__ import annotations

import math

import pytest
import torch

from scrpn.models.anchors import AnchorGenerator, base_anchors
from scrpn.models.points import flatten_level_maps

R2 = math.sqrt(2.0)
# stride 4, scale 8 (32 px side for ratio 1); ratio = h / w.
EXPECTED_ORIGIN = torch.tensor([
    [-16 * R2, -8 * R2, 16 * R2, 8 * R2],   # ratio 0.5: w = 32 * sqrt(2), h = 32 / sqrt(2)
    [-16.0, -16.0, 16.0, 16.0],             # ratio 1
    [-8 * R2, -16 * R2, 8 * R2, 16 * R2],   # ratio 2: w = 32 / sqrt(2), h = 32 * sqrt(2)
])


def test_base_anchors_hand_worked():
    torch.testing.assert_close(base_anchors(4, (0.5, 1.0, 2.0), (8.0,)), EXPECTED_ORIGIN)
    # ratio-major, then scale (mmdetection's order): two scales give [r0s0, r0s1, r1s0, ...].
    two = base_anchors(16, (1.0, 4.0), (1.0, 2.0))
    torch.testing.assert_close(two, torch.tensor([[-8.0, -8.0, 8.0, 8.0], [-16.0, -16.0, 16.0, 16.0],
                                                  [-4.0, -16.0, 4.0, 16.0], [-8.0, -32.0, 8.0, 32.0]]))


def test_grid_anchors_values_at_locations():
    gen = AnchorGenerator()
    anchors = gen.grid_anchors([(3, 5), (2, 3), (1, 2), (1, 1), (1, 1)], "cpu")
    level0 = anchors[0]
    assert level0.shape == (3 * 5 * 3, 4) and level0.dtype == torch.float32
    torch.testing.assert_close(level0[0:3], EXPECTED_ORIGIN)
    # (row 1, col 2) on stride 4: centre (x, y) = (8, 4); location index 1 * 5 + 2 = 7.
    shift = torch.tensor([8.0, 4.0, 8.0, 4.0])
    torch.testing.assert_close(level0[7 * 3: 7 * 3 + 3], EXPECTED_ORIGIN + shift)
    assert level0[7 * 3 + 1].tolist() == [-8.0, -12.0, 24.0, 20.0]
    # Level 1 (stride 8, still scale 8 -> 64 px): (row 1, col 0) centre (0, 8).
    assert anchors[1][3 * 3 + 1].tolist() == [-32.0, -24.0, 32.0, 40.0]


def test_center_offset_moves_anchor_centres():
    gen = AnchorGenerator(strides=(8,), ratios=(1.0,), scales=(2.0,), center_offset=0.5)
    anchors = gen.grid_anchors([(1, 2)])[0]
    assert anchors.tolist() == [[-4.0, -4.0, 12.0, 12.0], [4.0, -4.0, 20.0, 12.0]]


def test_order_matches_conv_output_reshape():
    """A conv predicting (B, A*4, H, W) and reshaped location-major lines up with the anchors."""
    gen = AnchorGenerator(strides=(4, 8))
    sizes = [(2, 3), (1, 2)]
    anchors = torch.cat(gen.grid_anchors(sizes))
    num_a = gen.num_base_anchors
    # A "prediction" that encodes (level, row, col, anchor, coord) in its value.
    maps = []
    for lvl, (h, w) in enumerate(sizes):
        r = torch.arange(h).view(1, 1, h, 1)
        c = torch.arange(w).view(1, 1, 1, w)
        ch = torch.arange(num_a * 4).view(1, -1, 1, 1)
        maps.append((10000 * lvl + 1000 * r + 100 * c + ch).float().expand(2, -1, -1, -1))
    flat = flatten_level_maps(maps, 4)  # (B, sum(HWA), 4)
    assert flat.shape == (2, anchors.shape[0], 4)
    for i in range(anchors.shape[0]):
        code = int(flat[1, i, 0].item())
        lvl, row, col, a = code // 10000, code % 10000 // 1000, code % 1000 // 100, code % 100 // 4
        stride = gen.strides[lvl]
        centre = (anchors[i, :2] + anchors[i, 2:]) / 2
        assert centre.tolist() == [col * stride, row * stride]
        torch.testing.assert_close(anchors[i] - centre.repeat(2), gen.base_anchors[lvl][a])
        assert flat[1, i].tolist() == [code, code + 1, code + 2, code + 3]


def test_counts_for_320_input():
    gen = AnchorGenerator()
    sizes = [(320 // s, 320 // s) for s in gen.strides]
    anchors = gen.grid_anchors(sizes)
    assert [a.shape[0] for a in anchors] == [19200, 4800, 1200, 300, 75]
    assert sum(a.shape[0] for a in anchors) == 3 * (6400 + 1600 + 400 + 100 + 25)
    # The largest P6 anchor (ratio 1) is 512 px, centred at the last location (256, 256).
    assert anchors[4][-2].tolist() == [0.0, 0.0, 512.0, 512.0]


def test_bad_inputs():
    with pytest.raises(ValueError):
        AnchorGenerator(ratios=())
    with pytest.raises(ValueError):
        AnchorGenerator().grid_anchors([(2, 2)])
    empty = AnchorGenerator(strides=(4,)).grid_anchors([(0, 5)])[0]
    assert empty.shape == (0, 4)
