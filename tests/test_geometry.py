"""scrpn.sampling.geometry: the overlap rules every assigner relies on, on hand-worked boxes."""
import torch

from scrpn.sampling.geometry import box_area, box_centres, centre_regions, pairwise_overlaps, points_in_boxes


def test_iou_and_iof_hand_worked() -> None:
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0]])
    # intersection 50, union 150 -> 1/3; disjoint -> 0; identical -> 1
    assert torch.allclose(pairwise_overlaps(a, b), torch.tensor([[1 / 3, 0.0, 1.0]]))
    # IoF divides by the first box's area (100): 50/100
    assert torch.allclose(pairwise_overlaps(a, b, mode="iof"), torch.tensor([[0.5, 0.0, 1.0]]))


def test_degenerate_and_empty_boxes_give_zero_not_nan() -> None:
    flat = torch.tensor([[3.0, 3.0, 3.0, 8.0], [5.0, 5.0, 2.0, 2.0]])  # zero width, inverted
    assert box_area(flat).tolist() == [0.0, 0.0]
    overlaps = pairwise_overlaps(flat, flat)
    assert not torch.isnan(overlaps).any() and (overlaps == 0).all()
    assert pairwise_overlaps(torch.zeros(0, 4), flat).shape == (0, 2)
    assert pairwise_overlaps(flat, torch.zeros(0, 4)).shape == (2, 0)


def test_inside_is_strict_unless_asked() -> None:
    box = torch.tensor([[0.0, 0.0, 8.0, 4.0]])
    points = torch.tensor([[4.0, 2.0], [0.0, 2.0], [8.0, 4.0], [9.0, 2.0]])  # centre, edge, corner, out
    assert points_in_boxes(points, box)[:, 0].tolist() == [True, False, False, False]
    assert points_in_boxes(points, box, strict=False)[:, 0].tolist() == [True, True, True, False]


def test_centre_region_scales_around_the_centre() -> None:
    box = torch.tensor([[10.0, 20.0, 30.0, 60.0]])  # centre (20, 40), 20 x 40
    assert box_centres(box).tolist() == [[20.0, 40.0]]
    assert centre_regions(box, 0.2).tolist() == [[18.0, 36.0, 22.0, 44.0]]
    assert centre_regions(box, 1.0).tolist() == box.tolist()
