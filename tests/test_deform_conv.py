"""The fast deformable convolution must be torchvision's deform_conv2d, values and gradients."""

from __future__ import annotations


import pytest
import torch
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from scrpn.ops import DeformConv2d, deform_conv2d, deform_conv2d_fast
from scrpn.ops.deform_conv import _output_size, _pair, _resolve_impl

RTOL = 1e-4


def _rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |a - e| / max |e| (0 when both are all-zero)."""
    scale = expected.abs().max().item()
    diff = (actual - expected).abs().max().item()
    return diff / scale if scale > 0 else diff


def _make_case(
    batch: int,
    channels: int,
    size: tuple,
    out_channels: int,
    kernel: tuple,
    stride,
    padding,
    dilation,
    offset_groups: int,
    with_mask: bool,
    offset_scale: float,
    seed: int = 0,
):
    gen = torch.Generator().manual_seed(seed)
    kh, kw = kernel
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    out_h = _output_size(size[0], kh, sh, ph, dh)
    out_w = _output_size(size[1], kw, sw, pw, dw)
    x = torch.randn(batch, channels, *size, generator=gen)
    # fractional offsets: integer part + a fraction kept away from 0 and 1, so no
    # sampling position lies on a pixel (where the offset gradient has a kink)
    raw = torch.randn(batch, 2 * offset_groups * kh * kw, out_h, out_w, generator=gen) * offset_scale
    frac = 0.1 + 0.8 * torch.rand(raw.shape, generator=gen)
    offset = raw.floor() + frac
    weight = torch.randn(out_channels, channels, kh, kw, generator=gen)
    bias = torch.randn(out_channels, generator=gen)
    mask = torch.rand(batch, offset_groups * kh * kw, out_h, out_w, generator=gen) if with_mask else None
    return x, offset, weight, bias, mask


# (batch, channels, (H, W), out_channels, kernel, stride, padding, dilation, offset_groups, mask, offset_scale)
CASES = [
    (2, 8, (9, 11), 6, (3, 3), 1, 1, 1, 1, False, 2.0),
    (2, 8, (9, 11), 6, (3, 3), 1, 1, 1, 1, True, 2.0),
    (1, 8, (12, 10), 4, (3, 3), 2, 1, 1, 1, False, 1.5),
    (2, 8, (12, 12), 5, (3, 3), 1, 2, 2, 2, True, 2.0),
    (2, 6, (8, 7), 3, (3, 3), 2, 0, 2, 3, False, 1.0),
    (1, 4, (7, 9), 4, (3, 2), (2, 1), (1, 0), (1, 2), 2, True, 3.0),
    (1, 4, (6, 6), 4, (1, 1), 1, 0, 1, 1, False, 1.0),
    # offsets much larger than the map: most samples fall outside the image
    (2, 4, (5, 6), 3, (3, 3), 1, 1, 1, 1, True, 8.0),
]


@pytest.mark.parametrize("case", CASES)
def test_forward_matches_torchvision(case):
    batch, channels, size, out_channels, kernel, stride, padding, dilation, groups, with_mask, scale = case
    x, offset, weight, bias, mask = _make_case(
        batch, channels, size, out_channels, kernel, stride, padding, dilation, groups, with_mask, scale
    )
    expected = tv_deform_conv2d(
        x, offset, weight, bias, stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation), mask=mask
    )
    actual = deform_conv2d_fast(x, offset, weight, bias, stride, padding, dilation, mask)
    assert actual.shape == expected.shape
    assert _rel_err(actual, expected) < RTOL


def test_forward_float64_is_exact_to_rounding():
    x, offset, weight, bias, mask = _make_case(2, 4, (7, 8), 3, (3, 3), 1, 1, 1, 2, True, 3.0)
    x, offset, weight, bias, mask = (t.double() for t in (x, offset, weight, bias, mask))
    expected = tv_deform_conv2d(x, offset, weight, bias, padding=(1, 1), mask=mask)
    actual = deform_conv2d_fast(x, offset, weight, bias, padding=1, mask=mask)
    assert _rel_err(actual, expected) < 1e-12


@pytest.mark.parametrize("case", [CASES[1], CASES[3], CASES[5], CASES[7]])
def test_gradients_match_torchvision(case):
    batch, channels, size, out_channels, kernel, stride, padding, dilation, groups, with_mask, scale = case
    tensors = _make_case(
        batch, channels, size, out_channels, kernel, stride, padding, dilation, groups, with_mask, scale, seed=1
    )
    grad_out = None
    grads = {}
    for name, fn in (("tv", tv_deform_conv2d), ("fast", deform_conv2d_fast)):
        x, offset, weight, bias, mask = (t.clone().requires_grad_() if t is not None else None for t in tensors)
        out = fn(
            x, offset, weight, bias, stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation), mask=mask
        )
        if grad_out is None:
            grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
        out.backward(grad_out)
        grads[name] = [t.grad for t in (x, offset, weight, bias, mask) if t is not None]
    for expected, actual in zip(grads["tv"], grads["fast"]):
        assert _rel_err(actual, expected) < RTOL


@pytest.mark.parametrize("size", [(8, 16), (5, 7)])
def test_integer_offsets_read_pixels_with_dy_dx_order(size):
    """A 1x1 identity kernel with offset (dy, dx) = (1, -2) is a shift with zero fill.

    Bit-exact when H and W are powers of two (the normalised grid coordinates
    are then exact binary fractions); otherwise exact up to float32 rounding
    of the coordinate round trip (a few 1e-7 relative).
    """
    height, width = size
    x = torch.randn(2, 3, height, width)
    weight = torch.eye(3).view(3, 3, 1, 1)
    offset = torch.empty(2, 2, height, width)
    offset[:, 0] = 1.0  # dy
    offset[:, 1] = -2.0  # dx
    out = deform_conv2d_fast(x, offset, weight)
    expected = torch.zeros_like(x)
    expected[:, :, : height - 1, 2:] = x[:, :, 1:, : width - 2]  # out[i, j] = x[i + 1, j - 2]
    if size == (8, 16):
        assert torch.equal(out, expected)
    else:
        assert _rel_err(out, expected) < 1e-6


def test_zero_offset_is_plain_convolution():
    x = torch.randn(2, 5, 10, 9)
    weight = torch.randn(4, 5, 3, 3)
    bias = torch.randn(4)
    out_h = _output_size(10, 3, 2, 2, 2)
    out_w = _output_size(9, 3, 1, 2, 2)
    offset = torch.zeros(2, 18, out_h, out_w)
    out = deform_conv2d_fast(x, offset, weight, bias, stride=(2, 1), padding=2, dilation=2)
    expected = torch.nn.functional.conv2d(x, weight, bias, stride=(2, 1), padding=2, dilation=2)
    assert torch.allclose(out, expected, atol=1e-5)


def test_empty_batch_and_one_pixel_map():
    layer = DeformConv2d(4, 3, 3, padding=1, impl="fast")
    empty = torch.zeros(0, 4, 6, 6, requires_grad=True)
    out = layer(empty, torch.zeros(0, 18, 6, 6))
    assert out.shape == (0, 3, 6, 6)
    out.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() == 0

    x = torch.randn(2, 4, 1, 1, requires_grad=True)
    offset = (torch.rand(2, 18, 1, 1) - 0.5).requires_grad_()
    out = layer(x, offset)
    assert out.shape == (2, 3, 1, 1)
    out.sum().backward()
    expected = tv_deform_conv2d(x.detach(), offset.detach(), layer.weight.detach(), layer.bias.detach(), padding=(1, 1))
    assert _rel_err(out.detach(), expected) < RTOL


def test_module_impls_agree_and_auto_is_fast_on_cpu():
    torch.manual_seed(0)
    layer = DeformConv2d(6, 5, 3, stride=1, padding=1, offset_groups=2, impl="fast")
    x = torch.randn(2, 6, 8, 8)
    offset = torch.randn(2, layer.offset_channels, 8, 8) * 2
    mask = torch.rand(2, 18, 8, 8)
    fast = layer(x, offset, mask)
    layer.impl = "torchvision"
    reference = layer(x, offset, mask)
    assert _rel_err(fast, reference) < RTOL
    assert _resolve_impl("auto", x) == "fast"
    assert _rel_err(deform_conv2d(x, offset, layer.weight, layer.bias, padding=1, mask=mask), reference) < RTOL


def test_module_rejects_wrong_offset_channels_and_impl():
    layer = DeformConv2d(4, 4, 3, padding=1, offset_groups=2)
    assert layer.offset_channels == 36
    with pytest.raises(ValueError):
        layer(torch.randn(1, 4, 5, 5), torch.zeros(1, 18, 5, 5))
    with pytest.raises(ValueError):
        DeformConv2d(4, 4, 3, impl="cuda")
    with pytest.raises(ValueError):
        DeformConv2d(4, 4, 3, offset_groups=3)


# Speed is measured by benchmarks/bench_deform_conv.py (results/bench/deform_conv.json), not
# asserted here: timings on a shared 2-core machine are too noisy for a test.
