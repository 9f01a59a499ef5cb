"""The paper's size-to-level rules, eqs. (1) and (2), and their generalisation to N levels.

Eq. (1) itself is :func:`scrpn.pyramid.fpn_level` (one implementation for the assigners, the
dataset card and the figures); this module adds eq. (2)'s neighbour and the N-level order.

Eq. (1): i_g = floor((log2 S_g - 9) / 2), clamped to the pyramid. The 9 comes from the base scale
b = anchor scale x finest stride = 8 x 4 = 32: level i holds the areas in
[b^2/2 * 4^i, b^2/2 * 4^(i+1)), so in general i_g = floor((log2 S - (2 log2 b - 1)) / 2), which is
mmdetection RegionAssigner's floor(log2 sqrt(S) - log2 b + 0.5). For b = 32 level i covers
[2^(2i+9), 2^(2i+11)).

Eq. (2) as printed, j_g = i_g - 1 + [S_g / 2^(2 i_g + 9)] for S_g in [2^10, 2^18], is ambiguous:
the ratio lies in [1, 4), so a literal floor gives j = i, i+1 or i+2, which is not "adjacent". We
implement the stated intent: the neighbour on the side where the object sits within its level.
An area below the level's geometric middle b^2 * 4^i (= 2^(2i+10)) takes j = i - 1, an area at or
above it takes j = i + 1 (ratio exactly 2 -> i + 1). This reading explains the paper's range:
[2^10, 2^18] is [middle of level 0, middle of level 4], the areas for which that neighbour exists
(except the end point 2^18, whose j = 5 is outside the pyramid). We keep the range, scaled with b
and with the pyramid depth L ([b^2, b^2 * 4^(L-1)]), and return -1 for any j outside 0..L-1.
So S = 2^10 -> (i, j) = (0, 1); S = 2^18 -> (4, -1). A degenerate area S <= 0 -> (0, -1).

candidate_levels generalises to N levels (Table V), which the paper does not spell out:
i_g, then j_g, then alternately the nearest unused level on the side opposite to the last one
added (i - s, i + 2s, i - 2s, ... with s = +1 / -1 the side of the level's middle the object is
on), skipping levels outside the pyramid, until N levels or the whole pyramid is used.
N = 2 follows eq. (2) exactly: {i_g} alone when j_g = -1. For N >= 3 the missing j_g is not
kept empty: the next levels fill up, so N = 5 always means all five levels (as in ATSS).
"""
import torch
from torch import Tensor

from scrpn.pyramid import fpn_level


def _as_areas(areas) -> Tensor:
    return torch.as_tensor(areas).to(torch.float64).reshape(-1)  # exact for float32 inputs


def _level_and_side(areas: Tensor, base_scale: float, num_levels: int) -> tuple[Tensor, Tensor]:
    """(level, side): level by eq. (1) (:func:`scrpn.pyramid.fpn_level`); side = +1 if the area
    is at/above its level's geometric middle, else -1."""
    level = fpn_level(areas, base_scale, num_levels)
    middle = base_scale ** 2 * torch.pow(4.0, level.to(torch.float64))
    side = torch.where(areas >= middle, 1, -1).to(torch.long)
    return level, side


def target_level(areas, base_scale: float = 32.0, num_levels: int = 5) -> Tensor:
    """Eq. (1): the positive level i_g of each area. (M,) float -> (M,) long in [0, L)."""
    return _level_and_side(_as_areas(areas), base_scale, num_levels)[0]


def adjacent_level(areas, base_scale: float = 32.0, num_levels: int = 5) -> Tensor:
    """Eq. (2), read as described above: the adjacent level j_g, -1 where there is none."""
    areas = _as_areas(areas)
    level, side = _level_and_side(areas, base_scale, num_levels)
    j = level + side
    lo, hi = base_scale ** 2, base_scale ** 2 * 4.0 ** (num_levels - 1)
    valid = (areas >= lo) & (areas <= hi) & (j >= 0) & (j < num_levels)
    return torch.where(valid, j, torch.full_like(j, -1))


def candidate_levels(areas, num_levels_used: int, base_scale: float = 32.0,
                     num_levels: int = 5) -> Tensor:
    """Levels SAT draws candidates from, best first. (M,) -> (M, num_levels_used), -1 padded."""
    areas = _as_areas(areas)
    level, side = _level_and_side(areas, base_scale, num_levels)
    offset = torch.arange(num_levels, device=areas.device)[None, :] - level[:, None]  # (M, L)
    dist = offset.abs()
    # preference key: 0 for i, 1 for i + s, 2 for i - s, 3 for i + 2s, ... (unique per row)
    key = torch.where(torch.sign(offset) == side[:, None], 2 * dist - 1, 2 * dist)
    key = torch.where(offset == 0, torch.zeros_like(key), key)
    order = key.argsort(dim=1)  # (M, L)
    out = torch.full((areas.numel(), num_levels_used), -1, dtype=torch.long,
                     device=areas.device)
    used = min(num_levels_used, num_levels)
    out[:, :used] = order[:, :used]
    if num_levels_used == 2:  # eq. (2): only "moderate" sizes get a second level
        j = adjacent_level(areas, base_scale, num_levels)
        out[:, 1] = j
    return out


def point_levels(num_per_level: list[int], device: torch.device | str = "cpu") -> Tensor:
    """Level index of every location of the concatenated levels. -> (sum(num_per_level),) long."""
    counts = torch.as_tensor(list(num_per_level), dtype=torch.long, device=device)
    return torch.repeat_interleave(torch.arange(len(counts), device=device), counts)


def level_starts(num_per_level: list[int]) -> list[int]:
    """Offset of each level's first location in the concatenation."""
    starts, total = [], 0
    for n in num_per_level:
        starts.append(total)
        total += int(n)
    return starts
