"""The fidelity section's fields (``scrpn/study/report/fields_fidelity.py``) on hand-made records,
with hand-derived values."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn.study.report import TemplateError
from scrpn.study.report.fields import Results
from scrpn.study.report.fields_fidelity import rule_value
from scrpn.study.stats import Difference
from report_helpers import commit_results, render as _render


def _write(root: Path, run: str, seed: int, record: dict, log: list[dict] | None = None) -> None:
    folder = root / "results" / "runs" / run / f"seed{seed}"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"name": run, "seed": seed, **record}))
    if log is not None:
        (folder / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log))


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """Run ``a``: 3 seeds, logs of 0.5 / 1.0 / 1.5 s per iteration (seed 0), 2.0 / 3.0 (seed 1),
    0.8 (seed 2); run ``b``: one seed, logs 0.4 / 0.6 s."""
    logs = [[0.5, 1.0, 1.5], [2.0, 3.0], [0.8]]
    for seed, times in enumerate(logs):
        _write(tmp_path, "a", seed, {"AR1000": 50.0 + seed},
               [{"type": "train", "iter": 20 * (i + 1), "sec_per_iter": t} for i, t in enumerate(times)])
    _write(tmp_path, "b", 0, {"AR1000": 40.0, "wall_seconds": 1888.4},
           [{"type": "train", "iter": 20, "sec_per_iter": 0.4}, {"type": "train", "iter": 40, "sec_per_iter": 0.6}])
    return tmp_path




def test_seed_runs(repo: Path) -> None:
    assert _render(repo, '{{ seed_runs(["a", "b"]) }} {{ seed_runs("b") }}') == "4 1"


def test_experiment_runs_counts_the_matching_rows_and_their_seeds(repo: Path) -> None:
    _write(repo, "x4_c", 0, {"AR1000": 1.0})
    _write(repo, "x4_c", 1, {"AR1000": 1.0})
    _write(repo, "x4_d", 0, {"AR1000": 1.0})
    assert _render(repo, '{{ experiment_runs(["x4*"]) }} {{ experiment_runs(["x4*"], "rows") }}') == "3 2"
    assert _render(repo, '{{ experiment_runs(["x4_d", "a"]) }} {{ experiment_runs(["?"], "rows") }}') == "4 2"
    with pytest.raises(TemplateError, match="no committed run matches 'x9\\*'"):
        _render(repo, '{{ experiment_runs(["x9*"]) }}')
    # one mistyped pattern beside a good one is an error, not a smaller count
    with pytest.raises(TemplateError, match="no committed run matches 'x5\\*'"):
        _render(repo, '{{ experiment_runs(["x4*", "x5*"]) }}')
    with pytest.raises(TemplateError, match="'seeds' or 'rows'"):
        _render(repo, '{{ experiment_runs(["x4*"], "folders") }}')


def test_runs_matching_expands_each_entry_in_order(repo: Path) -> None:
    for run in ("x4_c", "x4_a", "x4b"):
        _write(repo, run, 0, {"AR1000": 1.0})
    (repo / "results" / "runs" / "x4_stray.txt").write_text("not a run folder")
    results = Results(repo)
    # a pattern's matches in name order, entries in the order given, each run once
    assert results.runs_matching(["b", "x4_*", "a", "x4?c"]) == ["b", "x4_a", "x4_c", "a"]
    assert results.runs_matching("x4[b_]*") == ["x4_a", "x4_c", "x4b"]
    for entry in ("x4_z*", "x4_stray.txt", "c"):     # a pattern, a file, an uncommitted name
        with pytest.raises(FileNotFoundError, match=f"no committed run matches '{entry}"):
            results.runs_matching(["a", entry])
    # a reader of the paper's tables: a plain name needs no run, a pattern still does
    assert results.runs_matching(["c", "x4_*"], names_need_runs=False) == ["c", "x4_a", "x4_c"]
    with pytest.raises(FileNotFoundError, match="no committed run matches 'y\\*'"):
        results.runs_matching(["c", "y*"], names_need_runs=False)
    with pytest.raises(ValueError, match="no run pattern given"):
        results.runs_matching([])


def test_iteration_seconds(repo: Path) -> None:
    # every record of a: 0.5 1.0 1.5 2.0 3.0 0.8 -> median (1.0 + 1.5) / 2 = 1.25; per seed 1.0, 2.5, 0.8
    assert _render(repo, '{{ iteration_seconds(["a"]) }}') == "1.25"
    assert _render(repo, '{{ iteration_seconds(["a"], each=True, digits=1) }}') == "0.8-2.5"
    assert _render(repo, '{{ iteration_seconds(["a"], seeds=[1]) }} {{ iteration_seconds("b") }}') == "2.50 0.50"
    # a ratio of two medians: 1.25 / 0.5
    assert _render(repo, '{{ fmt(iteration_seconds(["a"]) / iteration_seconds(["b"])) }}') == "2.5"
    with pytest.raises(TemplateError, match="no committed seed"):
        _render(repo, '{{ iteration_seconds(["b"], seeds=[3]) }}')


def test_rule_values_print_as_the_cause_report_does() -> None:
    out = {"arms": {"G2": {"vs_rpn": Difference(12.04, 0.64, 1), "recovers": True}},
           "equal_schedule": {"delta": 1.44, "se": 1.06, "reading": "level with RPN"},
           "one_seed": Difference(-0.3, float("nan"), 1), "verdict": "schedule"}
    assert rule_value(out, "arms.G2.vs_rpn") == "+12.0 [0.6]"
    assert rule_value(out, "arms.G2.vs_rpn", digits=2) == "+12.04 [0.64]"
    assert str(rule_value(out, "arms.G2.vs_rpn.se", digits=2)) == "0.64"
    assert str(rule_value(out, "equal_schedule.delta", sign=True)) == "+1.4"
    assert rule_value(out, "one_seed") == "-0.3 [n/a]"
    assert rule_value(out, "equal_schedule.reading") == "level with RPN"
    with pytest.raises(KeyError, match="stopped at 'G9'"):
        rule_value(out, "arms.G9.vs_rpn")
    with pytest.raises(ValueError, match="not a number or text"):
        rule_value(out, "arms.G2.recovers")
    with pytest.raises(ValueError, match="is a dict"):
        rule_value(out, "arms.G2")


def test_rule_result_reads_the_registered_rules_output(repo: Path) -> None:
    results = Results(repo)
    # experiment 8's rule, as it would read runs with AP 30.0 / 20.8 today and 28.0 / 21.6 at 3x
    results.__dict__["_rule_outputs"] = {8: {"gap_today": 9.2, "gap_3x": 6.4, "closer_by": 2.8}}
    assert _render(repo, '{{ rule_result(8, "gap_today", sign=True) }} / {{ rule_result(8, "closer_by") }}',
                   results) == "+9.2 / 2.8"
    with pytest.raises(TemplateError, match="no registered experiment 99"):
        _render(repo, '{{ rule_result(99, "verdict") }}')


def test_committed_runs_counts_the_records_a_commit_held(repo: Path) -> None:
    first = commit_results(repo, "four runs, none names a commit")
    _write(repo, "c", 0, {"AR1000": 1.0, "code_commit": "abc"})
    _write(repo, "c", 1, {"AR1000": 1.0, "code_commit": None})
    second = commit_results(repo, "two more, one names its commit")
    assert _render(repo, f'{{{{ committed_runs("{first}") }}}} {{{{ committed_runs("{first}", without="code_commit") }}}}') \
        == "4 4"
    assert _render(repo, f'{{{{ committed_runs("{second}", without="code_commit") }}}} of {{{{ committed_runs("{second}") }}}}') \
        == "5 of 6"
    with pytest.raises(TemplateError, match="git ls-tree"):
        _render(repo, '{{ committed_runs("0000000000000000000000000000000000000000") }}')


def test_rule_keys_that_hold_dots_are_matched_whole() -> None:
    # experiment 10's claim names carry a learning rate ("... lr 0.005"); the longest key wins
    out = {"claims": {"points (lr 0.005)": {"verdict": "holds", "step": Difference(-0.9, 0.3, 3)},
                      "points (lr 0": {"verdict": "the shorter key"}}}
    assert rule_value(out, "claims.points (lr 0.005).verdict") == "holds"
    assert rule_value(out, "claims.points (lr 0.005).step") == "-0.9 [0.3]"
    assert str(rule_value(out, "claims.points (lr 0.005).step.se")) == "0.3"
    with pytest.raises(KeyError, match=r"stopped at '006\)'"):
        rule_value(out, "claims.points (lr 0.006).verdict")
