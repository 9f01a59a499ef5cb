"""The feature pyramid's geometry, written once: its strides, the level base scale and eq. (1).

* :data:`FPN_STRIDES`: P2-P6 of the FPN backbone (``BackboneWithFPN.strides``). Modules that
  receive strides (heads, assigners, anchor generators, figures) take them as an argument;
  this constant is only their default and the backbone's own value, so that it is typed once.
* :func:`level_base_scale`: the base of the size-to-level rule, anchor scale x finest stride.
  The paper's 8 x 4 = 32 px gives eq. (1) exactly; the mini profile's 4 x 4 = 16 px keeps every
  level populated at 256 px (docs/configs.md, "Profiles"). ``Config.level_base_scale``, the heads, the
  SADS inspector and the figures all call it.
* :func:`fpn_level`: eq. (1), ``floor((log2 S - (2 log2 b - 1)) / 2)`` clamped to the pyramid,
  for a number, a numpy array or a tensor. The assigners' version with eq. (2)'s neighbour lives
  in :mod:`scrpn.sampling.levels`, whose ``target_level`` is this same rule
  (``tests/test_levels.py`` pins both on the paper's numbers).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["FPN_STRIDES", "MINI_ANCHOR_SCALE", "fpn_level", "level_base_scale"]

FPN_STRIDES: tuple[int, ...] = (4, 8, 16, 32, 64)
# The mini profile's anchor scale (configs/mini/_base.yaml; tests/test_architecture.py checks it):
# what `scrpn data stats` uses for SynthShapes when no config names one.
MINI_ANCHOR_SCALE = 4.0


def level_base_scale(anchor_scale: float, strides: Sequence[int] = FPN_STRIDES) -> float:
    """Anchor side on the finest level: ``anchor_scale x strides[0]`` (8 x 4 = 32 in the paper)."""
    return float(anchor_scale) * float(strides[0])


def fpn_level(area: Any, base_scale: float = 32.0, num_levels: int = 5) -> Any:
    """Eq. (1): the FPN level index (0 = P2) of boxes of the given area.

    ``clamp(floor((log2(area) - 2 * log2(base_scale) + 1) / 2), 0, num_levels - 1)``: a box goes to
    the level whose anchor size ``base_scale * 2**level`` is nearest to ``sqrt(area)`` in log scale
    (thresholds at ``base_scale * 2**level * sqrt(2)``). With ``base_scale = 32`` this is exactly the
    paper's ``floor((log2 S - 9) / 2)``. Accepts a number (returns ``int``), a numpy array or a
    torch tensor (returns int64 of the same shape). Non-positive areas go to level 0.
    """
    offset = 2.0 * math.log2(base_scale) - 1.0
    if isinstance(area, torch.Tensor):
        log_area = torch.log2(area.to(torch.float64).clamp_min(1e-12))
        return torch.floor((log_area - offset) / 2).clamp(0, num_levels - 1).to(torch.int64)
    if isinstance(area, np.ndarray):
        log_area = np.log2(np.maximum(area.astype(np.float64), 1e-12))
        return np.clip(np.floor((log_area - offset) / 2), 0, num_levels - 1).astype(np.int64)
    level = math.floor((math.log2(max(float(area), 1e-12)) - offset) / 2)
    return int(min(max(level, 0), num_levels - 1))
