"""Point-set representation: layout, decoding, pseudo boxes, grid, flattening, DCN offset order."""
from __future__ import annotations

import pytest
import torch
from torchvision.ops import deform_conv2d

from scrpn.models.points import (dcn_base_offsets, flatten_level_maps, grid_points, offsets_to_points,
                                 points_to_boxes, points_to_offsets)

NINE = torch.tensor([[3.0, 4.0], [10.0, -2.0], [7.0, 7.0], [-1.0, 5.0], [0.0, 0.0],
                     [2.0, 9.0], [4.0, 4.0], [5.0, 5.0], [6.0, 6.0]])


def test_points_to_boxes_hand_worked():
    assert points_to_boxes(NINE[None]).tolist() == [[-1.0, -2.0, 10.0, 9.0]]
    assert points_to_boxes(NINE[None], mode="partial_minmax").tolist() == [[-1.0, -2.0, 10.0, 7.0]]
    assert points_to_boxes(NINE.expand(2, 3, 9, 2)).shape == (2, 3, 4)
    assert points_to_boxes(torch.zeros(0, 9, 2)).shape == (0, 4)
    with pytest.raises(ValueError):
        points_to_boxes(NINE[None], mode="moment")


def test_offsets_to_points_y_first_and_scaled_by_stride():
    k = torch.arange(9, dtype=torch.float32)
    offsets = torch.stack([k, -k], dim=1).reshape(1, 18)  # point k: dy = k, dx = -k (cells)
    pts = offsets_to_points(offsets, torch.tensor([[8.0, 4.0]]), 4.0)
    assert pts.shape == (1, 9, 2)
    torch.testing.assert_close(pts[0], torch.stack([8.0 - 4 * k, 4.0 + 4 * k], dim=1))
    # Per-row strides (rows of different levels in one tensor).
    two = offsets_to_points(torch.ones(2, 18), torch.zeros(2, 2), torch.tensor([4.0, 16.0]))
    assert two[0].unique().tolist() == [4.0] and two[1].unique().tolist() == [16.0]
    assert offsets_to_points(torch.zeros(0, 18), torch.zeros(0, 2), 8.0).shape == (0, 9, 2)


def test_points_to_offsets_inverts():
    gen = torch.Generator().manual_seed(0)
    offsets = torch.randn(5, 18, generator=gen)
    centers = torch.rand(5, 2, generator=gen) * 100
    strides = torch.tensor([4.0, 8.0, 16.0, 32.0, 64.0])
    pts = offsets_to_points(offsets, centers, strides)
    torch.testing.assert_close(points_to_offsets(pts, centers, strides), offsets)


def test_grid_points():
    pts = grid_points([(2, 3), (1, 1)], [8, 16])
    assert pts[0].tolist() == [[0, 0], [8, 0], [16, 0], [0, 8], [8, 8], [16, 8]]
    assert pts[1].tolist() == [[0.0, 0.0]]
    shifted = grid_points([(1, 2)], [8], center_offset=0.5)[0]
    assert shifted.tolist() == [[4.0, 4.0], [12.0, 4.0]]
    assert grid_points([(0, 4)], [4])[0].shape == (0, 2)


def test_dcn_base_offsets():
    expected = [-1, -1, -1, 0, -1, 1, 0, -1, 0, 0, 0, 1, 1, -1, 1, 0, 1, 1]
    assert dcn_base_offsets(3).tolist() == expected
    assert dcn_base_offsets(3, dilation=2).tolist() == [2 * v for v in expected]


def test_deform_conv2d_samples_at_the_points():
    """Checks the (dy, dx) layout against torchvision: with offset = points - regular grid, tap k of
    a 3x3 deformable conv reads the feature exactly at point k (integer cells, no interpolation)."""
    height, width = 7, 8
    feat = torch.arange(height * width, dtype=torch.float32).view(1, 1, height, width)
    gen = torch.Generator().manual_seed(0)
    cells = torch.randint(-2, 3, (18,), generator=gen).float()  # point k at (dy, dx) cells
    offset = (cells - dcn_base_offsets(3)).view(1, 18, 1, 1).expand(1, 18, height, width).contiguous()
    row, col = 3, 4
    for k in range(9):
        weight = torch.zeros(1, 1, 3, 3)
        weight.view(-1)[k] = 1.0
        out = deform_conv2d(feat, offset, weight, padding=(1, 1))
        dy, dx = int(cells[2 * k]), int(cells[2 * k + 1])
        assert out[0, 0, row, col].item() == feat[0, 0, row + dy, col + dx].item()
    # And offsets_to_points puts point k at the same place in pixels (stride 1, centre (col, row)).
    pts = offsets_to_points(cells[None], torch.tensor([[float(col), float(row)]]), 1.0)[0]
    assert pts[:, 0].tolist() == [col + cells[2 * k + 1].item() for k in range(9)]
    assert pts[:, 1].tolist() == [row + cells[2 * k].item() for k in range(9)]


def test_flatten_level_maps_location_major():
    a, c = 2, 3
    level0 = torch.arange(2 * a * c * 2 * 2, dtype=torch.float32).view(2, a * c, 2, 2)
    level1 = -torch.arange(2 * a * c * 1 * 3, dtype=torch.float32).view(2, a * c, 1, 3) - 1
    flat = flatten_level_maps([level0, level1], c)
    assert flat.shape == (2, (4 + 3) * a, c)
    for b in range(2):
        for r in range(2):
            for col in range(2):
                for item in range(a):
                    torch.testing.assert_close(flat[b, (r * 2 + col) * a + item],
                                               level0[b, item * c:(item + 1) * c, r, col])
        for col in range(3):
            torch.testing.assert_close(flat[b, 8 + col * a + 1], level1[b, c:2 * c, 0, col])
    with pytest.raises(ValueError):
        flatten_level_maps([level0], 4)
