"""The REPORT's figure fields (scrpn/study/report/fields_figures.py) and the Fig. 6 share
(scrpn.evaluation.proposal_stats.proposal_share_at_least), on hand-made proposal statistics with
hand-derived values."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scrpn.evaluation.proposal_stats import IOU_BINS, proposal_share_at_least, save_stats
from scrpn.study.report import TemplateError
from report_helpers import render as _render


def _stats() -> dict:
    """Five objects, aspects 1, 1, 1.5, 2.5, 4 (bins [1, 1.5) x2, [1.5, 2), [2, 3), [3, 5), none
    >= 5), best IoUs 0.9 / 0.6 / 0.75 / 0.7 / 0.2; ten top-300 proposals: five in [0, 0.05),
    three in [0.5, 0.55), two in [0.7, 0.75)."""
    best = np.array([0.9, 0.6, 0.75, 0.7, 0.2], dtype=np.float32)
    hist = np.zeros(20, dtype=np.int64)
    hist[0], hist[10], hist[14] = 5, 3, 2
    return {"gt_wh": np.array([[10, 10], [10, 10], [15, 10], [10, 25], [40, 10]], dtype=np.float32),
            "gt_image": np.zeros(5, dtype=np.int64), "iou_bins": IOU_BINS.copy(),
            "best_iou_300": best, "best_iou_1000": best, "proposal_iou_hist_300": hist}


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    save_stats(tmp_path / "results" / "runs" / "a" / "seed0" / "proposal_stats.npz", _stats())
    many = _stats()   # 1,200 square objects and one of aspect 6 (bin >= 5)
    many["gt_wh"] = np.concatenate([np.full((1200, 2), 10.0, np.float32), [[60.0, 10.0]]]).astype(np.float32)
    many["best_iou_1000"] = np.full(1201, 0.8, np.float32)
    save_stats(tmp_path / "results" / "runs" / "b" / "seed1" / "proposal_stats.npz", many)
    return tmp_path




def test_proposal_share_at_least_reads_the_histogram_from_an_edge() -> None:
    stats = _stats()
    assert proposal_share_at_least(stats, 0.5) == pytest.approx(0.5)      # (3 + 2) / 10
    assert proposal_share_at_least(stats, 0.7) == pytest.approx(0.2)      # 2 / 10
    assert proposal_share_at_least(stats, 0.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="not a left edge"):
        proposal_share_at_least(stats, 0.52)
    stats["proposal_iou_hist_300"] = np.zeros(20, dtype=np.int64)
    assert math.isnan(proposal_share_at_least(stats, 0.5))


def test_figure_fields_on_hand_made_stats(repo: Path) -> None:
    assert _render(repo, '{{ proposal_iou_share("a", 0.5) }} % / {{ proposal_iou_share("a", 0.7) }} %') == "50.0 % / 20.0 %"
    # recall at 0.7: 0.9, 0.75, 0.7 of five (0.7 counts: COCO's >=); at 0.8: 0.9 only
    assert _render(repo, '{{ object_recall("a", 0.7) }} {{ object_recall("a", 0.8, 1000) }}') == "60.0 20.0"
    # by aspect at 0.7: [1, 1.5) 1 of 2, [1.5, 2) 1 of 1, [2, 3) 1 of 1, [3, 5) 0 of 1, >= 5 empty
    assert _render(repo, '{{ aspect_recall("a", 0.7) }}') == "50.0 / 100.0 / 100.0 / 0.0 / n/a"
    assert _render(repo, '{{ aspect_recall("a", 0.7, bins=[0, 3]) }}') == "50.0 / 0.0"
    assert _render(repo, '{{ aspect_counts("a") }}') == "2 / 1 / 1 / 1 / 0"
    assert _render(repo, '{{ aspect_counts("b", seed=1) }}') == "1,200 / 0 / 0 / 0 / 1"
    assert _render(repo, '{{ aspect_bins() }}') == "[1, 1.5) / [1.5, 2) / [2, 3) / [3, 5) / >= 5"


@pytest.mark.parametrize("field, problem", [
    ('proposal_iou_share("a", 0.52)', "not a left edge"),
    ('object_recall("a", 0.7, seed=3)', "results/runs/a/seed3/proposal_stats.npz: no such committed file"),
    ('aspect_recall("a", 0.7, bins=[5])', "no aspect-ratio bin 5"),
])
def test_a_figure_field_that_cannot_be_read_says_why(repo: Path, field: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem.replace("(", r"\(")):
        _render(repo, "{{ " + field + " }}")
