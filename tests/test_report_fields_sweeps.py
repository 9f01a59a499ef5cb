"""The REPORT's fields of Tables V-VIII (scrpn/study/report/fields_sweeps.py) on hand-made runs and
tables, with hand-derived values."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn.study.report import TemplateError
from scrpn.study.report.fields import Results
from report_helpers import render as _render

RUNS = {   # run -> AR1000 by seed (AR100 = AR1000 - 10)
    "ref": (60.0, 61.0, 62.0),    # sd 1.0
    "ref2": (40.0, 42.0, 44.0),   # sd 2.0
    "a": (58.5,), "b": (61.3,), "x_1": (59.0,), "x_2": (62.5,),
}


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    for run, values in RUNS.items():
        for seed, value in enumerate(values):
            folder = tmp_path / "results" / "runs" / run / f"seed{seed}"
            folder.mkdir(parents=True)
            (folder / "metrics.json").write_text(json.dumps({"seed": seed, "AR1000": value, "AR100": value - 10}))
    tables = tmp_path / "results" / "tables"
    tables.mkdir(parents=True)
    # the reference stands in two rows of tv (one paper value), a third table disagrees on it
    (tables / "tv.csv").write_text("config,AR100_paper,AR1000_paper\nref,61.3,72.4\na,54.7,69.7\nref,61.3,72.4\n"
                                   "b,60.8,72.1\n")
    (tables / "tw.csv").write_text("config,AR100_paper,AR1000_paper\nref,61.3,72.4\nc,61.0,73.0\n")
    (tables / "tz.csv").write_text("config,AR100_paper,AR1000_paper\nref,61.3,70.0\n")
    return tmp_path




def test_paper_delta(repo: Path) -> None:
    # 69.7 - 72.4 and 54.7 - 61.3
    assert _render(repo, '{{ paper_delta("tv", "a", "ref") }} / {{ paper_delta("tv", "a", "ref", "AR100") }}') == "-2.7 / -6.6"
    assert _render(repo, '{{ paper_delta("tv", "b", "ref", sign=False, absolute=True) }}') == "0.3"


def test_ablation_bound_over_runs_patterns_and_the_paper(repo: Path) -> None:
    # seed 0 against ref's 60.0: a -1.5, b +1.3
    assert _render(repo, '{{ ablation_bound(["a", "b"], "ref") }} {{ ablation_bound(["a", "b"], "ref", bound="min") }}') == \
        "1.3 -1.5"
    assert _render(repo, '{{ ablation_bound(["a", "b"], "ref", bound="min", absolute=True) }}') == "1.5"
    # patterns: x_1 -1.0, x_2 +2.5; no reference: the values themselves
    assert _render(repo, '{{ ablation_bound("x_*", "ref", sign=True) }} {{ ablation_bound(["x_?", "a"], bound="min") }}') == \
        "+2.5 58.5"
    # the paper's: a -2.7, b -0.3 in tv; c +0.6 in tw (ref is 72.4 in both)
    assert _render(repo, '{{ ablation_bound(["a", "b"], "ref", paper_table="tv", bound="min") }}') == "-2.7"
    assert _render(repo, '{{ ablation_bound(["a", "c"], "ref", paper_table=["tv", "tw"], sign=True) }}') == "+0.6"


def test_largest_pair_change(repo: Path) -> None:
    # |58.5 - 60.0| = 1.5, |61.3 - 60.0| = 1.3; AR100 the same differences
    assert _render(repo, '{{ largest_pair_change([["a", "ref"], ["ref", "b"]]) }}') == "1.5"
    assert _render(repo, '{{ largest_pair_change([["b", "ref"]], "AR100", digits=2) }}') == "1.30"


def test_pooled_seed_sd_and_single_seed_resolution(repo: Path) -> None:
    # sqrt((1.0² + 2.0²) / 2) = 1.581; times 2.5: 3.953
    assert _render(repo, '{{ pooled_seed_sd(["ref", "ref2"], digits=3) }}') == "1.581"
    assert _render(repo, '{{ single_seed_resolution(["ref", "ref2"], digits=2) }}') == "3.95"
    assert _render(repo, '{{ single_seed_resolution(["ref"]) }}') == "2.5"


def test_table_size_counts_rows_and_distinct_trainings(repo: Path) -> None:
    results = Results(repo)
    rows = {"t3_sads": [], "t5_k3": [], "t3_sads#k / 9": [], "t3_sads#N / 2": [], "t5_n1": []}
    results.compact = lambda name: (rows, ["pending row"])   # the compact table, without a study
    assert _render(repo, '{{ table_size("tv") }} {{ table_size("tv", "trainings") }}', results) == "5 3"
    assert _render(repo, '{{ table_size("tv", "trainings", exclude=["t3_sads"]) }}', results) == "2"


@pytest.mark.parametrize("field, problem", [
    ('paper_delta("tv", "nope", "ref")', "config 'nope' has 0 paper values"),
    ('ablation_bound(["a"], "ref", paper_table=["tv", "tz"])', "config 'ref' has 2 paper values"),
    ('ablation_bound("y_*", "ref")', "no committed run matches 'y_*'"),
    ('ablation_bound(["a"], "ref", bound="mean")', "bound must be 'max' or 'min'"),
    ('ablation_bound(["a"], "ref", seed=1)', "no committed seed [1]"),
    ('largest_pair_change([["a"]])', "a pair is two runs"),
    ('pooled_seed_sd(["a"])', "one seed of AR1000, no spread"),
    ('paper_delta("tv", "a", "ref", "AR300")', "no column 'AR300_paper'"),
])
def test_a_sweep_field_that_cannot_be_read_says_why(repo: Path, field: str, problem: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _render(repo, "{{ " + field + " }}")
    assert problem in str(caught.value)
