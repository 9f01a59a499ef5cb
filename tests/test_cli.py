"""The command line: help texts, one-line errors with exit code 2, and a full train run."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import torch

import scrpn.cli as cli
from conftest import DummyProposalModel, TinyBoxes
from scrpn.engine.checkpoint import save_checkpoint

CONFIG = """\
name: tiny_cli
data: {size_divisor: 8}
train: {batch_size: 2, base_batch_size: 2, base_lr: 0.05, max_iters: 4, warmup_iters: 1,
        lr_steps: [3], log_interval: 2, seed: 5}
eval: {timing_images: 2}
"""


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["data"], ["data", "stats"], ["bench"]])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: scrpn" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "scrpn", "evaluate", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--checkpoint" in done.stdout


def _error(argv: list[str], capsys) -> str:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    return lines[0]


def test_bad_config_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  max_iter: 3\n")
    line = _error(["train", "--config", str(bad), "--out", str(tmp_path / "run")], capsys)
    assert line.startswith("scrpn: error:") and "bad.yaml" in line and "'train.max_iter'" in line
    line = _error(["train", "--config", str(tmp_path / "missing.yaml")], capsys)
    assert "missing.yaml: config file not found" in line
    good = tmp_path / "good.yaml"
    good.write_text(CONFIG)
    line = _error(["train", "--config", str(good), "--set", "train.lr_gamma=2"], capsys)
    assert "'train.lr_gamma' = 2.0 is above its maximum" in line


def test_checkpoint_errors(tmp_path, capsys):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(CONFIG)
    line = _error(["evaluate", "--config", str(cfg_path), "--checkpoint", str(tmp_path / "x.pth")],
                  capsys)
    assert "x.pth: checkpoint not found" in line
    other = cli.load_cli_config(str(cfg_path), ["model.head.feat_channels=16"]).to_dict()
    save_checkpoint(tmp_path / "other.pth", {"format": 1, "model": {}, "config": other})
    line = _error(["evaluate", "--config", str(cfg_path), "--checkpoint",
                   str(tmp_path / "other.pth")], capsys)
    assert "another config" in line and "'model.head.feat_channels' is 16 there but 64 now" in line
    line = _error(["train", "--config", str(cfg_path), "--out", str(tmp_path / "r"), "--resume"],
                  capsys)
    assert "no checkpoint to resume from" in line
    line = _error(["evaluate", "--proposals", "p.json"], capsys)
    assert "--annotations" in line


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Route `scrpn train` to the tiny dataset and the dummy model."""
    data = TinyBoxes(tmp_path, n=6)
    monkeypatch.setattr(cli, "build_train_dataset", lambda cfg: data)
    monkeypatch.setattr(cli, "build_val_dataset", lambda cfg: data)
    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: DummyProposalModel())
    cfg_path = tmp_path / "tiny_cli.yaml"
    cfg_path.write_text(CONFIG)
    return cfg_path, data


def test_train_writes_the_run_and_prints_json_last(tmp_path, fake_parts, capsys):
    cfg_path, data = fake_parts
    run, study = tmp_path / "run", tmp_path / "study"
    assert cli.main(["train", "--config", str(cfg_path), "--out", str(run), "--no-progress",
                     "--study", "--study-dir", str(study), "--dump-proposals", "--seed", "7"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads(last)
    assert {"AR100", "AR300", "AR1000", "AR_S", "AR_M", "AR_L", "seconds_per_image"} <= set(metrics)
    saved = json.loads((run / "metrics.json").read_text())
    assert (saved["name"], saved["seed"], saved["iterations"]) == ("tiny_cli", 7, 4)
    assert saved["AR1000"] == metrics["AR1000"] and saved["train_seconds"] > 0
    assert json.loads((study / "tiny_cli" / "seed7" / "metrics.json").read_text()) == saved
    records = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    assert [r["type"] for r in records] == ["train", "train", "eval"]
    assert (run / "proposals.json").is_file() and (run / "config.yaml").is_file()

    # evaluating the final checkpoint gives the same recall
    assert cli.main(["evaluate", "--config", str(cfg_path), "--checkpoint", str(run / "final.pth"),
                     "--set", "train.seed=7"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["AR1000"] == metrics["AR1000"]
    # and so does scoring the dumped proposals file
    assert cli.main(["evaluate", "--proposals", str(run / "proposals.json"),
                     "--annotations", str(data.ann_file)]) == 0
    from_file = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert from_file["AR1000"] == pytest.approx(metrics["AR1000"])


def test_sigterm_saves_and_exits_with_a_message(tmp_path, fake_parts, monkeypatch, capsys):
    cfg_path, _ = fake_parts

    class Terminating(DummyProposalModel):
        calls = 0

        def forward(self, images, targets):
            if self.training:
                Terminating.calls += 1
                if Terminating.calls == 2:
                    signal.raise_signal(signal.SIGTERM)
            return super().forward(images, targets)

    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: Terminating())
    run = tmp_path / "run"
    code = cli.main(["train", "--config", str(cfg_path), "--out", str(run), "--no-progress"])
    assert code == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert "interrupted by SIGTERM at iteration 2" in err and "--resume" in err
    assert (run / "latest.pth").is_file() and not (run / "metrics.json").exists()
    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: DummyProposalModel())
    assert cli.main(["train", "--config", str(cfg_path), "--out", str(run), "--no-progress",
                     "--resume"]) == 0
    assert json.loads((run / "metrics.json").read_text())["iterations"] == 4


def test_bench_reports_ratios_to_the_reference(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    out = tmp_path / "speed.json"
    assert cli.main(["bench", "--configs", "configs/smoke/rpn.yaml", "configs/smoke/sc_rpn.yaml",
                 "--rounds", "2", "--iters", "1", "--out", str(out),
                 "--set", "data.num_train=4", "data.num_val=2"]) == 0
    result = json.loads(out.read_text())
    assert result["reference"] == "rpn" and set(result["methods"]) == {"rpn", "sc_rpn"}
    ref = result["methods"]["rpn"]
    assert ref["train_ratio_to_reference"] == 1.0 and ref["infer_ratio_to_reference"] == 1.0
    sc = result["methods"]["sc_rpn"]
    assert sc["infer_ratio_to_reference"] == pytest.approx(
        sc["infer_seconds_per_image"] / ref["infer_seconds_per_image"])
    assert len(sc["train_rounds"]) == 2
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sc_rpn"]
    # the floor: backbone + FPN forward + backward on the same batch, timed in the same rounds
    assert len(sc["floor_rounds"]) == 2 and 0 < sc["floor_seconds_per_iter"]
    assert sc["train_ratio_to_floor"] == pytest.approx(sc["train_seconds_per_iter"] / sc["floor_seconds_per_iter"])
    # the old eager NCHW floor, timed in the same rounds on a copy of the backbone
    assert len(sc["floor_nchw_rounds"]) == 2 and sc["floor_speedup_over_nchw"] == pytest.approx(
        sc["floor_nchw_seconds_per_iter"] / sc["floor_seconds_per_iter"])
    assert sc["memory_format"] == "channels_last"   # the mini profile's (configs/mini/_base.yaml)
    # the arithmetic floor: SC-RPN's head adds convolution / bmm FLOPs on top of the backbone's
    assert sc["flops_ratio_to_floor"] == pytest.approx(sc["train_forward_gflops"] / sc["floor_forward_gflops"])
    assert sc["flops_ratio_to_floor"] > result["methods"]["rpn"]["flops_ratio_to_floor"] > 1.0
    # the profiled breakdown names the head's parts (SC-RPN: deformable convs, assigners, NMS)
    parts = set(sc["breakdown_ms"])
    assert {"backbone", "head_forward", "priors", "deform_conv", "loss", "assign", "sample",
            "loss_terms", "backward", "infer:postprocess", "infer:deform_conv"} <= parts
    assert "deform_conv" not in ref["breakdown_ms"] and "assign" in ref["breakdown_ms"]


def test_bench_at_a_given_input_size_resizes_images_and_boxes(tmp_path, monkeypatch):
    """`--input-size H W` (COCO's 800 1333 in the study) times any config on resized images."""
    from scrpn.engine import bench

    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    out = tmp_path / "speed.json"
    assert cli.main(["bench", "--configs", "configs/coco/rpn.yaml", "--rounds", "1", "--iters", "1",
                     "--warmup", "0", "--input-size", "96", "160", "--out", str(out),
                     "--set", "data.num_train=2", "data.num_val=1", "train.batch_size=1",
                     "model.backbone.fpn_channels=16", "model.head.feat_channels=16"]) == 0
    result = json.loads(out.read_text())
    assert result["input_size"] == [96, 160] and result["backbone"] == "resnet50"
    m = result["methods"]["rpn"]
    assert m["train_images_per_second"] == pytest.approx(1.0 / m["train_seconds_per_iter"])
    # the resize maps boxes with the image: a box on the right half stays on the right half
    image = torch.zeros(3, 64, 64)
    _, target = bench._resized(image, {"boxes": torch.tensor([[32.0, 16.0, 64.0, 48.0]])}, (96, 160))
    assert target["boxes"].tolist() == [[80.0, 24.0, 160.0, 72.0]] and target["img_shape"] == (96, 160)


def test_bench_times_each_precision_in_the_same_rounds(tmp_path, monkeypatch, capsys):
    """`--precisions fp32 bf16` (issue 37): both precisions of every config in the same rounds,
    the speed-ups as ratios of the medians, the top operators and the load average recorded."""
    from scrpn.engine.precision import cpu_bf16_support
    if not cpu_bf16_support()[0]:
        pytest.skip("this CPU has no bfloat16 arithmetic")
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    out = tmp_path / "speed.json"
    assert cli.main(["bench", "--configs", "configs/smoke/rpn.yaml", "configs/smoke/sc_rpn.yaml",
                     "--rounds", "2", "--iters", "1", "--warmup", "1", "--out", str(out),
                     "--precisions", "fp32", "bf16", "--set", "data.num_train=4", "data.num_val=2"]) == 0
    result = json.loads(out.read_text())
    assert len(result["load_average"]["before"]) == 3 and result["load_average"]["cpus"] >= 1
    sc = result["methods"]["sc_rpn"]
    assert sc["precision"] == "fp32" and set(sc["precisions"]) == {"bf16"}
    bf16 = sc["precisions"]["bf16"]
    assert len(bf16["train_rounds"]) == len(sc["train_rounds"]) == 2
    assert bf16["train_speedup"] == pytest.approx(sc["train_seconds_per_iter"] / bf16["train_seconds_per_iter"])
    assert bf16["infer_speedup"] == pytest.approx(sc["infer_seconds_per_image"] / bf16["infer_seconds_per_image"])
    assert set(sc["ops_ms"]) == {"fp32", "bf16"} and "aten::grid_sampler_2d" in str(sc["ops_ms"]["bf16"])
    assert "bf16_train_speedup" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sc_rpn"]
