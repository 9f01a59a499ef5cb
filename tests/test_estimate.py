"""``scrpn study --estimate``: the plan's machine hours, on a fixed bench worked out by hand."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn.study import Study
from scrpn.study.estimate import EVAL_OVERHEAD, bench_key, estimate_plan

ROOT = Path(__file__).resolve().parents[1]


def test_estimate_by_hand(tmp_path):
    study = Study(profile="mini", seeds=(0, 1), results_dir=tmp_path, config_root=ROOT / "configs")
    calls = []

    def bench(cfg):
        calls.append(cfg.name)
        return (0.5, 0.1) if cfg.model.head.num_stages == 2 else (0.25, 0.05)

    # sc_rpn and its test variant share a training (and a bench); rpn is another method
    est = estimate_plan(study, ["rpn", "sc_rpn", "t6_with_sads_cls_notest"], bench)
    assert len(calls) == 2
    images = 500
    rpn = 700 * 0.25 + images * 0.05 * EVAL_OVERHEAD
    sc = 700 * 0.5 + images * 0.1 * EVAL_OVERHEAD
    variant_eval = images * 0.1 * EVAL_OVERHEAD        # t6_with_sads_cls is sc_rpn's training
    expected = 2 * (rpn + sc + variant_eval)
    assert est.runs == 6 and est.missing_runs == 6
    assert est.scratch_seconds == pytest.approx(expected)
    assert est.missing_seconds == pytest.approx(expected)   # nothing cached in tmp_path
    assert est.scratch_hours == pytest.approx(expected / 3600)


def test_a_test_variant_shares_its_rows_training_and_cached_runs_cost_nothing():
    study = Study(profile="mini", seeds=(0,), config_root=ROOT / "configs")   # the committed runs
    est = estimate_plan(study, ["t6_with_sads_cls", "t6_with_sads_cls_notest"], lambda cfg: (1.0, 1.0))
    assert est.missing_runs == 0 and est.missing_seconds == 0.0
    # from scratch: one training (700 s) and two evaluations (500 images each)
    assert est.scratch_seconds == pytest.approx(700 + 2 * 500 * EVAL_OVERHEAD)


def test_bench_key_ignores_loss_weights_and_test_settings():
    study = Study(profile="mini", config_root=ROOT / "configs")
    assert bench_key(study.config("t6_with_sads_cls")) == bench_key(study.config("t6_with_sads_cls_notest"))
    assert bench_key(study.config("rpn")) != bench_key(study.config("sc_rpn"))


def test_cli_estimate_trains_nothing(tmp_path, monkeypatch, capsys):
    import json

    from scrpn.cli import main
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SCRPN_WORK_DIR", str(tmp_path / "work"))
    assert main(["study", "rpn", "--profile", "smoke", "--estimate",
                 "--results-dir", str(tmp_path / "results")]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["runs"] == 1 and out["missing_runs"] == 1
    assert 0 < out["missing_machine_seconds"] == out["from_scratch_machine_seconds"]
    assert not (tmp_path / "results" / "runs").exists() and not (tmp_path / "work").exists()


def test_cli_study_keeps_its_checkpoints_in_scrpn_work_dir(tmp_path, monkeypatch):
    """``$SCRPN_WORK_DIR`` moves the study's checkpoints (docs/configs.md), for ``scrpn study`` as for
    the notebooks (scripts/speed_check.sh retrains rows beside the committed ones this way)."""
    from scrpn.cli import main
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SCRPN_WORK_DIR", str(tmp_path / "work"))
    assert main(["study", "rpn", "--profile", "smoke", "--results-dir", str(tmp_path / "results")]) == 0
    runs = list((tmp_path / "work" / "study").glob("train-*/seed0/final.pth"))
    assert len(runs) == 1
    record = json.loads((tmp_path / "results" / "runs" / "rpn" / "seed0" / "metrics.json").read_text())
    assert Path(record["checkpoint"]).resolve() == runs[0].resolve()


def test_recorded_bench_reads_the_fastest_seed_of_the_same_row(tmp_path):
    """A rung's run (s4x_rpn) is timed by the mini row's records: the fastest seed's training
    seconds per iteration (220 / 700 = 0.3143 beats 1015 / 700) and seconds per image."""
    from scrpn.study.estimate import recorded_bench

    for seed, (train, per_image) in enumerate([(1015.0, 0.27), (220.0, 0.05), (230.0, 0.06)]):
        run = tmp_path / "runs" / "rpn" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"train_seconds": train, "iterations": 700,
                                                      "seconds_per_image": per_image}))
    fallback_calls = []
    bench = recorded_bench(tmp_path, lambda cfg: fallback_calls.append(cfg.name) or (9.0, 9.0))
    four = Study(profile="4x", config_root=ROOT / "configs")
    step, image = bench(four.config("rpn"))
    assert step == pytest.approx(220.0 / 700) and image == pytest.approx(0.05)
    assert not fallback_calls
    assert bench(four.config("sc_rpn")) == (9.0, 9.0) and fallback_calls == ["s4x_sc_rpn"]
    # the plan: 2,800 iterations at the recorded rate plus 500 images
    est = estimate_plan(Study(profile="4x", seeds=(0,), results_dir=tmp_path / "none",
                              config_root=ROOT / "configs"), ["rpn"], bench)
    assert est.scratch_seconds == pytest.approx(2800 * 220.0 / 700 + 500 * 0.05 * EVAL_OVERHEAD)
