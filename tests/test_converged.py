"""Experiment 10's registered rules (scrpn/study/experiments/e10_converged.py), on hand-derived numbers."""
from __future__ import annotations

import pytest

from scrpn.study.experiments.e10_converged import (CLAIMS, PEER_PAIRS, Claim, choose_schedule, claim_holds,
                                                   rung_prefix, schedule_verdict)


def test_s_star_is_the_first_rung_whose_doubling_moves_neither_method_more_than_1() -> None:
    # 1x -> 2x: RPN +6.0, SC-RPN +2.0 (too much); 2x -> 4x: +0.9 and -0.4 (both within 1.0): S* = 2x
    curve = {"rpn": {1: 43.0, 2: 49.0, 4: 49.9}, "sc_rpn": {1: 60.0, 2: 62.0, 4: 61.6}}
    out = choose_schedule(curve)
    assert out["s_star"] == 2 and out["label"] == "converged" and out["next"] is None
    assert out["moves"][(1, 2)] == pytest.approx({"rpn": 6.0, "sc_rpn": 2.0})
    assert out["moves"][(2, 4)] == pytest.approx({"rpn": 0.9, "sc_rpn": -0.4})
    # exactly 1.0 does not move "by more than 1.0"
    assert choose_schedule({"rpn": {1: 40.0, 2: 41.0}, "sc_rpn": {1: 60.0, 2: 59.0}})["s_star"] == 1


def test_the_rule_says_which_rung_to_train_next_and_stops_when_decided() -> None:
    assert choose_schedule({"rpn": {1: 43.0}, "sc_rpn": {1: 60.0}}) == {
        "s_star": None, "label": "pending", "next": 2, "moves": {}}
    # RPN's 4x exists (experiment 2's control) but SC-RPN's does not: 4x is next for SC-RPN
    partial = {"rpn": {1: 43.0, 2: 48.0, 4: 53.9}, "sc_rpn": {1: 60.0, 2: 63.0}}
    assert choose_schedule(partial)["next"] == 4
    # decided at 2x: a later rung's runs do not change it
    decided = {"rpn": {1: 43.0, 2: 48.0, 4: 48.5, 8: 60.0}, "sc_rpn": {1: 60.0, 2: 63.0, 4: 63.2, 8: 70.0}}
    assert choose_schedule(decided)["s_star"] == 2


def test_if_even_16x_moves_more_the_study_reads_8x_longer() -> None:
    curve = {m: {1: 0.0, 2: 5.0, 4: 10.0, 8: 15.0, 16: 16.5} for m in ("rpn", "sc_rpn")}
    out = choose_schedule(curve)
    assert out["s_star"] == 8 and out["label"] == "8x longer"
    assert out["moves"][(8, 16)]["rpn"] == pytest.approx(1.5)


def test_s_star_is_8x_before_16x_once_4x_to_8x_still_moves_only_the_label_waits() -> None:
    # 1 -> 2, 2 -> 4, 4 -> 8 each move RPN by 5.0: 16x reads "converged" (within 1.0) or "8x
    # longer" (more), S* = 8x either way, so the rule names it now and still asks for 16x
    curve = {m: {1: 0.0, 2: 5.0, 4: 10.0, 8: 15.0} for m in ("rpn", "sc_rpn")}
    out = choose_schedule(curve)
    assert out["s_star"] == 8 and out["next"] == 16
    assert out["label"] == "8x; 16x pending: converged or 8x longer"
    # one method's 16x in within 1.0, the other's not: still waiting on 16x, S* still 8x
    curve["rpn"][16] = 15.5
    assert choose_schedule(curve)["s_star"] == 8 and choose_schedule(curve)["next"] == 16
    # one method's 16x moved more than 1.0 (+2.6): "8x longer" whatever the other's shows
    early = {"rpn": {**curve["rpn"], 16: 17.6}, "sc_rpn": dict(curve["sc_rpn"])}
    out = choose_schedule(early)
    assert (out["s_star"], out["label"], out["next"]) == (8, "8x longer", None)
    assert out["moves"][(8, 16)] == pytest.approx({"rpn": 2.6})
    curve["sc_rpn"][16] = 15.4
    assert choose_schedule(curve) == {"s_star": 8, "label": "converged", "next": None, "moves": {
        (1, 2): {"rpn": 5.0, "sc_rpn": 5.0}, (2, 4): {"rpn": 5.0, "sc_rpn": 5.0},
        (4, 8): {"rpn": 5.0, "sc_rpn": 5.0}, (8, 16): pytest.approx({"rpn": 0.5, "sc_rpn": 0.4})}}
    # 8x missing: S* is not decided (4x -> 8x may still settle at 4x)
    assert choose_schedule({m: {1: 0.0, 2: 5.0, 4: 10.0} for m in ("rpn", "sc_rpn")})["s_star"] is None


def test_deepforest_uses_its_own_methods() -> None:
    curve = {"rpn": {1: 53.3, 2: 53.8}, "cascade_rpn": {1: 29.5, 2: 30.1}}
    assert choose_schedule(curve, methods=("rpn", "cascade_rpn"))["s_star"] == 1


def values_from(table: dict):
    return lambda row: table.get(row, [])


def test_a_table_i_pair_holds_when_resolved_above() -> None:
    claim = Claim("x", "sc_rpn", "rpn", "above, resolved", "Table I")
    # Δ = 61 - 43 = 18; sds 1 and 1 over 3 seeds: se = sqrt(1/3 + 1/3) = 0.816; 18 >= 2.04: holds
    table = {"sc_rpn": [60.0, 61.0, 62.0], "rpn": [42.0, 43.0, 44.0]}
    out = claim_holds(claim, values_from(table), lambda row: [])
    assert out["holds"] and out["step"].delta == pytest.approx(18.0)
    assert out["step"].se == pytest.approx((2 / 3) ** 0.5)
    # at S*: the runs named s4x_<row>; Δ = 0.5 with the same sds is unresolved: does not hold
    table4 = {"s4x_sc_rpn": [60.0, 61.0, 62.0], "s4x_rpn": [59.5, 60.5, 61.5]}
    assert claim_holds(claim, values_from(table4), lambda row: [], prefix=rung_prefix(4))["holds"] is False
    # pending until both rows have 3 seeds
    assert claim_holds(claim, values_from({"sc_rpn": [60.0]}), lambda row: [])["holds"] is None


def test_posr_needs_a_resolved_gain_of_at_least_1() -> None:
    claim = next(c for c in CLAIMS if c.row == "t3_sads")
    # Δ = 0.9, se = sqrt(0.01/3 * 2) = 0.0816: resolved but below 1.0: does not hold
    small = {"t3_sads": [60.8, 60.9, 61.0], "t4_maxiou_sat": [59.9, 60.0, 60.1]}
    assert claim_holds(claim, values_from(small), lambda row: [])["holds"] is False
    big = {"t3_sads": [61.9, 62.0, 62.1], "t4_maxiou_sat": [59.9, 60.0, 60.1]}
    assert claim_holds(claim, values_from(big), lambda row: [])["holds"] is True


def test_points_hold_unless_below_by_a_resolved_margin() -> None:
    claim = next(c for c in CLAIMS if c.row == "t3_point")
    # Δ = -1.0, se = 0.816: |Δ| < 2.04, unresolved: no cost, holds
    table = {"t3_point": [41.0, 42.0, 43.0], "t3_iou_loss": [42.0, 43.0, 44.0]}
    assert claim_holds(claim, values_from(table), lambda row: [])["holds"] is True
    table["t3_point"] = [37.0, 38.0, 39.0]   # Δ = -5.0: resolved loss
    assert claim_holds(claim, values_from(table), lambda row: [])["holds"] is False


def test_the_mask_holds_on_its_paired_scoring_alone() -> None:
    claim = next(c for c in CLAIMS if c.row == "sc_rpn" and c.reference == "t3_sads")
    # vs t3_sads: Δ = 0 (no); paired vs notest: per-seed +0.5, +0.6, +0.7: mean 0.6, se 0.1/√3: holds
    table = {"sc_rpn": [60.0, 61.0, 62.0], "t3_sads": [60.0, 61.0, 62.0],
             "sc_rpn_rescored": [60.0, 61.0, 62.0], "sc_rpn_notest": [59.5, 60.4, 61.3]}
    out = claim_holds(claim, values_from(table), lambda row: [])
    assert out["holds"] is True and out["paired"].delta == pytest.approx(0.6)
    assert out["paired"].se == pytest.approx(0.1 / 3 ** 0.5)


def test_deepforest_cascade_needs_stage_1_to_learn() -> None:
    claim = next(c for c in CLAIMS if c.dataset == "deepforest")
    table = {"s2x_deepforest_cascade_rpn": [57.0, 58.0, 59.0], "s2x_deepforest_rpn": [53.0, 53.3, 53.6]}
    learns = [{"diagnostics": {"diag_s1_pos_iou": {"last": 0.70}, "diag_s1_prior_iou": {"last": 0.60}}}] * 3
    stuck = [{"diagnostics": {"diag_s1_pos_iou": {"last": 0.61}, "diag_s1_prior_iou": {"last": 0.60}}}] * 3
    assert claim_holds(claim, values_from(table), lambda row: learns, prefix="s2x_")["holds"] is True
    assert claim_holds(claim, values_from(table), lambda row: stuck, prefix="s2x_")["holds"] is False


def test_schedule_verdict() -> None:
    assert schedule_verdict(True, True, "4x") == "schedule-robust (holds at both)"
    assert schedule_verdict(False, False, "4x") == "schedule-robust (does not hold at both)"
    assert schedule_verdict(False, True, "4x") == "schedule-dependent (mini: does not hold -> 4x: holds)"
    assert schedule_verdict(None, True, "4x") == "pending"


def test_every_table_i_pair_follows_the_papers_order() -> None:
    assert len(PEER_PAIRS) == 10 and ("sc_rpn", "rpn") in PEER_PAIRS and ("iterative_rpn", "rpn") in PEER_PAIRS
    assert ("rpn", "iterative_rpn") not in PEER_PAIRS


def _seed0_runs(ar1000: dict):
    """``runs(name)`` of seed-0 records: {run name: AR1000}."""
    return lambda name: [{"seed": 0, "AR1000": ar1000[name]}] if name in ar1000 else []


def _curve_runs(rpn: dict, sc_rpn: dict) -> dict:
    names = {1: "{}", 2: "s2x_{}", 4: "s4x_{}", 8: "s8x_{}", 16: "s16x_{}"}
    return {**{names[f].format("rpn"): v for f, v in rpn.items()},
            **{names[f].format("sc_rpn"): v for f, v in sc_rpn.items()}}


def test_phase_3_trains_at_4x_when_s_star_is_8x_and_at_s_star_otherwise() -> None:
    from scrpn.study.experiments.e10_converged import CLAIM_ROWS, COMPONENT_ROWS, _phase3_profile, _phase3_rows

    # 4x -> 8x moves RPN +2.0 (> 1.0); 8x -> 16x moves both +0.5: S* = 8x, phase 3 at 4x (REPORT's budget)
    at_8x = _curve_runs({1: 40.0, 2: 45.0, 4: 50.0, 8: 52.0, 16: 52.5}, {1: 60.0, 2: 63.0, 4: 65.0, 8: 65.5, 16: 66.0})
    assert choose_schedule({"rpn": {1: 40.0, 2: 45.0, 4: 50.0, 8: 52.0, 16: 52.5},
                            "sc_rpn": {1: 60.0, 2: 63.0, 4: 65.0, 8: 65.5, 16: 66.0}})["s_star"] == 8
    assert _phase3_profile(_seed0_runs(at_8x)) == "4x"
    # ... where phase 2 trains no SC-RPN: phase 3 trains its seeds at 4x (the IoU mask claim's row)
    assert _phase3_rows(_seed0_runs(at_8x)) == CLAIM_ROWS and "sc_rpn" in CLAIM_ROWS
    assert CLAIM_ROWS == ("t3_iou_loss", "t3_point", "t3_two_stage", "t3_alignment", "t4_maxiou_sat",
                          "t3_sads", "sc_rpn", "sc_rpn_rescored", "sc_rpn_notest")
    # 4x -> 8x moves both by 0.5: S* = 4x, phase 3 at the converged profile (the pointer file, 4x)
    at_4x = _curve_runs({1: 40.0, 2: 45.0, 4: 50.0, 8: 50.5}, {1: 60.0, 2: 63.0, 4: 65.0, 8: 65.5})
    assert _phase3_profile(_seed0_runs(at_4x)) == "converged"
    assert _phase3_rows(_seed0_runs(at_4x)) == COMPONENT_ROWS and "sc_rpn" not in COMPONENT_ROWS
    # undecided: the converged profile, whose missing pointer file stops the run order
    assert _phase3_profile(_seed0_runs(_curve_runs({1: 40.0}, {1: 60.0}))) == "converged"


def test_deepforest_trains_at_its_own_s_star_read_off_its_runs() -> None:
    from scrpn.study.experiments.e10_converged import _deepforest_profile

    # DeepForest's runs as its stage reads them (names relative to the DeepForest study): 1x -> 2x
    # moves RPN +0.5 and Cascade RPN +0.6: its S* is 1x, whatever SynthShapes' is
    runs = {"rpn": 53.3, "s2x_rpn": 53.8, "cascade_rpn": 29.5, "s2x_cascade_rpn": 30.1}
    assert _deepforest_profile(_seed0_runs(runs)) == "mini"
    runs = {"rpn": 53.3, "s2x_rpn": 56.0, "s4x_rpn": 56.4, "cascade_rpn": 29.5, "s2x_cascade_rpn": 33.0,
            "s4x_cascade_rpn": 33.2}
    assert _deepforest_profile(_seed0_runs(runs)) == "2x"
    assert _deepforest_profile(_seed0_runs({"rpn": 53.3, "cascade_rpn": 29.5})) is None


def test_a_stage_profile_chosen_by_the_runs(tmp_path, monkeypatch) -> None:
    """``Stage.profile`` as a function of the cached runs: ``None`` skips the stage with its line,
    a name trains the stage's rows at that profile."""
    from scrpn.study import experiments
    from scrpn.study.experiments import experiment_plan
    from scrpn.study.experiments.record import Experiment, Stage
    from scrpn.study.runs import Study

    fake = Experiment(98, "test", "test", arms=(), rule=lambda runs: {"verdict": "pending"},
                      report=lambda runs: [],
                      stages=(Stage("a", ("rpn",), seeds=(0,), profile=lambda runs: None, skip="a: not yet"),
                              Stage("b", ("sc_rpn",), seeds=(0,), profile=lambda runs: "2x")))
    monkeypatch.setitem(experiments.REGISTRY, 98, fake)
    lines: list[str] = []
    from pathlib import Path
    study = Study(profile="mini", config_root=Path(__file__).resolve().parents[1] / "configs",
                  results_dir=tmp_path / "results")
    plan = experiment_plan(98, study, log=lines.append)
    assert "a: not yet" in lines
    assert [(sub.profile, rows, seeds) for sub, rows, seeds in plan] == [("2x", ["sc_rpn"], (0,))]
    assert plan[0][0].run_name("sc_rpn") == "s2x_sc_rpn"


def test_the_causes_table_reads_each_claim_where_its_phase_trains_it(tmp_path) -> None:
    """S* = 8x: Table I's lines read the converged profile (8x), the component claims' lines phase
    3's 4x runs, DeepForest's line waits for DeepForest's own S*; a run two lines name (SC-RPN's
    8x seeds: the curve's `s8x_sc_rpn`, Table I's `sc_rpn` at converged) costs once."""
    import shutil
    from dataclasses import replace
    from pathlib import Path

    from scrpn.study.causes import WAITING, causes_table
    from scrpn.study.runs import Study
    from test_causes import fake_run

    root = Path(__file__).resolve().parents[1]
    configs = tmp_path / "configs"
    shutil.copytree(root / "configs", configs)
    (configs / "converged" / "_base.yaml").write_text("_base_: 8x.yaml\n")
    mini = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path / "results", config_root=configs,
                 train_missing=False, log=lambda message: None)
    at = {f: replace(mini, profile=f"{f}x") for f in (2, 4, 8, 16)}
    # the curve, seed 0: every doubling up to 8x moves both methods by more than 1.0 -> S* = 8x
    for factor, (rpn, sc) in {1: (40.0, 60.0), 2: (45.0, 63.0), 4: (50.0, 65.0), 8: (52.0, 67.0),
                              16: (54.0, 68.0)}.items():
        study = mini if factor == 1 else at[factor]
        if factor == 4:     # RPN's 4x rung is experiment 2's control, costed there
            fake_run(mini, "x2g2c_rpn_4x", 0, rpn, wall_seconds=400.0)
        else:
            fake_run(study, "rpn", 0, rpn, wall_seconds=100.0 * factor)
        fake_run(study, "sc_rpn", 0, sc, wall_seconds=200.0 * factor)
    for seed in (1, 2):                             # SC-RPN's 8x seeds (phase 2) and 4x seeds (phase 3)
        fake_run(at[8], "sc_rpn", seed, 67.0 + seed, wall_seconds=1600.0)
        fake_run(at[4], "sc_rpn", seed, 65.0 + seed, wall_seconds=800.0)
    for seed in (0, 1, 2):
        fake_run(at[4], "t3_sads", seed, 64.0 + seed, wall_seconds=700.0)
    frame = causes_table(mini).set_index("arm")
    ten = frame[frame["experiment"] == 10]
    # the IoU mask claim reads SC-RPN at 4x (65, 66, 67), not its 8x seeds (67, 68, 69)
    mask = ten.loc["S* mask"]
    assert mask["seeds"] == 3 and mask["AR1000_mean"] == pytest.approx(66.0)
    assert mask["delta_AR1000"] == pytest.approx(1.0) and mask["status"] == "done"
    assert ten.loc["S* Table I sc_rpn>rpn"]["AR1000_mean"] == pytest.approx(68.0)
    assert ten.loc["S* PosR"]["status"] == "not run"           # t3_sads at 4x is there, t4_maxiou_sat not
    assert ten.loc["S* DF"]["status"] == WAITING
    # every run once: the curve's 1x rows are the mini runs and RPN's 4x rung experiment 2's (not
    # this experiment's cost); 2x-16x seed 0 of both less that control (9,000 - 400 = 8,600 s),
    # SC-RPN's 8x seeds 1-2 (3,200 s), its 4x seeds 1-2 (1,600 s), t3_sads at 4x (2,100 s): 15,500 s
    # (keyed by the arm's row and profile, SC-RPN's and RPN's 8x runs counted twice)
    assert ten["machine_hours"].sum() * 3600 == pytest.approx(15500.0)
