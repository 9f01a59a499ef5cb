"""Alignment operators: tap <-> point mapping, box-guided offsets, shapes and edge cases."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from scrpn.models.heads.alignment import (
    AdaptiveConv,
    PointAlignment,
    UnalignedConv,
    box_to_offsets,
    build_alignment,
    regular_grid_offsets,
)
from scrpn.ops import DeformConv2d


def _rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return (actual - expected).abs().max().item() / expected.abs().max().item()


def _neighbourhood_boxes(height: int, width: int, stride: float, half: float = 1.0) -> torch.Tensor:
    """(H*W, 4) boxes centred on each location (pixel (j*s, i*s)), half-size ``half`` cells."""
    ii, jj = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")
    cx, cy = jj.reshape(-1) * stride, ii.reshape(-1) * stride
    return torch.stack(
        (cx - half * stride, cy - half * stride, cx + half * stride, cy + half * stride), dim=-1
    )


def test_regular_grid_is_row_major_dy_dx():
    grid = regular_grid_offsets(3).view(9, 2).tolist()
    assert grid == [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 0], [0, 1], [1, -1], [1, 0], [1, 1]]
    assert regular_grid_offsets(3, dilation=2).view(9, 2)[0].tolist() == [-2, -2]


@pytest.mark.parametrize("impl", ["fast", "torchvision"])
def test_point_alignment_on_regular_grid_is_plain_conv(impl):
    torch.manual_seed(0)
    align = PointAlignment(6, 5, impl=impl)
    x = torch.randn(2, 6, 7, 9)
    points = regular_grid_offsets(3).view(1, 18, 1, 1).expand(2, 18, 7, 9)
    out = align(x, points)
    expected = F.conv2d(x, align.conv.weight, align.conv.bias, padding=1)
    assert out.shape == (2, 5, 7, 9)
    assert torch.allclose(out, expected, atol=1e-5)


def test_point_k_is_read_by_tap_k():
    """Only tap 5 (row 1, col 2) has weight; it must read point 5, wherever that is."""
    torch.manual_seed(0)
    align = PointAlignment(3, 4, impl="fast")
    with torch.no_grad():
        align.conv.weight.zero_()
        align.conv.weight[:, :, 1, 2] = torch.randn(4, 3)
        align.conv.bias.zero_()
    x = torch.randn(1, 3, 8, 8)
    points = torch.randn(1, 18, 8, 8) * 3  # other points anywhere
    points[:, 10] = 2.0  # point 5: dy
    points[:, 11] = -3.0  # point 5: dx
    out = align(x, points)
    shifted = torch.zeros_like(x)
    shifted[:, :, :6, 3:] = x[:, :, 2:, :5]  # x[i + 2, j - 3], zero outside
    expected = torch.einsum("oc,bchw->bohw", align.conv.weight[:, :, 1, 2], shifted)
    assert torch.allclose(out, expected, atol=1e-5)


def test_gradient_mul_scales_point_gradient_only():
    torch.manual_seed(0)
    align = PointAlignment(4, 4, gradient_mul=0.1, impl="fast")
    x = torch.randn(1, 4, 6, 6)
    points = (torch.randn(1, 18, 6, 6) * 1.5 + 0.37).requires_grad_()
    out = align(x, points)
    out.square().sum().backward()

    offset = (points.detach() - regular_grid_offsets(3).view(1, 18, 1, 1)).requires_grad_()
    plain = align.conv(x, offset)
    plain.square().sum().backward()
    assert torch.allclose(out, plain, atol=1e-5)  # (1-g)*p + g*p == p up to rounding
    assert torch.allclose(points.grad, 0.1 * offset.grad, rtol=1e-5, atol=1e-7)
    assert offset.grad.abs().sum() > 0


def test_point_alignment_rejects_bad_points():
    with pytest.raises(ValueError):
        PointAlignment(4, 4, num_points=8)
    align = PointAlignment(4, 4)
    with pytest.raises(ValueError):
        align(torch.randn(1, 4, 5, 5), torch.zeros(1, 16, 5, 5))
    with pytest.raises(ValueError):
        align(torch.randn(1, 4, 5, 5), torch.zeros(1, 18, 4, 5))


def test_box_to_offsets_hand_worked():
    stride, size = 8.0, (4, 5)
    i, j = 2, 3
    boxes = torch.zeros(1, 20, 4)
    loc = i * 5 + j
    # corners on the neighbouring locations (j +- 1, i +- 1) -> taps on the regular grid
    boxes[0, loc] = torch.tensor([16.0, 8.0, 32.0, 24.0])
    offsets = box_to_offsets(boxes, stride, size)
    assert offsets.shape == (1, 18, 4, 5)
    assert torch.allclose(offsets[0, :, i, j], torch.zeros(18))
    # twice as large, same centre: taps 2 cells apart -> offset = tap position
    boxes[0, loc] = torch.tensor([8.0, 0.0, 40.0, 32.0])
    expected = regular_grid_offsets(3)
    assert torch.allclose(box_to_offsets(boxes, stride, size)[0, :, i, j], expected)
    # same size, centre one cell to the right, 16 px tall / 32 px wide:
    # dy = 0 * ty, dx = 1 + (2 - 1) * tx
    boxes[0, loc] = torch.tensor([16.0, 8.0, 48.0, 24.0])
    got = box_to_offsets(boxes, stride, size)[0, :, i, j].view(9, 2)
    taps = regular_grid_offsets(3).view(9, 2)
    assert torch.allclose(got[:, 0], torch.zeros(9))
    assert torch.allclose(got[:, 1], 1.0 + taps[:, 1])
    # dilation 2: the neighbourhood box is half the regular (dilated) grid
    boxes[0, loc] = torch.tensor([16.0, 8.0, 32.0, 24.0])
    assert torch.allclose(box_to_offsets(boxes, stride, size, dilation=2)[0, :, i, j], -regular_grid_offsets(3))
    # center_offset 0.5: the location sits at pixel ((j + .5) * s, (i + .5) * s)
    boxes[0, loc] = torch.tensor([20.0, 12.0, 36.0, 28.0])
    assert torch.allclose(box_to_offsets(boxes, stride, size, center_offset=0.5)[0, :, i, j], torch.zeros(18))


def test_box_to_offsets_accepts_both_layouts():
    boxes = torch.rand(2, 12, 4) * 50
    boxes[..., 2:] += boxes[..., :2]
    rows = box_to_offsets(boxes, 16, (3, 4))
    grid = box_to_offsets(boxes.transpose(1, 2).reshape(2, 4, 3, 4), 16, (3, 4))
    assert torch.equal(rows, grid)
    with pytest.raises(ValueError):
        box_to_offsets(boxes, 16, (4, 4))


@pytest.mark.parametrize("half, dilation", [(1.0, 1), (2.0, 2)])
def test_adaptive_offset_mode_with_centred_boxes_is_dilated_conv(half, dilation):
    """Boxes 2*half cells wide centred on each location = a 3x3 conv with dilation ``half``."""
    torch.manual_seed(0)
    conv = AdaptiveConv(5, 4, "offset", impl="fast")
    x = torch.randn(2, 5, 6, 7)
    boxes = _neighbourhood_boxes(6, 7, 16.0, half).expand(2, -1, -1)
    out = conv(x, boxes, 16.0)
    expected = F.conv2d(x, conv.conv.weight, conv.conv.bias, padding=dilation, dilation=dilation)
    assert torch.allclose(out, expected, atol=1e-5)


def test_adaptive_dilation_mode_is_dilated_conv():
    torch.manual_seed(0)
    conv = AdaptiveConv(5, 4, "dilation", dilation=3)
    reference = torch.nn.Conv2d(5, 4, 3, padding=3, dilation=3)
    reference.load_state_dict(conv.conv.state_dict())
    x = torch.randn(2, 5, 9, 11)
    out = conv(x, None, 8.0)
    assert out.shape == (2, 4, 9, 11)
    assert torch.equal(out, reference(x))


def test_adaptive_offset_needs_boxes_and_bad_mode():
    with pytest.raises(ValueError):
        AdaptiveConv(4, 4, "offset")(torch.randn(1, 4, 3, 3))
    with pytest.raises(ValueError):
        AdaptiveConv(4, 4, "deform")


def test_no_alignment_and_builder():
    x = torch.randn(1, 4, 3, 3)
    plain = build_alignment("none", 4, 8)
    assert isinstance(plain, UnalignedConv) and plain.bias.abs().sum() == 0
    expected = torch.nn.functional.conv2d(x, plain.weight, plain.bias, padding=1)
    assert torch.equal(plain(x, torch.zeros(1, 18, 3, 3), 8), expected)   # the guide is ignored
    assert isinstance(build_alignment("point", 4, 8), PointAlignment)
    assert build_alignment("dilation", 4, 8, dilation=1).conv.dilation == (1, 1)
    offset_mode = build_alignment("offset", 4, 8)
    assert isinstance(offset_mode, AdaptiveConv) and isinstance(offset_mode.conv, DeformConv2d)
    assert build_alignment("offset", 4, 8, init="mmdet").conv.bias is None
    with pytest.raises(ValueError):
        build_alignment("anchor", 4, 4)


STRIDES = (4, 8, 16, 32, 64)


@pytest.mark.parametrize("kind", ["none", "dilation", "offset", "point"])
def test_five_level_pyramid_shapes_and_backward(kind):
    torch.manual_seed(0)
    align = build_alignment(kind, 8, 8, impl="fast")
    image_h, image_w = 128, 192
    total = 0.0
    for stride in STRIDES:
        h, w = image_h // stride, image_w // stride
        x = torch.randn(2, 8, h, w, requires_grad=True)
        if kind == "point":
            guide = torch.randn(2, 18, h, w, requires_grad=True)
        else:
            guide = _neighbourhood_boxes(h, w, float(stride), 3.0).expand(2, -1, -1)
        out = align(x, guide, float(stride))
        assert out.shape == (2, 8, h, w)
        total = total + out.sum()
    total.backward()


@pytest.mark.parametrize("kind", ["none", "dilation", "offset", "point"])
def test_empty_batch_and_single_cell_map(kind):
    align = build_alignment(kind, 4, 4, impl="fast")
    for batch, (h, w) in ((0, (5, 6)), (2, (1, 1))):
        x = torch.randn(batch, 4, h, w, requires_grad=True)
        if kind == "point":
            guide = torch.randn(batch, 18, h, w)
        else:
            guide = _neighbourhood_boxes(h, w, 64.0, 4.0).expand(batch, -1, -1)
        out = align(x, guide, 64.0)
        assert out.shape == (batch, 4, h, w)
        assert torch.isfinite(out).all()
        out.sum().backward()
