"""Deformable convolution (DCNv1 / DCNv2) with a fast CPU path.

``torchvision.ops.deform_conv2d`` is the reference implementation. On CUDA it
is fast, but its CPU kernel is a scalar im2col loop: forward + backward of a
3x3, 64 -> 64 channel layer on a (2, 64, 64, 64) map takes about half a second
on a 2-core machine, some 25x the cost of a plain convolution. SC-RPN applies
such a layer at every FPN level of every image, so CPU training and tests
would be dominated by it.

:func:`deform_conv2d_fast` computes exactly the same function from two
well-optimised PyTorch primitives:

1. **Sampling** (``torch.nn.functional.grid_sample``, bilinear, zero padding,
   ``align_corners=False``). For every kernel tap ``k = ki * kw + kj`` and
   output location ``(i, j)`` the input is read at

       y = i * stride_h - pad_h + ki * dilation_h + dy[k, i, j]
       x = j * stride_w - pad_w + kj * dilation_w + dx[k, i, j]

   All K taps are sampled in one call by stacking them along the grid's
   height: the grid is ``(B * G, K * H_out, W_out, 2)`` and the result
   ``(B * G, C / G, K * H_out, W_out)`` is, without any copy, the im2col
   matrix ``(B, C * K, H_out * W_out)`` with row index ``c * K + k``, which is
   the memory order of ``weight.view(C_out, C * K)``.
2. **Projection**: one batched matrix product of the weight with that
   matrix (``torch.bmm``; faster on CPU than the broadcasting ``matmul``).

Backward comes from autograd through both primitives, so gradients with
respect to input, offset, mask, weight and bias are all available.

Equivalence with torchvision's kernel (checked by ``tests/test_deform_conv.py``):

* *Pixel-centre mapping.* With ``align_corners=False`` grid_sample maps a
  normalised coordinate ``g`` to the pixel coordinate ``((g + 1) * W - 1) / 2``;
  we use the inverse ``g = (2 * x + 1) / W - 1`` so that ``x = 3`` reads pixel
  column 3 exactly (exactly in floating point whenever ``W`` is a power of two,
  to ~1e-7 otherwise).
* *Boundaries.* torchvision returns 0 when ``y <= -1`` or ``y >= H`` (same for
  x) and otherwise drops the bilinear corners that fall outside the image.
  That is bilinear interpolation of the image padded with zeros, which is
  what grid_sample's ``padding_mode='zeros'`` computes; its gradient with
  respect to the sampling position is also the same piecewise-linear one.
* *Offset layout.* ``offset`` is ``(B, 2 * G * K, H_out, W_out)``; channel
  ``2 * (g * K + k)`` holds ``dy`` and ``2 * (g * K + k) + 1`` holds ``dx`` of
  tap ``k`` for offset group ``g``; group ``g`` owns input channels
  ``[g * C / G, (g + 1) * C / G)``. ``mask`` (DCNv2 modulation) is
  ``(B, G * K, H_out, W_out)`` and multiplies each sampled value.

Memory: the sampled matrix holds ``C * K * H_out * W_out`` values per image
(9x the input for a 3x3 kernel) and is kept for backward; for a (2, 256,
200, 336) P2 map that is ~1.2 GB, so on large CPU inputs consider the
torchvision implementation, which needs less memory.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import torch
from torch.profiler import record_function
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["deform_conv2d", "deform_conv2d_fast", "DeformConv2d"]

IntPair = Union[int, Tuple[int, int]]

_IMPLS = ("auto", "fast", "torchvision")


def _pair(value: IntPair) -> Tuple[int, int]:
    """``3 -> (3, 3)``; ``(1, 2) -> (1, 2)``."""
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def _output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one axis (same formula as nn.Conv2d)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _base_grid(
    out_h: int,
    out_w: int,
    in_h: int,
    in_w: int,
    kernel: Tuple[int, int],
    stride: Tuple[int, int],
    padding: Tuple[int, int],
    dilation: Tuple[int, int],
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    """Normalised grid_sample coordinates of the undeformed kernel taps.

    Returns a ``(K, H_out, W_out, 2)`` tensor whose last axis is ``(x, y)`` in
    grid_sample's ``align_corners=False`` convention, i.e. ``(2 * p + 1) / size - 1``
    for pixel coordinate ``p``; tap ``k = ki * kw + kj`` (row-major).
    """
    kh, kw = kernel
    rows = torch.arange(out_h, dtype=dtype, device=device) * stride[0] - padding[0]  # (H_out,)
    cols = torch.arange(out_w, dtype=dtype, device=device) * stride[1] - padding[1]  # (W_out,)
    tap_y = torch.arange(kh, dtype=dtype, device=device) * dilation[0]  # (kh,)
    tap_x = torch.arange(kw, dtype=dtype, device=device) * dilation[1]  # (kw,)
    # (kh, kw, H_out, W_out) pixel coordinates of each tap at each output location
    py = tap_y.view(kh, 1, 1, 1) + rows.view(1, 1, out_h, 1)
    px = tap_x.view(1, kw, 1, 1) + cols.view(1, 1, 1, out_w)
    py = py.expand(kh, kw, out_h, out_w)
    px = px.expand(kh, kw, out_h, out_w)
    gx = (2.0 * px + 1.0) / in_w - 1.0
    gy = (2.0 * py + 1.0) / in_h - 1.0
    return torch.stack((gx, gy), dim=-1).reshape(kh * kw, out_h, out_w, 2)


def _check_shapes(
    input: Tensor,
    offset: Tensor,
    weight: Tensor,
    mask: Optional[Tensor],
    out_h: int,
    out_w: int,
) -> Tuple[int, int]:
    """Validate shapes like torchvision does; returns (offset_groups, weight_groups)."""
    if input.dim() != 4:
        raise ValueError(f"input must be (B, C, H, W), got shape {tuple(input.shape)}")
    batch, channels = input.shape[:2]
    out_channels, channels_per_group, kh, kw = weight.shape
    num_taps = kh * kw
    if channels_per_group == 0 or channels % channels_per_group != 0:
        raise ValueError(
            f"input channels ({channels}) must be a multiple of weight.shape[1] ({channels_per_group})"
        )
    groups = channels // channels_per_group
    if out_channels % groups != 0:
        raise ValueError(f"out channels ({out_channels}) must be divisible by groups ({groups})")
    if offset.dim() != 4 or offset.shape[0] != batch or offset.shape[2:] != (out_h, out_w):
        raise ValueError(
            f"offset must be (B={batch}, 2*G*K, H_out={out_h}, W_out={out_w}), got {tuple(offset.shape)}"
        )
    if offset.shape[1] == 0 or offset.shape[1] % (2 * num_taps) != 0:
        raise ValueError(
            f"offset channels ({offset.shape[1]}) must be a positive multiple of 2*kh*kw = {2 * num_taps}"
        )
    offset_groups = offset.shape[1] // (2 * num_taps)
    if channels % offset_groups != 0:
        raise ValueError(f"input channels ({channels}) must be divisible by offset groups ({offset_groups})")
    if mask is not None:
        expected = (batch, offset_groups * num_taps, out_h, out_w)
        if tuple(mask.shape) != expected:
            raise ValueError(f"mask must have shape {expected}, got {tuple(mask.shape)}")
    return offset_groups, groups


def deform_conv2d_fast(
    input: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    mask: Optional[Tensor] = None,
) -> Tensor:
    """Deformable 2-D convolution with ``torchvision.ops.deform_conv2d`` semantics.

    Args:
        input: ``(B, C, H, W)``.
        offset: ``(B, 2 * G * kh * kw, H_out, W_out)``, (dy, dx) pairs per tap,
            taps row-major, offset groups outermost (see module docstring).
        weight: ``(C_out, C / groups, kh, kw)``; ``groups`` is inferred, as in
            torchvision.
        bias: ``(C_out,)`` or None.
        stride, padding, dilation: int or (h, w) pairs.
        mask: optional DCNv2 modulation ``(B, G * kh * kw, H_out, W_out)``.

    Returns:
        ``(B, C_out, H_out, W_out)``.
    """
    stride_hw = _pair(stride)
    padding_hw = _pair(padding)
    dilation_hw = _pair(dilation)
    out_channels, channels_per_group, kh, kw = weight.shape
    batch, channels, in_h, in_w = input.shape
    out_h = _output_size(in_h, kh, stride_hw[0], padding_hw[0], dilation_hw[0])
    out_w = _output_size(in_w, kw, stride_hw[1], padding_hw[1], dilation_hw[1])
    offset_groups, groups = _check_shapes(input, offset, weight, mask, out_h, out_w)
    num_taps = kh * kw
    num_out = out_h * out_w

    # --- sampling grid: base tap positions + offsets, in normalised coordinates
    base = _base_grid(
        out_h, out_w, in_h, in_w, (kh, kw), stride_hw, padding_hw, dilation_hw, offset.dtype, offset.device
    )  # (K, H_out, W_out, 2) as (x, y)
    # (B, G, K, 2, H_out, W_out) as (dy, dx) -> (B, G, K, H_out, W_out, 2) as (dx, dy)
    delta = offset.reshape(batch, offset_groups, num_taps, 2, out_h, out_w).permute(0, 1, 2, 4, 5, 3).flip(-1)
    scale = offset.new_tensor([2.0 / in_w, 2.0 / in_h])  # pixels -> normalised units, (x, y)
    grid = base + delta * scale  # (B, G, K, H_out, W_out, 2)
    grid = grid.reshape(batch * offset_groups, num_taps * out_h, out_w, 2)

    # --- bilinear sampling of all taps at once
    grouped_input = input.reshape(batch * offset_groups, channels // offset_groups, in_h, in_w)
    sampled = F.grid_sample(grouped_input, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # (B*G, C/G, K*H_out, W_out) -> (B, G, C/G, K, H_out*W_out); row (g, c, k) == c_global*K + k
    sampled = sampled.view(batch, offset_groups, channels // offset_groups, num_taps, num_out)
    if mask is not None:
        sampled = sampled * mask.reshape(batch, offset_groups, 1, num_taps, num_out)

    # --- projection: (C_out, C*K) x (C*K, L) per image (and per weight group)
    rows_per_group = channels_per_group * num_taps
    columns = sampled.reshape(batch * groups, rows_per_group, num_out)  # (B*groups, C/groups*K, L)
    kernel = weight.reshape(1, groups, out_channels // groups, rows_per_group)
    kernel = kernel.expand(batch, -1, -1, -1).reshape(batch * groups, out_channels // groups, rows_per_group)
    output = torch.bmm(kernel, columns).view(batch, out_channels, out_h, out_w)  # (B, C_out, H_out, W_out)
    if bias is not None:
        output = output + bias.view(1, out_channels, 1, 1)
    return output


def _resolve_impl(impl: str, input: Tensor) -> str:
    if impl not in _IMPLS:
        raise ValueError(f"impl must be one of {_IMPLS}, got {impl!r}")
    if impl == "auto":
        return "torchvision" if input.is_cuda else "fast"
    return impl


def deform_conv2d(
    input: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    mask: Optional[Tensor] = None,
    impl: str = "auto",
) -> Tensor:
    """Dispatch to torchvision's kernel or :func:`deform_conv2d_fast`.

    ``impl='auto'`` uses torchvision's op for CUDA tensors (its CUDA kernel is
    fast and memory-lean) and the grid_sample formulation everywhere else.
    An empty batch always takes the fast path, which handles it on any device.
    """
    if _resolve_impl(impl, input) == "fast" or input.shape[0] == 0:
        return deform_conv2d_fast(input, offset, weight, bias, stride, padding, dilation, mask)
    from torchvision.ops import deform_conv2d as tv_deform_conv2d

    return tv_deform_conv2d(
        input,
        offset,
        weight,
        bias,
        stride=_pair(stride),
        padding=_pair(padding),
        dilation=_pair(dilation),
        mask=mask,
    )


class DeformConv2d(nn.Module):
    """Deformable convolution layer (weight groups = 1).

    Same parameters and initialisation as ``torchvision.ops.DeformConv2d``,
    except that the number of offset groups is fixed at construction (and
    checked against the offset at call time) and the implementation is
    selectable: ``impl='auto'`` (torchvision on CUDA, fast path otherwise),
    ``'fast'`` or ``'torchvision'``.

    ``forward(input, offset, mask=None)``: ``offset`` is
    ``(B, 2 * offset_groups * k * k, H_out, W_out)`` with (dy, dx) pairs,
    ``mask`` is ``(B, offset_groups * k * k, H_out, W_out)`` or None.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        offset_groups: int = 1,
        bias: bool = True,
        impl: str = "auto",
    ) -> None:
        super().__init__()
        if impl not in _IMPLS:
            raise ValueError(f"impl must be one of {_IMPLS}, got {impl!r}")
        if offset_groups < 1 or in_channels % offset_groups != 0:
            raise ValueError(
                f"in_channels ({in_channels}) must be divisible by offset_groups ({offset_groups}) >= 1"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.offset_groups = offset_groups
        self.impl = impl
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def offset_channels(self) -> int:
        """Number of offset channels expected by :meth:`forward`."""
        return 2 * self.offset_groups * self.kernel_size[0] * self.kernel_size[1]

    def reset_parameters(self) -> None:
        """Kaiming-uniform weight, uniform bias: the nn.Conv2d / torchvision default."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor, offset: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        if offset.shape[1] != self.offset_channels:
            raise ValueError(
                f"expected {self.offset_channels} offset channels "
                f"(offset_groups={self.offset_groups}, kernel={self.kernel_size}), got {offset.shape[1]}"
            )
        with record_function("scrpn::deform_conv"):   # a label for `scrpn bench`'s breakdown
            return deform_conv2d(
                input,
                offset,
                self.weight,
                self.bias,
                stride=self.stride,
                padding=self.padding,
                dilation=self.dilation,
                mask=mask,
                impl=self.impl,
            )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"offset_groups={self.offset_groups}, bias={self.bias is not None}, impl={self.impl!r}"
        )
