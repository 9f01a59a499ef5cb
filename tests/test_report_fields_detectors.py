"""The detector tables' REPORT fields (scrpn/study/report/fields_detectors.py) and the compact
tables' stand-in rows (scrpn/study/report/compact.py), on hand-made records with hand-worked values."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn.study.report import TemplateError, compact
from scrpn.study.report.fields import Results
from scrpn.study.report.template import render_text
from test_tables import FakeStudy
from report_helpers import render as _render

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """Runs det_a (AP 3.3, 10 min + 2 min resumed), det_b (AP 12.4, 20 min), diag_det_c (AP 0.75,
    5 min) and x_det_d (AP 99, never matched by "det_*"); a table of the first three."""
    runs = {"det_a": (3.3, 600.0, 120.0), "det_b": (12.4, 1200.0, None), "diag_det_c": (0.75, 300.0, None),
            "x_det_d": (99.0, 60.0, None)}
    for run, (ap, wall, earlier) in runs.items():
        folder = tmp_path / "results" / "runs" / run / "seed0"
        folder.mkdir(parents=True)
        record = {"name": run, "seed": 0, "AP": ap, "wall_seconds": wall}
        if earlier is not None:
            record["earlier_wall_seconds"] = earlier
        (folder / "metrics.json").write_text(json.dumps(record))
    (tmp_path / "results" / "tables").mkdir()
    (tmp_path / "results" / "tables" / "det.csv").write_text(
        "detector,num_proposals,config,AP_mean,AP_paper\n"
        "Fast,300,det_a,3.300,36.6\nFast,1000,det_b,12.400,37.0\nFaster,300,diag_det_c,0.750,40.9\n"
        "Faster,1000,,,40.8\n")
    return tmp_path




def test_table_delta_is_one_cell_minus_another(repo: Path) -> None:
    # 37.0 - 36.6 = +0.4; 3.3 - 12.4 = -9.10; unsigned 40.9 - 36.6 = 4.3
    assert _render(repo, '{{ table_delta("det", "det_b", "det_a", "AP_paper") }}') == "+0.4"
    assert _render(repo, '{{ table_delta("det", "det_a", "det_b", "AP_mean", digits=2) }}') == "-9.10"
    assert _render(repo, '{{ table_delta("det", "diag_det_c", "det_a", "AP_paper", sign=False) }}') == "4.3"


def test_runs_span_reads_the_runs_the_patterns_match(repo: Path) -> None:
    # det_a 3.3, det_b 12.4, diag_det_c 0.75 (x_det_d is not "det_*"): 0.75 -> "1", 12.4 -> "12"
    assert _render(repo, '{{ runs_span(["det_*", "diag_det_*"], "AP") }}') == "1-12"
    assert _render(repo, '{{ runs_span(["det_*"], "AP", digits=1) }}') == "3.3-12.4"
    assert _render(repo, '{{ runs_span(["det_a"], "AP", digits=1) }}') == "3.3"   # one end: one number


def test_minutes_span_costs_each_row_its_whole_run(repo: Path) -> None:
    # det_a: 600 s + 120 s resumed = 12 min; det_b 20 min; diag_det_c 5 min
    assert _render(repo, '{{ minutes_span("det") }}') == "5-20"
    assert _render(repo, '{{ minutes_span("det", {"detector": "Fast"}) }}') == "12-20"
    assert _render(repo, '{{ minutes_span("det", {"num_proposals": 300, "detector": "Fast"}) }}') == "12"


@pytest.mark.parametrize("field, problem", [
    ('runs_span(["nope_*"], "AP")', "no committed run matches 'nope_\\*'"),
    ('runs_span(["det_*", "dte_*"], "AP")', "no committed run matches 'dte_\\*'"),
    ('minutes_span("det", {"detector": "Faster", "num_proposals": 1000})', "no row with a run matches"),
    ('minutes_span("det", {"stage": 1})', "no column 'stage'"),
])
def test_a_detector_field_that_cannot_be_read_says_why(repo: Path, field: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem):
        _render(repo, "{{ " + field + " }}")


# -- stand-in rows of the compact tables ------------------------------------------------------------
# Table IX's paper: Double-Head R-CNN / RPN 39.6 / 59.9 / 23.2 (AP / AP50 / AP_S), / SC-RPN 40.6 / 60.3 / 23.3
RUNS = {("det_double_head_rpn", 0): {"AP": 10.0, "AP50": 20.0, "AP_S": 5.0},
        ("det_double_head_sc_rpn", 0): {"AP": 16.0, "AP50": 30.0, "AP_S": 8.0},
        ("diag_dh_first", 0): {"AP": 7.0, "AP50": 15.0, "AP_S": 3.0}}


def _study() -> FakeStudy:
    return FakeStudy(dict(RUNS), seeds=[0], results_dir=ROOT / "results")


def test_a_stand_in_row_takes_its_paper_rows_values_and_reference() -> None:
    done, pending = compact.rows("table09_more_detectors", _study(), {"det_double_head_sc_rpn": "diag_dh_first"})
    # 7 - 10 = -3.0 against the RPN row; the paper's SC-RPN row minus its RPN row: 40.6 - 39.6 = +1.0
    assert done["diag_dh_first"] == ["Double-Head R-CNN / SC-RPN / 1000", "7.0 (1) (40.6)", "15.0 (1) (60.3)",
                                     "3.0 (1) (23.3)", "-3.0 (+1.0)"]
    assert done["det_double_head_sc_rpn"][-1] == "+6.0 (+1.0)"       # the paper row itself is unchanged
    assert list(done)[-1] == "diag_dh_first" and len(pending) == 2   # Cascade R-CNN's two rows


def test_markdown_shows_no_stand_in() -> None:
    assert "7.0 (1)" not in compact.markdown("table09_more_detectors", _study())


def test_the_row_field_prints_a_stand_in_under_its_label() -> None:
    results = Results(ROOT)
    results._study = _study()   # the hand-made runs instead of the committed ones
    text = render_text('{{ row("table09_more_detectors", "diag_dh_first", label="DH (first)", '
                       'stands_for="det_double_head_sc_rpn") }}\n{{ row("table09_more_detectors", "det_double_head_rpn") }}',
                       results.fields(), "src.md")
    assert text == ("| DH (first) | 7.0 (1) (40.6) | 15.0 (1) (60.3) | 3.0 (1) (23.3) | -3.0 (+1.0) |\n"
                    "| Double-Head R-CNN / RPN / 1000 | 10.0 (1) (39.6) | 20.0 (1) (59.9) | 5.0 (1) (23.2) |  |")
    with pytest.raises(TemplateError, match="no paper row of config 'nope' to stand in for"):
        render_text('{{ row("table09_more_detectors", "diag_dh_first", stands_for="nope") }}', results.fields(), "src.md")
