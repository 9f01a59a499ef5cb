"""The pre-registered sections' REPORT fields (scrpn/study/report/fields_prereg.py) on hand-made
records, with values derived by hand in the comments."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn.study.report import TemplateError
from report_helpers import commit_results, render as _render


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """``rpn`` AR1000 42 / 43 / 44 (AR100 7.5 lower), ``bf16_rpn`` 44 / 46 / 45 (AR100 10 lower) and
    a bench JSON with two methods."""
    for run, values, drop in (("rpn", (42.0, 43.0, 44.0), 7.5), ("bf16_rpn", (44.0, 46.0, 45.0), 10.0)):
        for seed, value in enumerate(values):
            folder = tmp_path / "results" / "runs" / run / f"seed{seed}"
            folder.mkdir(parents=True)
            (folder / "metrics.json").write_text(json.dumps({"name": run, "seed": seed, "AR1000": value,
                                                             "AR100": value - drop}))
    bench = {"methods": {
        "m": {"train_seconds_per_iter": 0.4, "infer_seconds_per_image": 0.08, "floor_seconds_per_iter": 0.2,
              "train_ratio_to_floor": 2.5, "flops_ratio_to_floor": 2.0,
              "precision": "fp32", "train_rounds": [0.4, 0.5],
              "precisions": {"bf16": {"train_seconds_per_iter": 0.32, "infer_seconds_per_image": 0.05,
                                      "floor_seconds_per_iter": 0.16, "train_speedup": 1.25, "infer_speedup": 1.6,
                                      "floor_speedup": 1.25, "train_rounds": [0.3, 0.45]}}},
        "n": {"train_seconds_per_iter": 1.0, "precision": "fp32", "train_rounds": [1.0, 1.2],
              "train_ratio_to_floor": 1.5, "flops_ratio_to_floor": 1.75}},
        "bits": {"seed0": {"w": 1.4971e-6}, "seed1": {"w": 8.2e-8}}}
    (tmp_path / "results" / "bench").mkdir()
    (tmp_path / "results" / "bench" / "b.json").write_text(json.dumps(bench))
    return tmp_path




def test_bf16_interval_reads_the_registered_rule(repo: Path) -> None:
    # bf16 mean 45, sd 1; fp32 mean 43, sd 1: Δ = +2, se = sqrt(1/3 + 1/3) = 0.8165,
    # interval 2 ± 1.645 x 0.8165 = 2 ± 1.3431: [+0.66, +3.34]
    assert _render(repo, '{{ bf16_interval("RPN") }} [{{ bf16_interval("RPN", "se") }}]') == "+2.00 [0.82]"
    assert _render(repo, '[{{ bf16_interval("RPN", "low") }}, {{ bf16_interval("RPN", "high") }}]') == \
        "[+0.66, +3.34]"
    # paired: differences 2, 3, 1: Δ 2, sd 1, se 1/sqrt(3) = 0.5774; 2 ± 0.9498: [+1.05, +2.95]
    assert _render(repo, '{{ bf16_interval("RPN", "se", paired=True) }} [{{ bf16_interval("RPN", "low", '
                         'paired=True) }}, {{ bf16_interval("RPN", "high", paired=True) }}]') == "0.58 [+1.05, +2.95]"
    # the registration's expectation: fp32's sd 1 in both arms: se 0.8165, half 1.3431, room 1.5 - 1.3431
    assert _render(repo, '{{ bf16_planned("RPN") }} {{ bf16_planned("RPN", "half") }} '
                         '{{ bf16_planned("RPN", "room", digits=1) }}') == "0.82 1.34 0.2"


def test_seed_deltas_sign_every_seed_with_the_reports_minus(repo: Path) -> None:
    assert _render(repo, '{{ seed_deltas("bf16_rpn", "rpn") }}') == "+2.00, +3.00, +1.00"
    # AR100: 34 - 34.5, 36 - 35.5, 35 - 36.5
    assert _render(repo, '{{ seed_deltas("bf16_rpn", "rpn", "AR100") }}') == "−0.50, +0.50, −1.50"
    assert _render(repo, '{{ seed_deltas("bf16_rpn", "rpn", "AR100", seeds=[1, 2], sep=" / ") }}') == "+0.50 / −1.50"
    assert _render(repo, '{{ seed_delta("bf16_rpn", "rpn", "AR100", seed=2, digits=1, minus="-") }}') == "-1.5"


def test_bench_fields(repo: Path) -> None:
    path = '"results/bench/b.json"'
    assert _render(repo, f'{{{{ bench_cell({path}, "m") }}}}') == "400 -> 320 ms (x1.25)"
    assert _render(repo, f'{{{{ bench_cell({path}, "m", "infer") }}}}') == "80.0 -> 50.0 ms (x1.60)"
    assert _render(repo, f'{{{{ bench_cell({path}, "m", "floor") }}}} {{{{ bench_cell({path}, "m", "train", '
                         'ratio_only=True) }}') == "x1.25 x1.25"
    # max / min of the rounds: m fp32 0.5 / 0.4 = 1.25, m bf16 0.45 / 0.3 = 1.5, n 1.2 / 1.0 = 1.2
    assert _render(repo, f'{{{{ rounds_spread({path}) }}}} {{{{ rounds_spread({path}, precisions=["fp32"], '
                         f'digits=2) }}}} {{{{ rounds_spread({path}, methods=["n"]) }}}}') == "1.5 1.25 1.2"
    assert _render(repo, f'{{{{ json_min({path}, "methods.*.train_rounds.*", digits=2) }}}} '
                         f'{{{{ json_max({path}, "methods.*.train_rounds.*") }}}} '
                         f'{{{{ json_max({path}, "methods.*.precisions.bf16.train_speedup", digits=2) }}}}') == \
        "0.40 1.2 1.25"
    assert _render(repo, f'{{{{ sci(json_max({path}, "bits.*.w")) }}}} {{{{ sci(json_min({path}, "bits.*.w"), '
                         'digits=0) }} {{ sci(12345) }}') == "1.5e-6 8e-8 1.2e4"


def test_floor_gap_is_time_minus_flops_over_the_methods(repo: Path) -> None:
    # m: 2.5 - 2.0 = +0.5; n: 1.5 - 1.75 = -0.25
    assert _render(repo, '{{ floor_gap("results/bench/b.json") }} {{ floor_gap("results/bench/b.json", "min", '
                         'digits=2) }}') == "+0.5 -0.25"


def test_commit_reads_the_runs_as_an_earlier_commit_had_them(repo: Path) -> None:
    """``commit=`` on the general fields (a pre-registration quotes the numbers of its day)."""
    first = commit_results(repo, "first")
    (repo / "results" / "runs" / "rpn" / "seed0" / "metrics.json").write_text(json.dumps({"AR1000": 48.0}))
    # then: rpn 42 / 43 / 44 (mean 43, sd 1); bf16_rpn 44 / 46 / 45: Δ +2.0, se 0.8
    assert _render(repo, f'{{{{ mean("rpn", commit="{first}") }}}} {{{{ sd("rpn", commit="{first}", digits=2) }}}} '
                         f'{{{{ diff("bf16_rpn", "rpn", commit="{first}") }}}}') == "43.0 1.00 +2.0 [0.8]"
    # paired then: differences 2, 3, 1: se 0.58
    assert _render(repo, f'{{{{ diff("bf16_rpn", "rpn", paired=True, digits=2, commit="{first}") }}}}') == \
        "+2.00 [0.58]"
    assert _render(repo, f'{{{{ diff("bf16_rpn", "rpn", sep="\\n", commit="{first}") }}}}') == "+2.0\n[0.8]"
    assert _render(repo, f'{{{{ value("rpn", commit="{first}") }}}} {{{{ seeds("rpn", seeds=[1, 2], commit="{first}") }}}} '
                         f'{{{{ delta("bf16_rpn", "rpn", commit="{first}") }}}} {{{{ se("bf16_rpn", "rpn", commit="{first}") }}}}'
                         ) == "42.0 43.0 / 44.0 +2.0 0.8"
    # now: rpn 48 / 43 / 44, mean 45
    assert _render(repo, '{{ mean("rpn") }} {{ value("rpn") }}') == "45.0 48.0"
    with pytest.raises(TemplateError, match="not in this checkout's history"):
        _render(repo, f'{{{{ mean("no_such_run", commit="{first}") }}}}')
    with pytest.raises(TemplateError, match="not in this checkout's history"):
        _render(repo, '{{ mean("rpn", commit="0000000") }}')


@pytest.mark.parametrize("field, problem", [
    ('bf16_interval("Faster R-CNN")', "no bf16 arm 'Faster R-CNN'"),
    ('bf16_interval("RPN", "middle")', "no part 'middle'"),
    ('bench_cell("results/bench/b.json", "m", "eval")', "no bench timing 'eval'"),
    ('bench_cell("results/bench/b.json", "n")', "no key 'precisions.bf16'"),
    ('json_max("results/bench/b.json", "methods.*.nothing")', "no number matches"),
    ('rounds_spread("results/bench/b.json", "infer")', "no infer_rounds"),
    ('seed_deltas("bf16_rpn", "rpn", seeds=[0, 5])', "no committed seed [5]"),
    ('sci("x")', "not a number"),
])
def test_a_prereg_field_that_cannot_be_read_says_why(repo: Path, field: str, problem: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _render(repo, "{{ " + field + " }}")
    assert problem in str(caught.value)
