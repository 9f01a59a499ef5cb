"""Batch collation: pad images of different sizes into one tensor.

Images are zero-padded at the right and bottom (so box coordinates stay valid) to a common size that
is a multiple of ``size_divisor`` (32 by default, as mmdetection's ``DetDataPreprocessor``: the
ResNet's deepest stage has stride 32, so C5/P5 feature maps then align exactly with the image).
Each target keeps its own ``img_shape`` (the un-padded size), which the model uses to clip
proposals and to ignore anchors in the padding.

Note: the padding value is applied in [0, 1] image space. A model that normalises with mean/std
after collation turns the padding into ``-mean/std``; mmdetection pads *after* normalisation with
0. Models that care should normalise first and re-zero outside ``img_shape``.
"""

from __future__ import annotations

from typing import Any, Sequence

from torch import Tensor

__all__ = ["collate_batch", "padded_size"]


def padded_size(sizes: Sequence[tuple[int, int]], size_divisor: int = 32) -> tuple[int, int]:
    """Smallest (H, W) that holds every (h, w) in ``sizes`` and is a multiple of ``size_divisor``."""
    if not sizes:
        raise ValueError("cannot pad an empty batch")
    if size_divisor < 1:
        raise ValueError(f"size_divisor must be >= 1, got {size_divisor}")
    max_h = max(h for h, _ in sizes)
    max_w = max(w for _, w in sizes)
    pad_h = -(-max_h // size_divisor) * size_divisor
    pad_w = -(-max_w // size_divisor) * size_divisor
    return pad_h, pad_w


def collate_batch(
    batch: Sequence[tuple[Tensor, dict[str, Any]]],
    size_divisor: int = 32,
    pad_value: float = 0.0,
) -> tuple[Tensor, list[dict[str, Any]]]:
    """Stack ``(image, target)`` samples into ``(images (B, 3, Hp, Wp), [target, ...])``.

    Targets are passed through unchanged (a list, not stacked: each has its own number of boxes).
    """
    images = [image for image, _ in batch]
    targets = [target for _, target in batch]
    pad_h, pad_w = padded_size([tuple(img.shape[-2:]) for img in images], size_divisor)
    channels = images[0].shape[0]
    out = images[0].new_full((len(images), channels, pad_h, pad_w), pad_value)  # (B, 3, Hp, Wp)
    for i, img in enumerate(images):
        if img.shape[0] != channels:
            raise ValueError(f"sample {i} has {img.shape[0]} channels, expected {channels}")
        out[i, :, : img.shape[1], : img.shape[2]].copy_(img)
    return out, targets
