"""Will a training batch fit in this machine's memory? Asked before anything trains.

``data.max_size = [20000, 20000]`` or ``data.size_divisor = 30000`` are valid numbers, but the
padded batch they make needs tens of gigabytes: the run then dies in an allocation deep inside
the backbone, after the data were read. :func:`check_batch_fits` estimates what one training
step holds at once and refuses, naming the estimate, a batch that exceeds the machine's memory
(the GPU's on a CUDA device). The estimate is a lower bound of the real peak:

* the padded input batch: ``batch x 3 x H x W`` float32, where ``H x W`` is the largest padded
  image the data section allows (:func:`padded_input_hw`: ``max_size``'s long x short side, or
  ``image_size`` squared, each rounded up to ``size_divisor``);
* the activations the backbone + FPN keep for the backward pass, per input pixel, measured once
  on a 128 x 128 image of a fresh copy of the config's backbone (autograd's saved tensors) and
  scaled by ``H x W`` (convolution activations grow with the image area).

The head, the losses and the optimizer come on top, so a batch this refuses cannot fit.
``scrpn evaluate`` asks :func:`check_inference_fits`: one padded image and the largest output of
any backbone layer, both alive at once during the forward pass.
``tests/test_bad_input_config.py`` pins the arithmetic on hand-derived sizes.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Optional

import torch

from ..config import Config, ConfigError

__all__ = ["batch_bytes", "check_batch_fits", "check_inference_fits", "machine_memory_bytes",
           "padded_input_hw"]

_PROBE = 128  # side of the image the activations per pixel are measured on


def machine_memory_bytes(meminfo: str | Path = "/proc/meminfo") -> Optional[int]:
    """Total physical memory: ``MemTotal`` of ``/proc/meminfo``, else ``os.sysconf``; None if
    neither says."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024  # the file counts kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _ceil_to(value: int, divisor: int) -> int:
    return -(-value // divisor) * divisor


def padded_input_hw(cfg: Config, input_size: Optional[tuple[int, int]] = None) -> tuple[int, int]:
    """The largest padded (H, W) of one image the config allows: ``input_size`` if given (``scrpn
    bench --input-size``), else COCO's keep-ratio bound ``max_size`` (short x long side), else the
    square ``image_size`` of SynthShapes and DeepForest tiles, rounded up to ``size_divisor``."""
    if input_size is not None:
        h, w = input_size
    elif cfg.data.dataset == "coco":
        h, w = min(cfg.data.max_size), max(cfg.data.max_size)
    else:
        h = w = cfg.data.image_size
    d = cfg.data.size_divisor
    return _ceil_to(int(h), d), _ceil_to(int(w), d)


def largest_output_bytes_per_pixel(cfg: Config) -> float:
    """Bytes of the largest single output of any layer of the backbone + FPN of ``cfg`` at
    inference (no gradients), per input pixel: with the input batch, a lower bound of what
    evaluation holds at once (a fresh copy with random weights, ``_PROBE`` x ``_PROBE`` image)."""
    from .. import build  # late: building models is not needed to read a config

    probe_cfg = copy.deepcopy(cfg)
    probe_cfg.model.backbone.pretrained = False
    largest = [0]

    def record(module: torch.nn.Module, inputs: object, output: object) -> None:
        largest[0] = max([largest[0]] + [t.numel() * t.element_size() for t in _tensors(output)])

    with torch.random.fork_rng(devices=[]):
        backbone = build.build_backbone_of(probe_cfg).eval()
        hooks = [m.register_forward_hook(record) for m in backbone.modules() if m is not backbone]
        try:
            with torch.no_grad():
                backbone(torch.zeros(1, 3, _PROBE, _PROBE))
        finally:
            for hook in hooks:
                hook.remove()
    return largest[0] / float(_PROBE * _PROBE)


def check_inference_fits(cfg: Config, source: str, device: str | torch.device = "cpu",
                         total: Optional[int] = None) -> int:
    """:func:`check_batch_fits` for evaluation (one image, no gradients): the padded input and
    the largest layer output (:func:`largest_output_bytes_per_pixel`) must fit; returns the
    estimate in bytes."""
    where = "this machine's"
    if total is None:
        total, what = _device_memory(device)
        where = f"this {what}'s"
    h, w = padded_input_hw(cfg)
    input_bytes = h * w * 12
    if total is None or input_bytes * 256 <= total:
        return input_bytes
    needed = int(h * w * (12 + largest_output_bytes_per_pixel(cfg)))
    if needed > total:
        keys = ("'data.max_size', 'data.size_divisor'" if cfg.data.dataset == "coco" else
                "'data.image_size', 'data.size_divisor'")
        raise ConfigError(
            f"{source}: evaluating one padded {h} x {w} image needs at least "
            f"{needed / 2**30:.1f} GiB (input {input_bytes / 2**30:.1f} GiB and the backbone's "
            f"largest layer output), more than {where} {total / 2**30:.1f} GiB of memory: lower "
            f"{keys}")
    return needed


def saved_bytes_per_pixel(cfg: Config) -> float:
    """Bytes the backbone + FPN of ``cfg`` keep for backward, per input pixel (a fresh copy with
    random weights, in training mode, on a ``_PROBE`` x ``_PROBE`` image on the CPU)."""
    from .. import build  # late: building models is not needed to read a config

    probe_cfg = copy.deepcopy(cfg)
    probe_cfg.model.backbone.pretrained = False
    fork = torch.random.fork_rng(devices=[])   # the probe must not move the run's RNG
    with fork:
        backbone = build.build_backbone_of(probe_cfg).train()
        seen: dict[int, int] = {}

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            outputs = backbone(torch.zeros(1, 3, _PROBE, _PROBE))
        kept = sum(seen.values()) + sum(o.numel() * o.element_size() for o in _tensors(outputs))
    return kept / float(_PROBE * _PROBE)


def _tensors(outputs: object) -> list[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        return [t for o in outputs for t in _tensors(o)]
    return []


def batch_bytes(cfg: Config, per_pixel: float, input_size: Optional[tuple[int, int]] = None,
                batch_size: Optional[int] = None) -> int:
    """Estimated bytes of one training step's batch: ``batch x H x W x (12 + per_pixel)``
    (3 float32 channels of input, and ``per_pixel`` bytes of kept activations)."""
    h, w = padded_input_hw(cfg, input_size)
    batch = cfg.train.batch_size if batch_size is None else batch_size
    return int(batch * h * w * (3 * 4 + per_pixel))


def _device_memory(device: str | torch.device) -> tuple[Optional[int], str]:
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.cuda.get_device_properties(index).total_memory, f"GPU {index}"
    return machine_memory_bytes(), "machine"


def check_batch_fits(cfg: Config, source: str, device: str | torch.device = "cpu",
                     input_size: Optional[tuple[int, int]] = None,
                     batch_size: Optional[int] = None, total: Optional[int] = None) -> int:
    """Raise :class:`ConfigError` (naming ``source`` and the keys that set the size) when the
    estimated batch (:func:`batch_bytes`) exceeds the memory of ``device``; return the estimate.
    ``total`` overrides the memory size (tests)."""
    where = "this machine's"
    if total is None:
        total, what = _device_memory(device)
        where = f"this {what}'s"
    h, w = padded_input_hw(cfg, input_size)
    batch = cfg.train.batch_size if batch_size is None else batch_size
    input_bytes = batch * h * w * 12
    # Far below (the backbones here keep 100-550 bytes per 12-byte input pixel): fits without
    # measuring, which costs seconds.
    if total is None or input_bytes * 1024 <= total:
        return input_bytes
    needed = batch_bytes(cfg, saved_bytes_per_pixel(cfg), input_size, batch)
    if needed > total:
        keys = ("--input-size" if input_size is not None else
                "'data.max_size', 'data.size_divisor'" if cfg.data.dataset == "coco" else
                "'data.image_size', 'data.size_divisor'")
        raise ConfigError(
            f"{source}: a training batch of {batch} padded {h} x {w} images needs about "
            f"{needed / 2**30:.1f} GiB (input {input_bytes / 2**30:.1f} GiB and the backbone's "
            f"activations), more than {where} {total / 2**30:.1f} GiB of memory: lower "
            f"{keys} or 'train.batch_size'")
    return needed
