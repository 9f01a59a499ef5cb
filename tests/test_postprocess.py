import torch

from scrpn.models.postprocess import clip_boxes, select_proposals, topk_per_level


def test_clip_boxes():
    b = torch.tensor([[-5.0, -1.0, 50.0, 20.0]])
    assert torch.equal(clip_boxes(b, (10, 40)), torch.tensor([[0.0, 0.0, 40.0, 10.0]]))


def test_topk_per_level_keeps_best_of_each_level():
    scores = [torch.tensor([0.1, 0.9, 0.5]), torch.tensor([0.2])]
    boxes = [torch.arange(12.0).view(3, 4), torch.ones(1, 4)]
    b, s, lvl = topk_per_level(scores, boxes, k=2)
    assert torch.equal(s, torch.tensor([0.9, 0.5, 0.2]))
    assert torch.equal(lvl, torch.tensor([0, 0, 1]))
    assert torch.equal(b[0], boxes[0][1])


def _two_levels():
    # Two nearly identical boxes on different levels (IoU 0.9) and a distinct one.
    s = [torch.tensor([0.9, 0.3]), torch.tensor([0.8])]
    b = [torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]]),
         torch.tensor([[0.0, 0.0, 10.0, 9.0]])]
    return s, b


def test_per_level_nms_keeps_cross_level_duplicates():
    s, b = _two_levels()
    boxes, scores = select_proposals(s, b, (100, 100), nms_pre=10, nms_thr=0.7, max_per_img=10)
    assert torch.allclose(scores, torch.tensor([0.9, 0.8, 0.3]))


def test_cross_level_nms_removes_them():
    s, b = _two_levels()
    boxes, scores = select_proposals(s, b, (100, 100), nms_pre=10, nms_thr=0.7, max_per_img=10,
                                     cross_level_nms=True, cross_level_nms_thr=0.8)
    assert torch.allclose(scores, torch.tensor([0.9, 0.3]))


def test_max_per_img_and_min_size_and_empty():
    s, b = _two_levels()
    boxes, scores = select_proposals(s, b, (100, 100), 10, 0.7, max_per_img=1)
    assert boxes.shape == (1, 4)
    boxes, scores = select_proposals(s, b, (100, 100), 10, 0.7, 10, min_bbox_size=9.5)
    assert torch.allclose(scores, torch.tensor([0.9, 0.3]))   # the 10x9 box is dropped
    empty = [torch.zeros(0), torch.zeros(0)]
    boxes, scores = select_proposals(empty, [torch.zeros(0, 4)] * 2, (10, 10), 10, 0.7, 10)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_nms_first_k_equals_full_nms_prefix():
    from torchvision.ops import nms

    from scrpn.models.postprocess import nms_first_k

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(3000, 2, generator=g) * 300
    boxes = torch.cat([xy, xy + 5 + torch.rand(3000, 2, generator=g) * 60], dim=1)
    scores = torch.rand(3000, generator=g)
    for k in (10, 500, 1000, 2500):      # 2500: the prefix keeps too few, fall back to all boxes
        assert torch.equal(nms_first_k(boxes, scores, 0.5, k), nms(boxes, scores, 0.5)[:k])
    assert nms_first_k(boxes[:0], scores[:0], 0.5, 10).numel() == 0


def test_select_proposal_indices_index_what_select_proposals_returns():
    """The one selection: indices into the flat outputs give exactly the returned boxes and
    scores (GA-RPN's filtered locations, score < 0, never kept)."""
    from scrpn.models.postprocess import clip_boxes, select_proposal_indices

    g = torch.Generator().manual_seed(0)
    counts = [50, 30, 0, 7]
    scores = torch.rand(sum(counts), generator=g)
    scores[::5] = -1.0
    xy = torch.rand(sum(counts), 2, generator=g) * 90
    boxes = torch.cat([xy, xy + 5 + torch.rand(sum(counts), 2, generator=g) * 30], 1)
    idx, b, s = select_proposal_indices(scores, boxes, counts, (100, 100), 20, 0.5, 25,
                                        cross_level_nms=True)
    assert torch.equal(b, clip_boxes(boxes[idx], (100, 100))) and torch.equal(s, scores[idx])
    assert (scores[idx] >= 0).all() and (s[:-1] >= s[1:]).all() and len(idx) <= 25
    start = [0, 50, 80, 80]
    lists = ([scores[a:a + c] for a, c in zip(start, counts)], [boxes[a:a + c] for a, c in zip(start, counts)])
    kept = [x >= 0 for x in lists[0]]
    ref_b, ref_s = select_proposals([x[k] for x, k in zip(lists[0], kept)],
                                    [x[k] for x, k in zip(lists[1], kept)], (100, 100), 20, 0.5, 25,
                                    cross_level_nms=True)
    assert torch.equal(ref_b, b) and torch.equal(ref_s, s)
