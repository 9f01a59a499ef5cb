"""The causes table is read from cached runs (hand-made here) and trains nothing."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from scrpn.study import Study
from scrpn.study.causes import ARMS, causes_table, summary, write_causes
from scrpn.study.runs import config_fingerprint

ROOT = Path(__file__).resolve().parents[1]


def fake_run(study: Study, row: str, seed: int, ar1000: float, **extra) -> None:
    out = study.run_dir(row, seed)
    out.mkdir(parents=True, exist_ok=True)
    record = {"name": row, "seed": seed, "AR100": ar1000 - 5, "AR1000": ar1000, "AR_S": ar1000 - 10,
              "config_fingerprint": config_fingerprint(study.config(row, seed)), **extra}
    (out / "metrics.json").write_text(json.dumps(record))


def test_arms_from_cached_runs(tmp_path: Path) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the causes table must not train")

    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    study._compute = refuse  # type: ignore[method-assign]
    for seed, (aware, cls_only) in enumerate([(61.1, 61.2), (61.6, 61.5), (60.8, 60.8)]):
        fake_run(study, "x3_mask_test_only", seed, aware, iou_mask_spearman=0.3, wall_seconds=1800.0,
                 cpu_seconds=3600.0)
        fake_run(study, "x3_mask_test_only_notest", seed, cls_only, wall_seconds=200.0, cpu_seconds=400.0)
    for seed, value in enumerate([43.0, 43.5, 43.4]):
        fake_run(study, "rpn", seed, value)
    fake_run(study, "x1a_cascade_mmdet_norm", 0, 45.0)
    # arm A's seed 0 missed 2 of its 4 objects at IoU 0.3: areas 100, 400, 2500, 1000 (three small,
    # one medium); missed: the first small one and the slender one (10:1, also small)
    np.savez(study.run_dir("x1a_cascade_mmdet_norm", 0) / "proposal_stats.npz",
             gt_wh=np.array([[10, 10], [20, 20], [50, 50], [100, 10]], dtype=np.float32),
             best_iou_1000=np.array([0.1, 0.5, 0.6, 0.2], dtype=np.float32))
    frame = causes_table(study).set_index("arm")
    assert len(frame) == len(ARMS)
    m2 = frame.loc["M2"]
    assert m2["seeds"] == 3 and m2["status"] == "done"
    assert m2["AR1000_mean"] == pytest.approx((61.1 + 61.6 + 60.8) / 3)
    # paired over seeds: differences -0.1, +0.1, 0.0 -> mean 0, sd 0.1, se 0.1 / sqrt(3)
    assert m2["delta_AR1000"] == pytest.approx(0.0, abs=1e-9)
    assert m2["se"] == pytest.approx(0.1 / math.sqrt(3))
    assert not m2["resolved"] and m2["spearman"] == pytest.approx(0.3)
    assert m2["verdict"] == "pending"                       # M1 and M3 have no runs yet
    # the arm's training runs and its classification-only scorings: 3 x 1800 s + 3 x 200 s
    assert m2["machine_hours"] == pytest.approx(6000 / 3600) and m2["cpu_hours"] == pytest.approx(12000 / 3600)
    assert "Its runs so far: 1.7 machine hours, 3.3 CPU-hours." in summary(frame.reset_index())
    assert frame.loc["A"]["machine_hours"] == 0.0     # rpn, its reference, is the first study's
    assert frame.loc["A"]["status"] == "1 of 3 seeds" and frame.loc["A"]["verdict"] == "pending"
    assert frame.loc["E"]["status"] == "not run" and frame.loc["M3"]["status"] == "not run"
    fake_run(study, "x1e_cascade_4x", 0, 44.0)       # arm E is registered with one seed
    assert causes_table(study).set_index("arm").loc["E"]["status"] == "done"
    a = frame.loc["A"]
    assert (a["missed_all"], a["missed_M"], a["missed_slender"]) == (0.5, 0.0, 1.0)
    assert a["missed_S"] == pytest.approx(2 / 3)
    assert math.isnan(a["missed_L"]) and math.isnan(m2["missed_all"])      # no large object; no stats
    assert m2["figures"] == "causes_ar1000.png;causes_missed_3.png;causes_fig7_M2.png"
    # once a rule has its verdict, an arm it did not need says so instead of "not run"
    for seed, value in enumerate([51.2, 50.5, 51.8]):
        fake_run(study, "x1a_cascade_mmdet_norm", seed, value,
                 diagnostics={"diag_s1_pos_iou": {"last": 0.66}, "diag_s1_prior_iou": {"last": 0.51}})
    decided = causes_table(study).set_index("arm")
    assert decided.loc["A"]["verdict"].startswith("reproduces once faithful: arm A")
    assert decided.loc["B"]["status"] == "not needed (verdict read)" and decided.loc["E"]["status"] == "done"
    path = write_causes(frame.reset_index(), tmp_path / "tables")
    assert path.read_text().splitlines()[0].startswith("arm,experiment,claim")


def test_an_arm_is_as_far_as_the_rows_it_trains(tmp_path: Path) -> None:
    """L2 compares the first study's ``t3_iou_loss`` (cached, ``diag_t3_iou_loss_lr001`` since
    experiment 6) with the new ``x5l2_two_stage_iou``:
    not run until that reference is. A scoring arm waits for both of its rows."""
    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    for seed in range(3):
        fake_run(study, "diag_t3_iou_loss_lr001", seed, 49.7)
        fake_run(study, "x3_mask_test_only", seed, 61.0)
    status = lambda arm: causes_table(study).set_index("arm").loc[arm]["status"]  # noqa: E731
    assert status("L2") == "not run"
    assert status("M2") == "not run"
    fake_run(study, "x5l2_two_stage_iou", 0, 47.0)
    fake_run(study, "x3_mask_test_only_notest", 0, 61.0)
    assert status("L2") == "1 of 3 seeds"
    assert status("M2") == "1 of 3 seeds of `x3_mask_test_only_notest`"
    for seed in (1, 2):
        fake_run(study, "x5l2_two_stage_iou", seed, 47.0)
    assert status("L2") == "done"


def test_verdicts_wait_for_a_missing_reference_instead_of_failing() -> None:
    """Every rule reads 'pending' (never raises) when one of the rows it reads has no run yet, e.g.
    a results folder where the arms are in but RPN or the first study's row is not."""
    from scrpn.study.experiments import REGISTRY, experiment_verdicts

    rows = {a.row for a in ARMS if a.row} | {a.reference for a in ARMS}
    record = {"AR1000": 40.0, "AP": 5.0, "iou_mask_spearman": 0.3,
              "diagnostics": {"diag_s1_pos_iou": {"last": 0.6}, "diag_s1_prior_iou": {"last": 0.5}}}
    for missing in sorted(rows):
        def runs(row: str) -> list[dict]:
            return [] if row == missing else [dict(record, AR1000=40.0 + seed) for seed in range(3)]
        verdicts = experiment_verdicts(lambda experiment: runs)
        assert set(verdicts) == set(REGISTRY) == set(range(1, 11)), missing
    empty = experiment_verdicts(lambda experiment: lambda row: [])
    assert set(empty.values()) == {"pending", "pending: phase 1 needs the 1x rung"}   # 10: the mini runs


def test_posr_rounded_row_follows_the_better_stage1_arm() -> None:
    from scrpn.study.experiments.e4_posr import rounded_row as posr_rounded_row

    def diag(gap: float) -> dict:
        return {"AR1000": 60.0, "diagnostics": {"diag_s1_pos_iou": {"last": 0.5 + gap},
                                                "diag_s1_prior_iou": {"last": 0.5}}}
    gaps = {"x4s1_sads_unitbox": 0.06, "x4s1_maxiou_sat_unitbox": 0.06, "x4s2_sads_w2": 0.09,
            "x4s2_maxiou_sat_w2": 0.07}
    assert posr_rounded_row(lambda row: [diag(gaps[row])] * 3 if row in gaps else []) == "x4r_sads_rounded_w2"
    gaps.update(x4s2_sads_w2=0.01, x4s2_maxiou_sat_w2=0.01)        # S2's stage 1 does not learn
    assert posr_rounded_row(lambda row: [diag(gaps[row])] * 3 if row in gaps else []) == "x4r_sads_rounded_unitbox"
    assert posr_rounded_row(lambda row: [diag(gaps[row])] * 2 if row in gaps else []) is None   # seeds missing


def test_each_arm_costs_the_rows_it_added() -> None:
    """An arm's CPU-time line counts the runs it added: its cause rows, never the first study's
    (RPN, Table III's rows), and on DeepForest the row experiment 9 trained under Table X's name."""
    arm = {(a.experiment, a.arm): a for a in ARMS}
    assert arm[1, "today"].cost_rows == ()                     # the first study's runs, kept as diag_
    assert arm[1, "A"].cost_rows == ("x1a_cascade_mmdet_norm",)
    assert arm[3, "M2"].cost_rows == ("x3_mask_test_only", "x3_mask_test_only_notest")
    assert arm[5, "L2"].cost_rows == ("x5l2_two_stage_iou",)   # the first study's t3_iou_loss, kept as diag_
    assert arm[6, "today"].cost_rows == ()
    assert arm[9, "DF A"].cost_rows == ("cascade_rpn",)
    assert arm[9, "DF P1"].cost_rows == ("t3_point", "t3_iou_loss")   # both DeepForest rows are new
    assert arm[9, "DF first study"].cost_rows == ()


def test_a_row_shared_by_arms_is_costed_once(tmp_path: Path) -> None:
    """Experiment 7's RPN in the paper's geometry is the row of one arm and the reference of four:
    the experiment's CPU-time line counts its run once (hand-made: 1,000 s and 2,000 CPU-s per run,
    SC-RPN's in two parts)."""
    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    fake_run(study, "x7_rpn", 0, 50.0, wall_seconds=1000.0, cpu_seconds=2000.0)
    # SC-RPN's run was stopped once: the resuming process adds the earlier part's training seconds
    fake_run(study, "x7_sc_rpn", 0, 50.0, wall_seconds=600.0, cpu_seconds=1100.0,
             earlier_wall_seconds=400.0, earlier_cpu_seconds=900.0)
    frame = causes_table(study)
    seven = frame[frame["experiment"] == 7].set_index("arm")
    assert seven.loc["RPN"]["machine_hours"] == pytest.approx(1000 / 3600)
    assert seven.loc["SC-RPN"]["machine_hours"] == pytest.approx(1000 / 3600)   # its own run only
    assert seven.loc["Cascade RPN"]["machine_hours"] == 0.0
    assert seven["cpu_hours"].sum() == pytest.approx(4000 / 3600)


def test_regime_runs_pair_table_one_rows_with_their_paper_geometry_rows(tmp_path: Path) -> None:
    from scrpn.study.causes import figure_names
    from scrpn.study.experiments.e7_geometry import regime_runs

    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    for seed, ar in enumerate((43.0, 44.0)):
        fake_run(study, "rpn", seed, ar)
    fake_run(study, "x7_rpn", 0, 54.0)
    fake_run(study, "x7_cascade_rpn", 0, 68.0)
    mini, paper = regime_runs(study)
    assert list(mini) == list(paper) == ["rpn", "iterative_rpn", "ga_rpn", "cascade_rpn", "sc_rpn"]
    assert mini["rpn"] == [43.0, 44.0] and mini["cascade_rpn"] == []
    assert paper["rpn"] == [54.0] and paper["cascade_rpn"] == [68.0] and paper["sc_rpn"] == []
    seven = next(a for a in ARMS if a.experiment == 7)
    assert "causes_regime_7.png" in figure_names(seven)


def test_experiment7_asks_three_seeds_once_its_verdict_reads_regime_dependent(tmp_path: Path) -> None:
    from scrpn.study.experiments import registered_seeds

    assert registered_seeds("x7_rpn") == 1 and registered_seeds("x2g2_ga_rpn_4x") == 1
    assert registered_seeds("x7_rpn", {7: "regime-dependent: cascade_rpn above RPN in the paper's geometry"}) == 3
    assert registered_seeds("x7_rpn", {7: "robust to geometry"}) == 1
    # the first study's detectors, read by experiment 8 (Table II trains one seed per detector row)
    assert registered_seeds("det_faster_rcnn_rpn") == 1 and registered_seeds("x1a_cascade_mmdet_norm") == 3
    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    mini = {"rpn": 43.3, "iterative_rpn": 44.8, "ga_rpn": 30.7, "cascade_rpn": 51.2, "sc_rpn": 60.6}
    for row, ar in mini.items():
        for seed in range(3):
            fake_run(study, row, seed, ar)
    for row, ar in {**mini, "rpn": 53.8, "cascade_rpn": 68.3}.items():   # Cascade RPN 14.5 above RPN
        fake_run(study, f"x7_{row}", 0, ar)
    seven = causes_table(study).query("experiment == 7").set_index("arm")
    assert set(seven["verdict"]) == {"regime-dependent: cascade_rpn above RPN in the paper's geometry"}
    assert all(status.startswith("1 of 3 seeds") for status in seven["status"])


def test_stage1_logs_read_each_experiment_rows_cached_logs(tmp_path: Path) -> None:
    from scrpn.study.causes import figure_names, stage1_logs

    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    for seed in (0, 1):
        fake_run(study, "x4s1_maxiou_sat_unitbox", seed, 61.0)
        (study.run_dir("x4s1_maxiou_sat_unitbox", seed) / "log.jsonl").write_text(
            json.dumps({"type": "train", "iter": 0, "diag_s1_pos_iou": 0.6 + seed, "diag_s1_prior_iou": 0.5}) + "\n")
    logs = stage1_logs(study, 4)
    assert list(logs) == ["x4s1_maxiou_sat_unitbox"]             # no other row of experiment 4 is cached
    assert [seed[0]["diag_s1_pos_iou"] for seed in logs["x4s1_maxiou_sat_unitbox"]] == [0.6, 1.6]
    s1 = next(a for a in ARMS if a.experiment == 4 and a.row == "x4s1_sads_unitbox")
    assert "causes_stage1_4.png" in figure_names(s1)
    m1 = next(a for a in ARMS if a.experiment == 3)
    assert not any(name.startswith("causes_stage1") for name in figure_names(m1))


def fake_detector(study: Study, row: str, ap: float, wall_seconds: float = 0.0) -> None:
    """Seed 0 of a detector row: box AP only (Tables II and IX train one seed per detector row),
    with two train records of the R-CNN head's losses."""
    out = study.run_dir(row, 0)
    out.mkdir(parents=True, exist_ok=True)
    record = {"name": row, "seed": 0, "AP": ap, "wall_seconds": wall_seconds,
              "config_fingerprint": config_fingerprint(study.config(row, 0))}
    (out / "metrics.json").write_text(json.dumps(record))
    (out / "log.jsonl").write_text("".join(
        json.dumps({"type": "train", "iter": i, "loss_rcnn_cls": 0.5 / i, "loss_rcnn_reg": 0.1}) + "\n"
        for i in (20, 40)))


def test_experiment8_arms_measure_the_detector_gap_in_box_ap(tmp_path: Path) -> None:
    """Experiment 8's arms are the detector gap (SC-RPN's detector minus RPN's, box AP, seed 0) at
    the mini schedule and at 3x. Hand-made: today 13.6 - 4.4 = +9.2, at 3x 12.0 - 6.5 = +5.5; the
    3x gap is |9.2 - 4.0| - |5.5 - 4.0| = 3.7 AP closer to the paper's +4.0, so it shrinks."""
    from scrpn.study.causes import detector_logs, figure_names

    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    fake_detector(study, "det_faster_rcnn_rpn", 4.4)
    fake_detector(study, "det_faster_rcnn_sc_rpn", 13.6)
    eight = causes_table(study).query("experiment == 8").set_index("arm")
    assert list(eight.index) == ["today", "3x"] and set(eight["metric"]) == {"AP"}
    today = eight.loc["today"]
    assert today["delta_AP"] == pytest.approx(9.2) and today["AP_mean"] == pytest.approx(13.6)
    assert math.isnan(today["delta_AR1000"]) and math.isnan(today["se"]) and not today["resolved"]
    assert today["status"] == "done" and today["machine_hours"] == 0.0      # the first study's Table II runs
    assert eight.loc["3x"]["status"] == "not run" and today["verdict"] == "pending"
    fake_detector(study, "x8_det_faster_rcnn_rpn_3x", 6.5, wall_seconds=1800.0)
    fake_detector(study, "x8_det_faster_rcnn_sc_rpn_3x", 12.0, wall_seconds=1800.0)
    frame = causes_table(study)
    eight = frame.query("experiment == 8").set_index("arm")
    longer = eight.loc["3x"]
    assert longer["delta_AP"] == pytest.approx(5.5) and longer["status"] == "done"
    assert longer["machine_hours"] == pytest.approx(1.0)
    assert longer["verdict"] == "shrinks toward the paper's gap"
    assert longer["figures"] == "causes_detectors_8.png"
    assert figure_names(next(a for a in ARMS if a.experiment == 8)) == ["causes_detectors_8.png"]
    assert "AP 12.0, Δ vs `x8_det_faster_rcnn_rpn_3x` +5.50 (done)" in summary(frame)
    logs = detector_logs(study)
    assert list(logs) == ["det_faster_rcnn_rpn", "det_faster_rcnn_sc_rpn", "x8_det_faster_rcnn_rpn_3x",
                          "x8_det_faster_rcnn_sc_rpn_3x"]
    assert [r["iter"] for r in logs["x8_det_faster_rcnn_sc_rpn_3x"]] == [20, 40]


def test_regime_pairs_tabulates_experiment7s_follow_up_by_hand(tmp_path: Path) -> None:
    """Seeds x-1, x, x+1 have sd 1, so every Δ of two rows has se sqrt(1/3 + 1/3) = 0.816 and is
    resolved at 2.5 se from |Δ| >= 2.04. RPN - Cascade RPN: mini 44 - 51 = -7, paper 61 - 56 = +5,
    opposite signs, both resolved: the only changed pair (the others are 10 or more apart in the
    same order in both geometries)."""
    from scrpn.study.experiments.e7_geometry import regime_pairs

    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    for seed, offset in enumerate((-1.0, 0.0, 1.0)):
        fake_run(study, "rpn", seed, 44 + offset)
        fake_run(study, "cascade_rpn", seed, 51 + offset)
        fake_run(study, "x7_rpn", seed, 61 + offset)
        fake_run(study, "x7_cascade_rpn", seed, 56 + offset)
    pairs, reading = regime_pairs(study)
    assert reading == "pending"
    line = pairs.set_index(["a", "b"]).loc[("rpn", "cascade_rpn")]
    assert line["mini_delta"] == pytest.approx(-7.0) and line["paper_delta"] == pytest.approx(5.0)
    assert line["mini_se"] == pytest.approx((2 / 3) ** 0.5) and line["paper_seeds"] == 3
    assert line["status"] == "changed"
    sc = pairs.set_index(["a", "b"]).loc[("rpn", "sc_rpn")]
    assert sc["status"] == "pending" and sc["mini_seeds"] == 0 and math.isnan(sc["mini_delta"])
    for row, ar in {"iterative_rpn": 21.0, "ga_rpn": 11.0, "sc_rpn": 81.0}.items():
        for seed, offset in enumerate((-1.0, 0.0, 1.0)):
            fake_run(study, row, seed, ar + offset)
            fake_run(study, f"x7_{row}", seed, ar + offset)
    pairs, reading = regime_pairs(study)
    assert len(pairs) == 10 and reading == "the ranking changes: rpn / cascade_rpn"
    assert (pairs["status"] == "kept").sum() == 9


def test_an_experiment_runs_its_registered_stages_in_order(tmp_path: Path) -> None:
    """``scrpn study --experiment N`` (``run_experiment``): each stage's rows and seeds from the
    record, dropped stages skipped, a stage chosen from earlier runs read from the cache; cached
    runs are not trained again (hand-made runs, training refused)."""
    from scrpn.cli import main
    from scrpn.study.experiments import REGISTRY, run_experiment

    def refuse(*args, **kwargs):
        raise AssertionError("every run here is cached")

    study = Study(profile="mini", seeds=[0], results_dir=tmp_path, config_root=ROOT / "configs",
                  train_missing=False, log=lambda message: None)
    study._compute = refuse  # type: ignore[method-assign]
    for row, ap in (("x8_det_faster_rcnn_rpn_3x", 6.5), ("x8_det_faster_rcnn_sc_rpn_3x", 12.0)):
        fake_run(study, row, 0, 0.0, AP=ap)
    said: list[str] = []
    records = run_experiment(8, study, log=said.append)
    assert [(r["name"], r["seed"]) for r in records] == [("x8_det_faster_rcnn_rpn_3x", 0),
                                                         ("x8_det_faster_rcnn_sc_rpn_3x", 0)]
    assert said == ["experiment 8, stage x8: x8_det_faster_rcnn_rpn_3x x8_det_faster_rcnn_sc_rpn_3x, seeds [0]"]
    # experiment 4's last stage is chosen from the S arms' runs: none cached, so it is skipped
    four = REGISTRY[4]
    rounded = next(stage for stage in four.stages if callable(stage.rows))
    assert rounded.rows(lambda row: []) == []
    # experiment 1's arms B-E were dropped by its amendment: the plan keeps them, and skips them
    dropped = [stage.name for stage in REGISTRY[1].stages if stage.dropped]
    assert dropped == ["x1b", "x1c", "x1d", "x1e"]
    assert main(["study", "--experiment", "11", "--results-dir", str(tmp_path)]) == 2


def test_runs_at_another_profile_are_read_by_their_run_names(tmp_path: Path) -> None:
    """A profile-level experiment (issue 38's experiment 10) reads a schedule rung's runs by their
    names (``s4x_rpn``: ``rpn`` at 4x) beside the study's own rows, and an arm may name its own
    profile; one reader per profile (hand-made runs)."""
    from scrpn.study.experiments import REGISTRY, Arm, experiment_runs, run_study

    mini = Study(profile="mini", seeds=[0], results_dir=tmp_path, config_root=ROOT / "configs",
                 train_missing=False, log=lambda message: None)
    rung = Study(profile="4x", seeds=[0], results_dir=tmp_path, config_root=ROOT / "configs",
                 train_missing=False, log=lambda message: None)
    fake_run(mini, "rpn", 0, 43.0)
    fake_run(rung, "rpn", 0, 53.0)
    assert rung.run_dir("rpn", 0) == tmp_path / "runs" / "s4x_rpn" / "seed0"
    sub, row = run_study(mini, "s4x_rpn")
    assert (sub.profile, row) == ("4x", "rpn") and run_study(mini, "x7_rpn") == (mini, "x7_rpn")
    runs_of = experiment_runs(mini)
    runs = runs_of(REGISTRY[1])
    assert [r["AR1000"] for r in runs("rpn")] == [43.0] and [r["AR1000"] for r in runs("s4x_rpn")] == [53.0]
    at_4x = Arm("4x", "RPN at 4x", "rpn", "rpn", profile="4x")
    assert [r["AR1000"] for r in runs_of(at_4x)("rpn")] == [53.0]


def test_an_arm_whose_profile_is_chosen_by_the_runs_reads_each_folder_once(tmp_path: Path, monkeypatch) -> None:
    """An arm's profile may be a function of the cached runs (experiment 10's phases 3 and 4):
    ``ExperimentRuns.study_of`` resolves it as ``experiment_study`` does, through the same memo
    as the runs, so a causes table of many such arms builds one reader per dataset and profile
    (before, each arm read the mini folder again to choose its profile). Hand-made runs: RPN
    43.0 at mini, 53.0 at 4x; the profile function names 4x once ``s4x_rpn`` exists."""
    from scrpn.study import experiments
    from scrpn.study.experiments import Arm, experiment_runs, experiment_study

    mini = Study(profile="mini", seeds=[0], results_dir=tmp_path, config_root=ROOT / "configs",
                 train_missing=False, log=lambda message: None)
    rung = Study(profile="4x", seeds=[0], results_dir=tmp_path, config_root=ROOT / "configs",
                 train_missing=False, log=lambda message: None)
    fake_run(mini, "rpn", 0, 43.0)

    def chosen(runs) -> object:
        return "4x" if runs("s4x_rpn") else None

    arm = Arm("4x", "RPN where its phase trains it", "rpn", "rpn", profile=chosen)
    assert experiment_study(mini, arm) is None and experiment_runs(mini).study_of(arm) is None
    assert experiment_runs(mini)(arm)("rpn") == []                      # pending: reads nothing
    fake_run(rung, "rpn", 0, 53.0)
    assert experiment_study(mini, arm).profile == "4x"
    built = []
    real = experiments.named_runs
    monkeypatch.setattr(experiments, "named_runs", lambda study: built.append(study.profile) or real(study))
    runs_of = experiment_runs(mini)
    for _ in range(5):
        assert runs_of.study_of(arm).profile == "4x"
        assert [r["AR1000"] for r in runs_of(arm)("rpn")] == [53.0]
    assert built == ["mini", "4x"]                  # one reader each: the profile's input, the runs


def test_each_row_is_named_once_in_the_experiments() -> None:
    """Issue 35: an experiment's rows are written once, in its own module of the registry
    (``scrpn/study/experiments/``); the causes table, the rules, the prose and the run order read
    them from there. A row name (any config of the mini profile, or a test variant of one) that
    appears as a string twice in the package fails here."""
    import ast
    from collections import Counter

    from scrpn.study.runs import TEST_VARIANTS

    rows = {p.stem for p in (ROOT / "configs" / "mini").rglob("*.yaml")
            if not p.stem.startswith("_") and p.parent.name != "datasets"}
    names = rows | {f"{row}_{variant}" for row in rows for variant in TEST_VARIANTS}
    seen: Counter = Counter()
    for path in sorted((ROOT / "scrpn" / "study" / "experiments").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names:
                seen[node.value] += 1
    assert "x7_rpn" in seen and "rpn" in seen and "sc_rpn_notest" in seen   # the scan sees the rows
    assert sorted(row for row, n in seen.items() if n > 1) == []


def test_experiment10_trains_phase_1_rung_by_rung_and_waits_for_s_star(tmp_path: Path, monkeypatch,
                                                                       capsys) -> None:
    """Experiment 10 (issue 38) before S* is chosen (no ``configs/converged/_base.yaml``): the
    causes table, the plan and ``--estimate`` read without failing, its arms at S* show as
    pending, and ``run_experiment`` trains phase 1's rungs in order until the S* rule is decided,
    then waits. Training is replaced by hand-made runs (AR1000 by hand: 1x 43.0 / 60.0, 2x 49.0 /
    62.0: moves +6.0 and +2.0, undecided; RPN 4x is experiment 2's control, 49.5; SC-RPN 4x
    62.5: moves +0.5 and +0.5, so S* = 2x and 8x is never trained)."""
    import shutil
    from dataclasses import replace

    from scrpn.cli import main
    from scrpn.study.causes import WAITING
    from scrpn.study.experiments import REGISTRY, RUN_ORDER, experiment_plan, run_experiment
    from scrpn.study.experiments.e10_converged import CLAIMS, COMPONENT_ROWS, TABLE_I_ROWS

    assert RUN_ORDER[-2:] == (7, 10) and 10 in REGISTRY
    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    (configs / "converged" / "_base.yaml").unlink(missing_ok=True)
    study = Study(profile="mini", seeds=[0, 1, 2], results_dir=tmp_path / "results", config_root=configs,
                  train_missing=False, log=lambda message: None)
    fake_run(study, "rpn", 0, 43.0)
    fake_run(study, "sc_rpn", 0, 60.0)
    fake_run(study, "x2g2c_rpn_4x", 0, 49.5)
    fake_run(study, "rpn", 1, 44.0)       # mini seeds 1-2 (mean 44.0): the curve reads seed 0 only
    fake_run(study, "rpn", 2, 45.0)
    trained: list[tuple[str, int]] = []
    later = {"s2x_rpn": 49.0, "s2x_sc_rpn": 62.0, "s4x_sc_rpn": 62.5}

    def train(self: Study, row: str, seed: int) -> dict:
        trained.append((self.run_name(row), seed))
        fake_run(self, row, seed, later[self.run_name(row)])
        return self.cached(row, seed)

    monkeypatch.setattr(Study, "_compute", train)
    frame = causes_table(study).set_index("arm")
    ten = frame[frame["experiment"] == 10]
    assert set(ten["verdict"]) == {"pending: phase 1 needs the 2x rung"}
    assert ten.loc["RPN 4x"]["row"] == "x2g2c_rpn_4x" and ten.loc["RPN 4x"]["status"] == "done"
    assert ten.loc["SC-RPN 2x"]["status"] == "not run"
    at_s = ten[ten["variant"].isin([c.name for c in CLAIMS])]
    assert len(at_s) == len(CLAIMS) == 15 and set(at_s["status"]) == {WAITING}
    assert f"S* DF (DeepForest: Cascade RPN above RPN): {WAITING}" in summary(frame.reset_index())
    said: list[str] = []
    plan = experiment_plan(10, study, log=said.append)
    assert [(sub.profile, rows, seeds) for sub, rows, seeds in plan] == [("2x", ["rpn", "sc_rpn"], (0,))]
    assert said[-1].startswith("experiment 10, stage x10_table1 and every later stage: waiting (")
    run_experiment(10, replace(study, train_missing=True), log=lambda message: None)
    assert trained == [("s2x_rpn", 0), ("s2x_sc_rpn", 0), ("s4x_sc_rpn", 0)]
    decided = causes_table(study).set_index("arm")
    assert decided.loc["SC-RPN 4x"]["delta_AR1000"] == pytest.approx(0.5)
    # Δ vs the rung below is seed 0 against seed 0, as the rule reads it: 49.0 - 43.0, not - 44.0
    assert decided.loc["RPN 2x"]["delta_AR1000"] == pytest.approx(6.0)
    assert decided.loc["SC-RPN 8x"]["status"] == "not run"
    assert decided.loc["RPN 2x"]["verdict"] == f"pending: S* = 2x (converged); 0 of {len(CLAIMS)} claims read"
    assert decided.loc["S* PosR"]["status"] == WAITING
    # the commit that chooses S* (configs/converged/_base.yaml) opens phases 2 and 3 at 2x
    (configs / "converged" / "_base.yaml").write_text("_base_: 2x.yaml\n")
    plan = experiment_plan(10, study, log=lambda message: None)
    assert [(sub.profile, sub.schedule_rung(), tuple(rows)) for sub, rows, _ in plan] == [
        ("converged", "2x", TABLE_I_ROWS), ("converged", "2x", COMPONENT_ROWS)]
    chosen = causes_table(study).set_index("arm")
    pair = chosen.loc["S* Table I sc_rpn>rpn"]
    assert pair["AR1000_mean"] == pytest.approx(62.0) and pair["status"] == "1 of 3 seeds of `rpn`"
    # --estimate prices what it would train now (a stub bench: 0.1 s/iter, 0.01 s/image)
    (configs / "converged" / "_base.yaml").unlink()
    import scrpn.engine.bench as bench

    monkeypatch.setattr(bench, "benchmark", lambda cfgs, **kw: {"methods": {c.name: {
        "train_seconds_per_iter": 0.1, "infer_seconds_per_image": 0.01} for c in cfgs}})
    monkeypatch.chdir(tmp_path)
    shutil.rmtree(tmp_path / "results" / "runs" / "s4x_sc_rpn")
    capsys.readouterr()
    assert main(["study", "--experiment", "10", "--estimate", "--results-dir", "results",
                 "--seeds", "0", "1", "2"]) == 0
    estimate = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # only SC-RPN at 4x, seed 0: 2,800 iterations x 0.1 s, plus its evaluation
    assert (estimate["rows"], estimate["runs"], estimate["missing_runs"]) == (1, 1, 1)
    assert estimate["missing_machine_seconds"] >= 280.0
