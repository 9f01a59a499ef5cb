"""The memory format of the model's 4-D tensors: a speed option that keeps the function (issue 19).

``train.memory_format`` is ``contiguous`` (PyTorch's default NCHW layout, the path every run before
issue 19 trained with) or ``channels_last`` (NHWC strides under the same NCHW shapes). On the CPU,
oneDNN's convolutions run faster in NHWC: in one ``scrpn bench`` run on the 2-core machine the
MobileNetV2 + FPN forward and backward took 0.81-0.85x the NCHW time (see
``results/bench/backbone_paths.json`` and the README's "Speed" paragraph).

It computes the same function: every operator sees the same logical tensor, only the order in
which a kernel sums its products changes. Losses agree to about 1e-6 relative per step and runs
agree to noise, not to the bit (like ``train.num_threads``); ``tests/test_speed_options.py`` trains
20 smoke iterations on each path and compares the losses and the final weights. So the key is a
run-time setting: it is left out of the study's fingerprints (``scrpn.study.runs.RUNTIME_KEYS``)
and may change when a run resumes (``scrpn.engine.trainer.RESUME_IGNORED_KEYS``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MEMORY_FORMATS", "images_in", "set_model_format"]

MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def _format(name: str) -> torch.memory_format:
    try:
        return MEMORY_FORMATS[name]
    except KeyError:
        raise ValueError(f"memory_format must be one of {sorted(MEMORY_FORMATS)}, got {name!r}") from None


def set_model_format(model: nn.Module, name: str) -> nn.Module:
    """Lay out every 4-D parameter and buffer of ``model`` in ``name``'s format (in place).

    Values, shapes and the ``state_dict``'s contents are unchanged, so checkpoints written by one
    path load into the other."""
    return model.to(memory_format=_format(name))


def images_in(images: Tensor, name: str) -> Tensor:
    """A batch ``(B, 3, H, W)`` in ``name``'s format (the same tensor when it already is)."""
    return images.contiguous(memory_format=_format(name))
