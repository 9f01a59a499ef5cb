"""scrpn.study.runs: config resolution per profile, fingerprints, caching and shared training."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scrpn.config import ConfigError, load_config
from scrpn.study import Study, config_fingerprint, training_config

ROOT = Path(__file__).resolve().parents[1]


def make_study(tmp: Path, **kwargs) -> Study:
    messages: list[str] = []
    study = Study(profile="smoke", results_dir=tmp / "results", work_dir=tmp / "work",
                  config_root=ROOT / "configs", log=messages.append,
                  overrides=["model.backbone.pretrained=false"], **kwargs)
    study.messages = messages  # type: ignore[attr-defined]
    return study


def test_a_resumed_run_costs_all_its_parts(tmp_path: Path) -> None:
    """A run stopped (SIGTERM, a session's end) and resumed by a later process: its record adds
    the training seconds the earlier process spent, carried in the checkpoint, so that
    ``run_cost`` (the causes table's machine and CPU hours) counts the whole run."""
    from scrpn.engine.checkpoint import load_checkpoint, save_checkpoint
    from scrpn.study import run_cost

    study = make_study(tmp_path)
    first = study.run("rpn", 0)   # from scratch: nothing earlier
    assert first["earlier_wall_seconds"] == 0.0 and first["earlier_cpu_seconds"] == 0.0
    assert run_cost(first) == (first["wall_seconds"], first["cpu_seconds"])
    ckpt_dir = study.checkpoint_dir(study.config("rpn", 0))
    state = load_checkpoint(ckpt_dir / "final.pth")
    assert state["train_cpu_seconds"] > 0.0

    def interrupted_at_1(train_seconds: float, train_cpu_seconds) -> None:
        """Leave the run as a process stopped after iteration 1 of 2 would."""
        stopped = dict(state, iteration=1, epoch=0, train_seconds=train_seconds)
        stopped.pop("train_cpu_seconds")
        if train_cpu_seconds is not None:
            stopped["train_cpu_seconds"] = train_cpu_seconds
        (ckpt_dir / "final.pth").unlink()
        save_checkpoint(ckpt_dir / "latest.pth", stopped)
        (study.run_dir("rpn", 0) / "metrics.json").unlink()

    interrupted_at_1(1000.0, 2000.0)
    later = make_study(tmp_path)
    resumed = later.run("rpn", 0)
    assert any("resuming at iteration 1/2" in m for m in later.messages)
    assert resumed["earlier_wall_seconds"] == 1000.0 and resumed["earlier_cpu_seconds"] == 2000.0
    assert run_cost(resumed) == (resumed["wall_seconds"] + 1000.0, resumed["cpu_seconds"] + 2000.0)
    final = load_checkpoint(ckpt_dir / "final.pth")
    assert final["train_seconds"] > 1000.0 and final["train_cpu_seconds"] > 2000.0  # accumulated
    # a scoring twin of the same process reuses the finished checkpoint: it trained nothing
    twin = later.run("rpn_rescored", 0)
    assert twin["earlier_wall_seconds"] == 0.0 and twin["earlier_cpu_seconds"] == 0.0
    # a checkpoint from before the CPU count: the earlier CPU seconds are unknown and count 0
    interrupted_at_1(1000.0, None)
    resumed = make_study(tmp_path).run("rpn", 0)
    assert resumed["earlier_wall_seconds"] == 1000.0 and resumed["earlier_cpu_seconds"] is None
    assert run_cost(resumed) == (resumed["wall_seconds"] + 1000.0, resumed["cpu_seconds"])
    assert load_checkpoint(ckpt_dir / "final.pth")["train_cpu_seconds"] is None


def test_smoke_profile_overlays_the_mini_row(tmp_path: Path) -> None:
    cfg = make_study(tmp_path).config("sc_rpn", seed=3)
    assert cfg.name == "sc_rpn" and cfg.train.seed == 3
    assert cfg.data.image_size == 128 and cfg.train.max_iters == 2          # smoke sizes
    assert cfg.model.head.representation == "point" and cfg.model.head.iou_mask.enabled  # the row


def test_dataset_overlay_prefixes_the_run_name(tmp_path: Path) -> None:
    study = make_study(tmp_path, dataset="deepforest")
    cfg = study.config("rpn")
    assert cfg.data.dataset == "deepforest" and cfg.name == "deepforest_rpn"
    assert study.run_dir("rpn", 1) == tmp_path / "results" / "runs" / "deepforest_rpn" / "seed1"


def test_unknown_row_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no_such_row\.yaml: no such study row"):
        make_study(tmp_path).config("no_such_row")


def test_fingerprint_ignores_runtime_knobs_only(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    base = study.config("rpn")
    threads = make_study(tmp_path, ).config("rpn")
    threads.train.num_threads = 7
    threads.name = "renamed"
    assert config_fingerprint(threads) == config_fingerprint(base)
    lr = study.config("rpn")
    lr.train.base_lr *= 2
    assert config_fingerprint(lr) != config_fingerprint(base)


def test_rows_that_differ_at_test_time_share_their_training(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    with_mask = training_config(study.config("t6_with_sads_cls"))
    without = training_config(study.config("t6_with_sads_cls_notest"))
    assert with_mask.name == without.name == training_config(study.config("sc_rpn")).name
    assert training_config(study.config("t3_sads")).name != with_mask.name
    assert config_fingerprint(study.config("t6_with_sads_cls")) != config_fingerprint(
        study.config("t6_with_sads_cls_notest"))  # their metrics are cached separately


def test_run_trains_once_then_reads_the_cache(tmp_path: Path, data_dir: Path) -> None:
    study = make_study(tmp_path)
    first = study.run("sc_rpn", 0)
    run_dir = study.run_dir("sc_rpn", 0)
    assert {"metrics.json", "log.jsonl", "proposal_stats.npz"} <= {p.name for p in run_dir.iterdir()}
    assert first["config_fingerprint"] == config_fingerprint(study.config("sc_rpn", 0))
    assert first["iterations"] == 2 and 0.0 <= first["AR1000"] <= 100.0
    assert first["cpu_seconds"] > 0 and first["torch_threads"] == torch.get_num_threads()
    again = make_study(tmp_path).run("sc_rpn", 0)  # a new session: nothing trained
    assert again == first
    # the test-time twin reuses the checkpoint: one training directory only
    twin = make_study(tmp_path)
    twin.run("t6_with_sads_cls_notest", 0)
    assert not any("training" in m for m in twin.messages)
    assert len(list((tmp_path / "work" / "study").iterdir())) == 1


def test_a_stale_result_is_recomputed(tmp_path: Path, data_dir: Path) -> None:
    study = make_study(tmp_path)
    study.run("rpn", 0)
    path = study.run_dir("rpn", 0) / "metrics.json"
    record = json.loads(path.read_text())
    record["config_fingerprint"] = "0" * 12
    record["AR1000"] = -1.0
    path.write_text(json.dumps(record))
    fresh = make_study(tmp_path)
    assert fresh.cached("rpn", 0) is None
    assert fresh.run("rpn", 0)["AR1000"] >= 0.0
    assert any("computed from another config" in m for m in fresh.messages)


def test_corrupt_metrics_name_the_file(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    path = study.run_dir("rpn", 0) / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="metrics.json: not valid JSON"):
        study.run("rpn", 0)
    assert path.read_text() == "{not json"  # nothing overwritten


def test_load_model_without_training_names_the_run(tmp_path: Path) -> None:
    study = make_study(tmp_path, train_missing=False)
    with pytest.raises(FileNotFoundError, match="rpn seed 0 is not trained yet"):
        study.load_model("rpn", 0)
    assert not study.run_dir("rpn", 0).exists()  # nothing trained, nothing written


def test_load_model_never_trains_a_cached_run_whose_weights_are_elsewhere(tmp_path: Path, data_dir: Path) -> None:
    """A committed metrics.json without its checkpoint (the weights stayed on the machine that
    trained it) and train_missing=False: a clear FileNotFoundError, nothing trained (issue 40's
    inspector met a row that trained for minutes here)."""
    make_study(tmp_path).run("rpn", 0)
    study = make_study(tmp_path, train_missing=False)
    ckpt_dir = study.checkpoint_dir(study.config("rpn", 0))
    for path in ckpt_dir.iterdir():
        path.unlink()
    with pytest.raises(FileNotFoundError, match="has a cached result but no weights here"):
        study.load_model("rpn", 0)
    assert not any(ckpt_dir.iterdir())   # nothing trained, nothing written


def test_exported_weights_round_trip(tmp_path: Path, data_dir: Path) -> None:
    study = make_study(tmp_path)
    model, _ = study.load_model("rpn", 0)
    path = study.export_weights("rpn", 0)
    assert path.is_file()
    reloaded, _ = make_study(tmp_path, retrain=False).load_model("rpn", 0)
    for (name, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        if a.is_floating_point():
            assert (a - b).abs().max() <= 1e-3 * (1 + a.abs().max()), name


def test_only_the_two_l1_rows_leave_the_mini_schedule() -> None:
    """Table III's L1 rows train at lr 0.005 (interpretation 30 in docs/interpretations.md), and
    since experiment 6 its IoU-loss and point rows and Table VIII (interpretation 31); no other
    row does: a ``_base_`` chain once carried that lr into every later ablation row."""
    mini = ROOT / "configs" / "mini"
    base = load_config(mini / "_base.yaml").train
    special = {"t3_two_stage", "t3_alignment",
               # interpretation 31: Table III's IoU-loss and point rows and Table VIII at the paper's lr
               "t3_iou_loss", "t3_point", "t8_point_description",
               # issue 18's pre-registered lr arms (results/REPORT.md, experiments 1 B-D, 5 L1, 6 P1)
               "x1b_cascade_lr0005", "x1c_cascade_norm_lr", "x1d_cascade_faithful",
               "x5l1_alignment_faithful", "x6p1_point_lr0005", "x6p1_iou_loss_lr0005"}
    # issue 18's pre-registered schedule arms: 4x (experiments 1 E, 2 G2 and its control) and 3x (experiment 8)
    longer = {"x1e_cascade_4x": 4, "x2g2_ga_rpn_4x": 4, "x2g2c_rpn_4x": 4,
              "x8_det_faster_rcnn_rpn_3x": 3, "x8_det_faster_rcnn_sc_rpn_3x": 3}
    for path in sorted(mini.glob("**/*.yaml")):   # every row, in every folder
        if path.name.startswith("_") or path.parent.name == "datasets":
            continue
        train = load_config(path).train
        expected = 0.005 if path.stem in special else base.base_lr
        assert train.base_lr == expected, path.name
        k = longer.get(path.stem, 1)   # a longer schedule keeps the lr steps' fractions
        assert (train.max_iters, train.lr_steps, train.batch_size) == (
            base.max_iters * k, [round(step * k) for step in base.lr_steps], base.batch_size), path.name


def test_test_variants_are_test_only_and_need_no_file() -> None:
    """A ``<row>_notest`` row is its row scored without the IoU-aware score: no config file of its
    own, the same training (and so the same checkpoint), its own fingerprint and results."""
    from scrpn.study.runs import TEST_VARIANTS
    study = Study(profile="mini", config_root=ROOT / "configs")
    assert not (ROOT / "configs" / "mini" / "t6_with_sads_cls_notest.yaml").exists()
    row, variant = study.config("t6_with_sads_cls"), study.config("t6_with_sads_cls_notest")
    assert variant.model.head.iou_mask.test_with is False and row.model.head.iou_mask.test_with
    assert training_config(variant).name == training_config(row).name
    assert config_fingerprint(variant) != config_fingerprint(row)
    rows = {"notest": "sc_rpn", "nofilter": "ga_rpn", "rescored": "sc_rpn"}
    assert set(rows) == set(TEST_VARIANTS)
    for name, overrides in TEST_VARIANTS.items():   # every variant override is reset for training
        base = study.config(rows[name])
        changed = Study(profile="mini", config_root=ROOT / "configs", overrides=list(overrides)).config(rows[name])
        if overrides:
            assert config_fingerprint(changed) != config_fingerprint(base), name
        assert training_config(changed).name == training_config(base).name, name
    with pytest.raises(ConfigError, match="no such study row"):
        study.config("t6_with_sads_cls_nottest")
