"""The real network on the real embedded data, through the CLI: train, evaluate, resume exactly."""

import pytest
import torch

from scrpn.cli import main
from conftest import last_json

SMALL = ["data.num_train=8", "data.num_val=4", "train.max_iters=2"]


@pytest.mark.parametrize("config", ["configs/smoke/rpn.yaml", "configs/smoke/sc_rpn.yaml"])
def test_train_then_evaluate_prints_ar(config, data_dir, capsys):
    out = data_dir / "run"
    assert main(["train", "--config", config, "--out", str(out), "--no-progress",
                 "--dump-proposals", "--set", *SMALL]) == 0
    trained = last_json(capsys)
    for key in ("AR100", "AR300", "AR1000", "AR_S", "AR_M", "AR_L", "seconds_per_image"):
        assert key in trained
    assert 0.0 <= trained["AR1000"] <= 100.0 and trained["AR100"] <= trained["AR1000"]
    assert (out / "metrics.json").is_file() and (out / "final.pth").is_file()
    assert main(["evaluate", "--config", config, "--checkpoint", str(out / "final.pth"),
                 "--out", str(data_dir / "eval"), "--set", *SMALL]) == 0
    again = last_json(capsys)
    assert again["AR1000"] == pytest.approx(trained["AR1000"])
    ann = next((data_dir / "data").rglob("instances_val.json"))
    assert main(["evaluate", "--proposals", str(out / "proposals.json"), "--annotations", str(ann)]) == 0
    assert last_json(capsys)["AR1000"] == pytest.approx(trained["AR1000"])


def test_resume_gives_the_same_weights_as_a_straight_run(data_dir, capsys):
    """SC-RPN's random sampler draws from the trainer's generator: it must be checkpointed too."""
    config = "configs/smoke/sc_rpn.yaml"
    straight, split = data_dir / "straight", data_dir / "split"
    common = ["--config", config, "--no-progress", "--set", "data.num_train=8", "data.num_val=4"]
    assert main(["train", "--out", str(straight), *common, "train.max_iters=4"]) == 0
    assert main(["train", "--out", str(split), *common, "train.max_iters=2"]) == 0
    assert main(["train", "--out", str(split), "--resume", *common, "train.max_iters=4"]) == 0
    capsys.readouterr()
    a = torch.load(straight / "final.pth", weights_only=True)["model"]
    b = torch.load(split / "final.pth", weights_only=True)["model"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
