"""Feature alignment between the two stages of a two-stage proposal head.

This is the "alignment" box of SC-RPN's Fig. 1: the stage-1 prediction (an
init point set, or a box for the anchor-based ablations) decides *where* the
stage-2 convolution reads the feature map, so that the stage-2 feature at a
location describes the object that location's stage-1 prediction covers.

Four kinds, built by :func:`build_alignment`:

* ``'point'`` -- :class:`PointAlignment`, SC-RPN's point alignment (RepPoints
  style, Section III-C): a 3x3 deformable convolution whose 9 taps sit on the
  9 predicted init points.
* ``'offset'`` -- :class:`AdaptiveConv` in offset mode (Cascade RPN): a 3x3
  deformable convolution whose taps form a regular 3x3 grid spanning one box
  per location (the stage-1 refined anchor).
* ``'dilation'`` -- :class:`AdaptiveConv` in dilation mode (Cascade RPN's
  stage 1): a plain dilated 3x3 convolution. ``dilation=1`` gives the
  ordinary 3x3 convolution of an un-aligned two-stage head (Iterative RPN).
* ``'none'`` -- :class:`UnalignedConv`: a plain 3x3 conv at the regular taps.

Coordinate conventions (shared with the rest of ``scrpn``):

* Offsets and points are in *feature cells* of the level, ``(dy, dx)`` pairs,
  ``(B, 2 * K, H, W)``, tap / point ``k`` in channels ``2k`` (dy) and ``2k + 1``
  (dx). Kernel taps are numbered row-major, so for a 3x3 kernel the regular
  grid is (-1,-1), (-1,0), (-1,1), (0,-1), (0,0), (0,1), (1,-1), (1,0), (1,1).
* Feature location ``(i, j)`` of a level with stride ``s`` sits at image pixel
  ``((j + center_offset) * s, (i + center_offset) * s)``; ``center_offset``
  defaults to 0, mmdetection's convention for anchor and point generators
  (SC-RPN and Cascade RPN were implemented in mmdetection).

All modules have a positional-compatible ``forward(x, guide, stride)`` so that
a head can call whichever it was configured with in the same way; each
ignores the arguments it does not need. None applies an activation: the
head applies its ReLU after the alignment, as RepPoints and Cascade RPN do.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import torch
from torch import Tensor, nn

from scrpn.ops import DeformConv2d

__all__ = [
    "ALIGNMENT_KINDS",
    "AdaptiveConv",
    "PointAlignment",
    "UnalignedConv",
    "DEFORM_INITS",
    "box_to_offsets",
    "build_alignment",
    "make_align_conv",
    "regular_grid_offsets",
]

ALIGNMENT_KINDS = ("none", "dilation", "offset", "point")


def regular_grid_offsets(
    kernel_size: int = 3,
    dilation: int = 1,
    dtype: torch.dtype = torch.float32,
    device: Optional[torch.device] = None,
) -> Tensor:
    """Tap positions of a regular ``kernel_size`` x ``kernel_size`` kernel around its centre.

    Returns ``(2 * K,)`` as ``(dy0, dx0, dy1, dx1, ...)``, taps row-major, e.g.
    for 3x3 / dilation 1: ``(-1,-1), (-1,0), (-1,1), (0,-1), (0,0), ...``.
    This is the order in which the deformable convolution's weight
    ``(C_out, C, kh, kw)`` and its offset channels enumerate the taps.
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    half = kernel_size // 2
    steps = torch.arange(-half, half + 1, dtype=dtype, device=device) * dilation  # (k,)
    dy = steps.view(-1, 1).expand(kernel_size, kernel_size)  # row index varies slowest
    dx = steps.view(1, -1).expand(kernel_size, kernel_size)
    return torch.stack((dy, dx), dim=-1).reshape(-1)  # (2K,)


DEFORM_INITS = ("torch", "mmdet")


def make_align_conv(in_channels: int, out_channels: int, kernel_size: int, *, deformable: bool,
                    dilation: int = 1, impl: str = "auto", init: str = "torch") -> nn.Module:
    """The conv of an alignment module, initialised per ``init``:

    * ``'torch'`` -- PyTorch's default (Kaiming-uniform weight, uniform bias), the study's first
      reading (it never said otherwise);
    * ``'mmdet'`` -- Normal(0, 0.01) weight and no bias: mmdetection's ``AdaptiveConv`` (Cascade
      RPN), RepPoints' deformable convs and GA-RPN's ``FeatureAdaption`` (fidelity review,
      deviation 3; ``tests/test_fidelity_switches.py``).
    """
    if init not in DEFORM_INITS:
        raise ValueError(f"unknown init {init!r}; expected one of {DEFORM_INITS}")
    bias = init == "torch"
    padding = dilation * (kernel_size // 2)
    conv: nn.Module
    if deformable:
        conv = DeformConv2d(in_channels, out_channels, kernel_size, stride=1, padding=padding,
                            dilation=dilation, bias=bias, impl=impl)
    else:
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation,
                         bias=bias)
    if init == "mmdet":
        nn.init.normal_(conv.weight, std=0.01)
    return conv


def _scale_gradient(tensor: Tensor, multiplier: float) -> Tensor:
    """Identity in the forward pass, gradient times ``multiplier`` in backward."""
    if multiplier == 1.0:
        return tensor
    return (1.0 - multiplier) * tensor.detach() + multiplier * tensor


class PointAlignment(nn.Module):
    """SC-RPN's point alignment: a deformable conv sampling at the stage-1 points.

    ``forward(x, points)``:

    * ``x``: feature map ``(B, C_in, H, W)``;
    * ``points``: stage-1 init points ``(B, 2 * num_points, H, W)``, ``(dy, dx)``
      per point in feature cells, relative to the location they belong to;
    * returns ``(B, C_out, H, W)``.

    Point <-> tap mapping: point ``k`` is read by kernel tap ``k`` (row-major,
    see :func:`regular_grid_offsets`), i.e. by ``weight[:, :, k // 3, k % 3]``
    for the default 9 points. Tap ``k`` of an undeformed 3x3 conv (padding 1)
    reads ``location + base_k``; the deformable offset is therefore
    ``points_k - base_k`` so that tap ``k`` reads exactly ``location + points_k``.
    Consequently, points equal to the regular grid reproduce a plain 3x3 conv.

    ``gradient_mul`` (RepPoints: 0.1) scales the gradient that flows from this
    layer back into the points, so that the stage-2 losses only gently steer
    the stage-1 point predictor; the forward value is unaffected.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_points: int = 9,
        gradient_mul: float = 0.1,
        impl: str = "auto",
        init: str = "torch",
    ) -> None:
        super().__init__()
        kernel_size = int(round(math.sqrt(num_points)))
        if kernel_size * kernel_size != num_points or kernel_size % 2 == 0:
            raise ValueError(f"num_points must be the square of an odd number (9, 25, ...), got {num_points}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_points = num_points
        self.kernel_size = kernel_size
        self.gradient_mul = gradient_mul
        self.conv = make_align_conv(in_channels, out_channels, kernel_size, deformable=True,
                                    impl=impl, init=init)
        self.register_buffer(
            "base_offset", regular_grid_offsets(kernel_size).view(1, 2 * num_points, 1, 1), persistent=False
        )

    def points_to_offset(self, points: Tensor) -> Tensor:
        """Deformable-conv offset ``(B, 2K, H, W)`` that puts tap k on point k."""
        if points.dim() != 4 or points.shape[1] != 2 * self.num_points:
            raise ValueError(f"points must be (B, {2 * self.num_points}, H, W), got {tuple(points.shape)}")
        scaled = _scale_gradient(points, self.gradient_mul)
        return scaled - self.base_offset.to(points.dtype)

    def forward(self, x: Tensor, points: Tensor, stride: Optional[float] = None) -> Tensor:
        """``stride`` is accepted for interface uniformity and ignored (points are in cells)."""
        if points.shape[0] != x.shape[0] or points.shape[2:] != x.shape[2:]:
            raise ValueError(f"points {tuple(points.shape)} do not match feature map {tuple(x.shape)}")
        return self.conv(x, self.points_to_offset(points))  # (B, C_out, H, W)


def _boxes_as_rows(boxes: Tensor, featmap_size: Tuple[int, int]) -> Tensor:
    """Accept ``(B, H*W, 4)`` or ``(B, 4, H, W)`` boxes; return ``(B, H*W, 4)``."""
    height, width = featmap_size
    if boxes.dim() == 4:
        if boxes.shape[1] != 4 or tuple(boxes.shape[2:]) != (height, width):
            raise ValueError(f"boxes must be (B, 4, {height}, {width}), got {tuple(boxes.shape)}")
        return boxes.flatten(2).transpose(1, 2)
    if boxes.dim() != 3 or boxes.shape[1] != height * width or boxes.shape[2] != 4:
        raise ValueError(f"boxes must be (B, {height * width}, 4) or (B, 4, H, W), got {tuple(boxes.shape)}")
    return boxes


def box_to_offsets(
    boxes: Tensor,
    stride: float,
    featmap_size: Tuple[int, int],
    kernel_size: int = 3,
    dilation: int = 1,
    center_offset: float = 0.0,
) -> Tensor:
    """Deformable-conv offsets that make a kernel's taps span one box per location.

    Cascade RPN's "offset" adaptive convolution. For location ``(i, j)`` with
    box ``(x1, y1, x2, y2)`` in image pixels, converted to feature cells
    (divide by ``stride``, subtract ``center_offset``), tap ``t = (ty, tx)``
    with ``ty, tx in {-r..r}`` (``r = kernel_size // 2``) samples at

        box centre + t * box size / (kernel_size - 1)

    i.e. the taps form a regular grid whose outer taps lie on the box edges.
    The undeformed tap sits at ``(i, j) + dilation * t``, hence

        offset_t = (centre - (i, j)) + (size / (kernel_size - 1) - dilation) * t.

    Example (stride 8, dilation 1): the box ``[(j-1)*8, (i-1)*8, (j+1)*8, (i+1)*8]``,
    whose corners are the neighbouring locations of ``(i, j)``, gives zero offset.

    Args:
        boxes: ``(B, H*W, 4)`` (locations row-major) or ``(B, 4, H, W)``,
            ``(x1, y1, x2, y2)`` in image pixels. Gradients flow through; pass
            detached boxes to reproduce Cascade RPN (its anchors are detached).
        stride: the level's stride in pixels.
        featmap_size: ``(H, W)``.
        kernel_size: odd kernel size of the deformable conv.
        dilation: dilation of that conv (1 in Cascade RPN).
        center_offset: location ``(i, j)`` is at pixel ``((j + c) * s, (i + c) * s)``.

    Returns:
        ``(B, 2 * kernel_size**2, H, W)`` offsets, ``(dy, dx)`` per tap, taps row-major.
    """
    height, width = featmap_size
    rows = _boxes_as_rows(boxes, featmap_size)  # (B, H*W, 4)
    batch = rows.shape[0]
    cells = rows / stride - center_offset  # (B, H*W, 4) in feature cells
    centre_x = 0.5 * (cells[..., 0] + cells[..., 2])  # (B, H*W)
    centre_y = 0.5 * (cells[..., 1] + cells[..., 3])
    size_x = cells[..., 2] - cells[..., 0]
    size_y = cells[..., 3] - cells[..., 1]

    loc_y, loc_x = torch.meshgrid(
        torch.arange(height, dtype=rows.dtype, device=rows.device),
        torch.arange(width, dtype=rows.dtype, device=rows.device),
        indexing="ij",
    )
    shift_y = centre_y - loc_y.reshape(1, -1)  # (B, H*W)
    shift_x = centre_x - loc_x.reshape(1, -1)

    taps = regular_grid_offsets(kernel_size, 1, rows.dtype, rows.device).view(-1, 2)  # (K, 2) as (ty, tx)
    spacing = max(kernel_size - 1, 1)  # a 1x1 kernel only has the centre tap (t = 0)
    stretch_y = size_y / spacing - dilation  # (B, H*W)
    stretch_x = size_x / spacing - dilation
    offset_y = shift_y.unsqueeze(-1) + stretch_y.unsqueeze(-1) * taps[:, 0]  # (B, H*W, K)
    offset_x = shift_x.unsqueeze(-1) + stretch_x.unsqueeze(-1) * taps[:, 1]
    offsets = torch.stack((offset_y, offset_x), dim=-1)  # (B, H*W, K, 2)
    return offsets.reshape(batch, height, width, 2 * taps.shape[0]).permute(0, 3, 1, 2).contiguous()  # (B, 2K, H, W)


class AdaptiveConv(nn.Module):
    """Cascade RPN's adaptive convolution (3x3).

    * ``mode='dilation'``: ``nn.Conv2d(in, out, 3, padding=dilation, dilation=dilation)``;
      ``forward(x)`` (further arguments are ignored). Cascade RPN's stage 1
      uses dilation 3, which roughly matches the 3x3 sampling grid to the
      extent of its single anchor (scale 8, i.e. 8 strides wide).
    * ``mode='offset'``: 3x3 deformable conv (dilation 1, padding 1) whose taps
      span one box per location, offsets from :func:`box_to_offsets`;
      ``forward(x, boxes, stride)`` with boxes ``(B, H*W, 4)`` or
      ``(B, 4, H, W)`` in image pixels (one box per location; several anchors
      per location would need offset groups, which Cascade RPN does not use)
      and the level's stride. ``dilation`` is not used in this mode.

    ``center_offset`` (extra keyword, default 0 as in mmdetection) is forwarded
    to :func:`box_to_offsets`; ``init`` is :func:`make_align_conv`'s.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mode: str,
        dilation: int = 3,
        impl: str = "auto",
        center_offset: float = 0.0,
        init: str = "torch",
    ) -> None:
        super().__init__()
        if mode not in ("dilation", "offset"):
            raise ValueError(f"mode must be 'dilation' or 'offset', got {mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.mode = mode
        self.dilation = dilation if mode == "dilation" else 1
        self.center_offset = center_offset
        self.conv: nn.Module
        self.conv = make_align_conv(in_channels, out_channels, 3, deformable=mode == "offset",
                                    dilation=self.dilation, impl=impl, init=init)

    def forward(self, x: Tensor, boxes: Optional[Tensor] = None, stride: Optional[float] = None) -> Tensor:
        if self.mode == "dilation":
            return self.conv(x)  # (B, C_out, H, W)
        if boxes is None or stride is None:
            raise ValueError("AdaptiveConv(mode='offset') needs the boxes and the level's stride")
        offset = box_to_offsets(
            boxes, stride, (x.shape[2], x.shape[3]), kernel_size=3, dilation=1, center_offset=self.center_offset
        )
        return self.conv(x, offset.to(x.dtype))  # (B, C_out, H, W)


class UnalignedConv(nn.Conv2d):
    """The un-aligned stage-2 convolution: a plain 3x3 conv (padding 1) with the head's init,
    Normal(0, 0.01) weight and zero bias (:func:`scrpn.models.heads.blocks.head_conv`).

    For the rows "two-stage" without alignment (and Iterative RPN): stage 2 reads the stage-1
    feature map at the regular 3x3 taps. ``forward(x, guide, stride)`` ignores ``guide`` and
    ``stride``. A subclass of ``nn.Conv2d``, so its state-dict keys are a plain conv's.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 3, padding=1)
        nn.init.normal_(self.weight, std=0.01)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, guide: Optional[Tensor] = None, stride: Optional[float] = None) -> Tensor:
        return super().forward(x)


AlignmentModule = Union[UnalignedConv, AdaptiveConv, PointAlignment]


def build_alignment(
    kind: str,
    in_channels: int,
    out_channels: int,
    num_points: int = 9,
    gradient_mul: float = 0.1,
    dilation: int = 3,
    impl: str = "auto",
    center_offset: float = 0.0,
    init: str = "torch",
) -> AlignmentModule:
    """Build the alignment operation of a two-stage head (the head's stage-2 conv is this).

    ``kind``: ``'none'`` (:class:`UnalignedConv`, a plain 3x3 conv), ``'dilation'`` (dilated 3x3
    conv; ``dilation=1`` = plain conv), ``'offset'`` (box-guided deformable conv) or ``'point'``
    (point alignment); ``init`` as :func:`make_align_conv` (``'none'`` always has the head's init).
    Every result is called as ``module(x, guide, stride)``, where ``guide`` is the points for
    ``'point'``, the boxes for ``'offset'`` and ignored otherwise.
    """
    if kind == "none":
        return UnalignedConv(in_channels, out_channels)
    if kind == "dilation":
        return AdaptiveConv(in_channels, out_channels, "dilation", dilation=dilation, impl=impl, init=init)
    if kind == "offset":
        return AdaptiveConv(in_channels, out_channels, "offset", impl=impl, center_offset=center_offset,
                            init=init)
    if kind == "point":
        return PointAlignment(in_channels, out_channels, num_points=num_points, gradient_mul=gradient_mul,
                              impl=impl, init=init)
    raise ValueError(f"unknown alignment kind {kind!r}; expected one of {ALIGNMENT_KINDS}")
