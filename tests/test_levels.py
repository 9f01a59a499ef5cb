"""Eq. (1), eq. (2) and the N-level generalisation on hand-picked boundary areas."""
import math

import torch

from scrpn.sampling.levels import (adjacent_level, candidate_levels, level_starts, point_levels,
                                   target_level)

# boundary areas: below level 0, level 0 / 1 / 4 edges, beyond the pyramid
AREAS = [2 ** 9, 2 ** 10 - 1, 2 ** 10, 2 ** 11, 2 ** 12 - 1, 2 ** 12, 2 ** 13, 2 ** 17,
         2 ** 18 - 1, 2 ** 18, 2 ** 19, 2 ** 21]


def test_target_level_eq1_exact_boundaries():
    got = target_level(torch.tensor(AREAS, dtype=torch.float32))
    assert got.dtype == torch.long
    assert got.tolist() == [0, 0, 0, 1, 1, 1, 2, 4, 4, 4, 4, 4]


def test_target_level_equals_eq1_and_mmdet_region_assigner_formula():
    areas = torch.arange(1, 2 ** 20, 997, dtype=torch.float32)
    got = target_level(areas)
    eq1 = [min(4, max(0, math.floor((math.log2(s) - 9) / 2))) for s in areas.tolist()]
    mmdet = [min(4, max(0, math.floor(math.log2(math.sqrt(s)) - math.log2(32) + 0.5)))
             for s in areas.tolist()]
    assert got.tolist() == eq1 == mmdet


def test_tiny_and_degenerate_areas_go_to_level_0_without_adjacent():
    areas = torch.tensor([1.0, 0.0, -4.0])
    assert target_level(areas).tolist() == [0, 0, 0]
    assert adjacent_level(areas).tolist() == [-1, -1, -1]


def test_adjacent_level_eq2_by_side_of_level_middle():
    got = adjacent_level(torch.tensor(AREAS, dtype=torch.float32))
    # 2^9 and 2^10-1: below the range; 2^10: i=0, ratio exactly 2 -> j=1;
    # 2^11: i=1 lower half -> 0; 2^12-1: i=1 lower half -> 0; 2^12: i=1 middle -> 2;
    # 2^13: i=2 lower half -> 1; 2^17, 2^18-1: i=4 lower half -> 3;
    # 2^18: i=4, j=5 invalid -> -1; 2^19, 2^21: outside the range -> -1
    assert got.tolist() == [-1, -1, 1, 0, 0, 2, 1, 3, 3, -1, -1, -1]


def test_base_scale_16_shifts_every_level_up_by_one():
    areas = torch.tensor([2 ** 8, 2 ** 9, 2 ** 11, 2 ** 13, 2 ** 15], dtype=torch.float32)
    assert target_level(areas, base_scale=32.0).tolist() == [0, 0, 1, 2, 3]
    assert target_level(areas, base_scale=16.0).tolist() == [0, 1, 2, 3, 4]
    # range is [16^2, 16^2 * 4^4] = [2^8, 2^16]: 2^8 is level 0's middle -> j = 1
    assert adjacent_level(torch.tensor([2.0 ** 8, 2.0 ** 9, 2.0 ** 16]),
                          base_scale=16.0).tolist() == [1, 0, -1]


def test_candidate_levels_n1_to_n5():
    # level 2 lower half (j = 1), level 1 middle (j = 2), level 0 below range (no j)
    areas = torch.tensor([2.0 ** 13, 2.0 ** 12, 2.0 ** 9])
    assert candidate_levels(areas, 1).tolist() == [[2], [1], [0]]
    assert candidate_levels(areas, 2).tolist() == [[2, 1], [1, 2], [0, -1]]
    assert candidate_levels(areas, 3).tolist() == [[2, 1, 3], [1, 2, 0], [0, 1, 2]]
    assert candidate_levels(areas, 4).tolist() == [[2, 1, 3, 0], [1, 2, 0, 3], [0, 1, 2, 3]]
    assert candidate_levels(areas, 5).tolist() == [[2, 1, 3, 0, 4], [1, 2, 0, 3, 4],
                                                   [0, 1, 2, 3, 4]]


def test_candidate_levels_top_level_and_padding_beyond_pyramid():
    areas = torch.tensor([2.0 ** 18])  # i = 4, no adjacent level
    assert candidate_levels(areas, 2).tolist() == [[4, -1]]
    assert candidate_levels(areas, 3).tolist() == [[4, 3, 2]]
    assert candidate_levels(areas, 6).tolist() == [[4, 3, 2, 1, 0, -1]]
    assert candidate_levels(torch.zeros(0), 2).shape == (0, 2)


def test_point_levels_and_starts():
    assert point_levels([3, 0, 2]).tolist() == [0, 0, 0, 2, 2]
    assert level_starts([3, 0, 2]) == [0, 3, 3]
