"""scrpn.study.tables: every paper row is mapped, our mean / std / difference are exact."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from scrpn.study import Study
from scrpn.study.tables import NO_SADS_MINI_LR as NO_SADS
from scrpn.study.tables import TABLES, build_table, paper_table, readable, study_rows, write_table

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "results" / "paper"


@dataclass
class FakeStudy:
    """Answers ``runs`` from a dict {(row, seed): metrics}; records what was asked."""
    results: dict
    seeds: list = field(default_factory=lambda: [0, 1, 2])
    dataset: object = None
    results_dir: Path = Path("no-results-here")
    asked: list = field(default_factory=list)

    def runs(self, rows, seeds):
        self.asked.extend((row, s) for row in rows for s in seeds)
        return [self.results.get((row, s), {"name": row, "seed": s, "missing": True})
                for row in rows for s in seeds]


def test_every_table_matches_its_paper_transcription() -> None:
    for name, spec in TABLES.items():
        paper = paper_table(name, PAPER)
        assert len(spec.rows) == len(paper), name
        for metric in spec.metrics:
            assert metric in paper.columns, (name, metric)
        for row in study_rows(spec):   # a config file, or a test variant of one (<row>_notest)
            assert Study(profile="mini", config_root=ROOT / "configs").config(row).name == row, (name, row)


def test_the_shared_paper_tables_are_copied_unchanged() -> None:
    shared = ROOT.parent / "shared" / "paper" / "tables"
    if not shared.is_dir():
        pytest.skip("shared/paper/tables is not next to this checkout")
    for path in shared.glob("*.csv"):
        assert (PAPER / path.name).read_text() == path.read_text(), path.name


def test_mean_std_and_difference_are_exact(tmp_path: Path) -> None:
    spec = TABLES["table04_sads_combinations"]
    results = {(NO_SADS, 0): {"AR100": 50.0, "AR300": 60.0, "AR1000": 70.0},
               (NO_SADS, 1): {"AR100": 52.0, "AR300": 60.0, "AR1000": 74.0},
               (NO_SADS, 2): {"AR100": 54.0, "AR300": 60.0, "AR1000": 72.0},
               ("t4_maxiou_sat", 0): {"AR100": 40.0, "AR300": 41.0, "AR1000": 42.0}}
    frame = build_table(spec, FakeStudy(results), PAPER)
    first = frame.iloc[0]  # Max IoU / Max IoU: paper 56.1 / 62.7 / 66.7
    assert first["config"] == NO_SADS and first["seeds"] == 3 and first["pending"] == 0
    assert first["AR100_mean"] == pytest.approx(52.0) and first["AR100_std"] == pytest.approx(2.0)
    assert first["AR300_std"] == pytest.approx(0.0)
    assert first["AR1000_diff"] == pytest.approx(72.0 - 66.7)
    second = frame.iloc[1]  # one seed: std undefined; two seeds pending
    assert second["seeds"] == 1 and second["pending"] == 2 and math.isnan(second["AR100_std"])
    third = frame.iloc[2]  # nothing computed: NaN, not zero
    assert third["seeds"] == 0 and math.isnan(third["AR1000_mean"])
    path = write_table(frame, spec, tmp_path)
    assert path.name == "table04_sads_combinations.csv"
    back = pd.read_csv(path)
    assert back["AR1000_paper"].tolist() == [66.7, 69.6, 72.4]
    view = readable(frame, spec)
    assert view.loc[0, "AR100 ours"] == "52.0 ± 2.0" and view.loc[1, "AR100 ours"] == "40.0"
    assert "pending" in view.columns


def test_single_seed_tables_ask_for_the_first_seed_only() -> None:
    study = FakeStudy({})
    build_table(TABLES["table08_point_representation"], study, PAPER)
    assert {seed for _, seed in study.asked} == {0}


def test_cited_only_rows_are_not_run_and_time_is_read_from_seconds_per_image() -> None:
    study = FakeStudy({("rpn", s): {"AR100": 1.0, "seconds_per_image": 0.02 * (s + 1)} for s in range(3)})
    frame = build_table(TABLES["table01_proposals_coco"], study, PAPER)
    assert "SharpMask" not in {row for row, _ in study.asked}
    rpn = frame[frame["method"] == "RPN"].iloc[0]
    assert rpn["time_s_mean"] == pytest.approx(0.04) and rpn["time_s_paper"] == pytest.approx(0.04)
    assert frame[frame["method"] == "SharpMask"].iloc[0]["config"] == ""


def test_table_one_time_comes_from_the_one_process_benchmark(tmp_path: Path) -> None:
    import json

    from scrpn.study.tables import benchmark_times

    study = FakeStudy({("rpn", s): {"AR100": 1.0, "seconds_per_image": 9.0} for s in range(3)},
                      results_dir=tmp_path)
    bench = tmp_path / "bench" / "speed.json"
    bench.parent.mkdir()
    bench.write_text(json.dumps({"methods": {"rpn": {"infer_seconds_per_image": 0.05},
                                             "sc_rpn": {"infer_seconds_per_image": 0.07}}}))
    frame = build_table(TABLES["table01_proposals_coco"], study, PAPER).set_index("method")
    # the runs' own 9 s are ignored; one measurement, so no spread
    assert frame.loc["RPN", "time_s_mean"] == pytest.approx(0.05) and math.isnan(frame.loc["RPN", "time_s_std"])
    assert frame.loc["SC-RPN", "time_s_mean"] == pytest.approx(0.07)  # timed though not trained
    assert math.isnan(frame.loc["GA-RPN", "time_s_mean"])  # not in the benchmark: nothing shown
    assert frame.loc["RPN", "AR100_mean"] == pytest.approx(1.0)
    bench.write_text("{}")
    with pytest.raises(ValueError, match="speed.json"):
        benchmark_times(TABLES["table01_proposals_coco"], study)
    assert benchmark_times(TABLES["table03_components"], study) == {}


def test_deepforest_table_runs_on_its_dataset() -> None:
    from scrpn.study import Study

    seen = []

    class Recording(Study):
        def runs(self, rows, seeds=None):
            seen.append(self.dataset)
            return []

    build_table(TABLES["table10_proposals_imagenet_det"], Recording(profile="smoke"), PAPER)
    assert seen and set(seen) == {"deepforest"}


def test_runs_summary_lists_every_committed_run(tmp_path: Path) -> None:
    import json

    from scrpn.study.tables import runs_summary

    for name, seed, ar in (("rpn", 0, 40.0), ("rpn", 1, 42.0), ("sc_rpn", 0, 60.0)):
        run = tmp_path / "runs" / name / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"name": name, "seed": seed, "AR1000": ar,
                                                      "wall_seconds": 100.0 * (seed + 1)}))
    frame = runs_summary(tmp_path)
    assert frame[["name", "seed", "AR1000"]].values.tolist() == [["rpn", 0, 40.0], ["rpn", 1, 42.0],
                                                                ["sc_rpn", 0, 60.0]]
    assert frame["wall_seconds"].sum() == 400.0 and frame["AP"].isna().all()
    # a resumed run: its record adds the training seconds of the process it resumed from
    resumed = tmp_path / "runs" / "ga_rpn" / "seed0"
    resumed.mkdir(parents=True)
    (resumed / "metrics.json").write_text(json.dumps({"name": "ga_rpn", "seed": 0, "wall_seconds": 50.0,
                                                      "cpu_seconds": 90.0, "earlier_wall_seconds": 30.0,
                                                      "earlier_cpu_seconds": 55.0}))
    frame = runs_summary(tmp_path).set_index("name")
    assert frame.loc["ga_rpn", ["cost_seconds", "cost_cpu_seconds"]].tolist() == [80.0, 145.0]
    assert frame.loc["sc_rpn", "cost_seconds"] == 100.0   # a record from before the fields: its own
    assert runs_summary(tmp_path / "nothing").empty


def test_no_sads_reference_is_the_mini_lr_point_row() -> None:
    """Interpretation 31: Tables III and VIII read the point and IoU-loss rows at the paper's lr
    0.005, while Tables IV, VI and VII compare against the point row at the mini lr 0.01, the lr of
    every other row they hold, so that each of their steps changes one thing."""
    mini = Study(profile="mini", config_root=ROOT / "configs")
    lr = lambda row: mini.config(row).train.base_lr  # noqa: E731
    rows = {name: study_rows(spec) for name, spec in TABLES.items()}
    assert "t3_point" in rows["table03_components"] and "t3_point" in rows["table08_point_representation"]
    assert {lr(r) for r in rows["table08_point_representation"]} == {0.005}
    assert lr("t3_iou_loss") == lr("t3_point") == 0.005
    for table in ("table04_sads_combinations", "table06_iou_mask_training_samples",
                  "table07_iou_mask_feature_map"):
        assert "t3_point" not in rows[table] and "diag_t3_point_lr001" in rows[table]
        assert {lr(r) for r in rows[table]} == {0.01}, table
    # the diag_ row is the first study's t3_point: the same model, only the lr differs
    old, new = mini.config("diag_t3_point_lr001"), mini.config("t3_point")
    assert old.model == new.model and old.train.base_lr == 0.01
