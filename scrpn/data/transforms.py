"""Pure image / box transforms used by every dataset: keep-ratio resize and horizontal flip.

The paper (Section IV-A) resizes images to 1333x800 keeping the aspect ratio and uses horizontal
flip as the only augmentation, as mmdetection does. The functions here reproduce mmdetection's
rules exactly where that matters for box coordinates:

* the keep-ratio scale is the largest factor such that the long side fits ``max_size[0]`` and the
  short side fits ``max_size[1]``;
* the new size is ``int(side * scale + 0.5)`` per side (mmcv's ``rescale_size``), so the effective
  per-axis factors ``new_w / w`` and ``new_h / h`` differ from ``scale`` by less than ``0.5 / side``;
  boxes are rescaled with the per-axis factors so they stay aligned with the resized pixels;
* flipping maps ``x1' = W - x2`` and ``x2' = W - x1`` (continuous pixel coordinates, no ``-1``).

Images are float tensors (3, H, W); boxes are float32 (N, 4) in absolute (x1, y1, x2, y2) pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "resize_keep_ratio",
    "rescaled_shape",
    "resize_image",
    "resize_boxes",
    "hflip_image",
    "hflip_boxes",
    "clip_boxes",
    "flip_decision",
    "uint8_to_tensor",
    "make_sample",
]


def resize_keep_ratio(image_hw: tuple[int, int], max_size: tuple[int, int] = (1333, 800)) -> float:
    """Return the keep-ratio scale factor for an image of size ``image_hw = (h, w)``.

    ``max_size = (max_long, max_short)``; the order of the two numbers does not matter (mmdetection
    also accepts ``(800, 1333)``): the larger bound constrains the long side, the smaller one the
    short side. Example: a 480x640 (h x w) image with (1333, 800) gives min(1333/640, 800/480) = 5/3.
    """
    h, w = int(image_hw[0]), int(image_hw[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"image size must be positive, got (h, w) = ({h}, {w})")
    max_long, max_short = max(max_size), min(max_size)
    return min(max_long / max(h, w), max_short / min(h, w))


def rescaled_shape(image_hw: tuple[int, int], scale: float) -> tuple[int, int]:
    """New (h, w) after scaling by ``scale``, rounded like mmcv: ``int(side * scale + 0.5)``."""
    h, w = image_hw
    return int(h * float(scale) + 0.5), int(w * float(scale) + 0.5)


def resize_image(image: Tensor, out_hw: tuple[int, int]) -> Tensor:
    """Bilinearly resize a (3, H, W) float image to ``out_hw`` (no antialias, like cv2's INTER_LINEAR)."""
    if tuple(image.shape[-2:]) == tuple(out_hw):
        return image
    resized = F.interpolate(image[None], size=tuple(out_hw), mode="bilinear", align_corners=False)
    return resized[0]


def resize_boxes(boxes: Tensor, in_hw: tuple[int, int], out_hw: tuple[int, int]) -> Tensor:
    """Rescale (N, 4) xyxy boxes from an ``in_hw`` image to an ``out_hw`` image (per-axis factors)."""
    sx = out_hw[1] / in_hw[1]
    sy = out_hw[0] / in_hw[0]
    factors = torch.tensor([sx, sy, sx, sy], dtype=boxes.dtype, device=boxes.device)
    return boxes * factors  # (N, 4)


def hflip_image(image: Tensor) -> Tensor:
    """Mirror a (C, H, W) image left-right."""
    return image.flip(-1)


def hflip_boxes(boxes: Tensor, width: int | float) -> Tensor:
    """Mirror (N, 4) xyxy boxes in an image of the given width: ``x1' = W - x2``, ``x2' = W - x1``."""
    flipped = boxes.clone()
    flipped[:, 0] = width - boxes[:, 2]
    flipped[:, 2] = width - boxes[:, 0]
    return flipped  # (N, 4)


def clip_boxes(boxes: Tensor, image_hw: tuple[int, int]) -> Tensor:
    """Clip (N, 4) xyxy boxes to ``[0, W] x [0, H]``."""
    h, w = image_hw
    x = boxes[:, 0::2].clamp(0, w)
    y = boxes[:, 1::2].clamp(0, h)
    return torch.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=1)  # (N, 4)


def flip_decision(seed: int, epoch: int, index: int, prob: float) -> bool:
    """Decide whether sample ``index`` is flipped in ``epoch``, reproducibly.

    A ``torch.Generator`` is seeded from the three integers mixed through numpy's ``SeedSequence``
    (a well-distributed hash), so the decision depends only on (seed, epoch, index): it is the same
    in every worker process, on every run, and independent of the order samples are loaded in.
    """
    if prob <= 0.0:
        return False
    if prob >= 1.0:
        return True
    state = np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(1, np.uint64)[0]
    gen = torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)
    return bool(torch.rand((), generator=gen).item() < prob)


def uint8_to_tensor(array: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 RGB array -> (3, H, W) float32 tensor in [0, 1]."""
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {array.shape} {array.dtype}")
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C")  # torch refuses read-only memory (PIL's asarray is)
    tensor = torch.from_numpy(array).permute(2, 0, 1)
    return tensor.to(torch.float32).div_(255.0)  # (3, H, W)


def make_sample(
    image: np.ndarray,
    boxes: np.ndarray | Tensor,
    labels: np.ndarray | Tensor,
    iscrowd: np.ndarray | Tensor,
    image_id: int,
    *,
    max_size: tuple[int, int] | None,
    flip: bool,
) -> tuple[Tensor, dict]:
    """Build the common ``(image, target)`` sample from a uint8 image and boxes in its pixels.

    The image is converted to float32 [0, 1], resized keeping its ratio to fit ``max_size`` (no
    resize when ``max_size`` is None: ``scale_factor`` 1.0) and optionally flipped; the boxes follow.
    """
    tensor = uint8_to_tensor(image)  # (3, H, W)
    orig_hw = (int(tensor.shape[1]), int(tensor.shape[2]))
    box_t = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)  # (N, 4)
    if max_size is None:
        scale, out_hw = 1.0, orig_hw
    else:
        scale = resize_keep_ratio(orig_hw, max_size)
        out_hw = rescaled_shape(orig_hw, scale)
    tensor = resize_image(tensor, out_hw)
    box_t = resize_boxes(box_t, orig_hw, out_hw)
    if flip:
        tensor = hflip_image(tensor)
        box_t = hflip_boxes(box_t, out_hw[1])
    target = {
        "boxes": box_t.contiguous(),
        "labels": torch.as_tensor(labels, dtype=torch.int64).reshape(-1),
        "iscrowd": torch.as_tensor(iscrowd, dtype=torch.bool).reshape(-1),
        "image_id": int(image_id),
        "orig_size": orig_hw,
        "img_shape": (int(out_hw[0]), int(out_hw[1])),
        "scale_factor": float(scale),
        "flipped": bool(flip),
    }
    return tensor.contiguous(), target
