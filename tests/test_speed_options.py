"""Speed options keep the function (issue 19): ``train.memory_format`` and
``train.cpu_deterministic_kernels``.

``cpu_deterministic_kernels``: every method trains 20 smoke iterations with torch's deterministic
mode on and off (CPU): the weights must be bit-identical.

``memory_format``, channels_last:
Each method trains 20 smoke iterations from the same initial weights on each path; the losses
must agree to 1e-4 relative at every iteration and the final weights to 1e-4 of each tensor's
scale. (They are not bit-identical: oneDNN sums a convolution's products in another order in NHWC.)
The key is a run-time setting: out of the fingerprint, allowed to change on resume.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scrpn.engine.checkpoint import load_checkpoint
from scrpn.engine.logging import read_jsonl
from scrpn.engine.memory_format import images_in, set_model_format
from scrpn.engine.trainer import RESUME_IGNORED_KEYS, new_trainer
from scrpn.study.runs import RUNTIME_KEYS, Study, config_fingerprint

ROOT = Path(__file__).resolve().parents[1]
ITERS = 20


def _train(row: str, fmt: str, run_dir: Path) -> tuple[list[float], dict]:
    study = Study(profile="smoke", config_root=ROOT / "configs",
                  overrides=[f"train.memory_format={fmt}", f"train.max_iters={ITERS}", "train.lr_steps=[15]",
                             "train.warmup_iters=5"])
    cfg = study.config(row)
    trainer = new_trainer(cfg, run_dir, progress=False)
    trainer.train()
    losses = [r["loss"] for r in read_jsonl(run_dir / "log.jsonl") if r.get("type") == "train"]
    return losses, load_checkpoint(run_dir / "final.pth")["model"]


@pytest.mark.parametrize("row", ["rpn", "cascade_rpn", "ga_rpn", "sc_rpn"])
def test_channels_last_trains_the_same_function(row: str, tmp_path: Path) -> None:
    ref_losses, ref_weights = _train(row, "contiguous", tmp_path / "nchw")
    losses, weights = _train(row, "channels_last", tmp_path / "nhwc")
    assert len(ref_losses) == len(losses) == ITERS
    for i, (a, b) in enumerate(zip(ref_losses, losses)):
        assert abs(a - b) <= 1e-4 * abs(a), f"iteration {i + 1}: {a} vs {b}"
    assert ref_weights.keys() == weights.keys()
    for key, ref in ref_weights.items():
        if ref.is_floating_point() and ref.numel():
            scale = ref.abs().max().clamp_min(1e-3)
            assert (weights[key] - ref).abs().max() <= 1e-4 * scale, key


def test_memory_format_is_a_runtime_key() -> None:
    study = Study(profile="mini", config_root=ROOT / "configs")
    base = study.config("sc_rpn")
    other = study.config("sc_rpn")
    other.train.memory_format = "channels_last" if base.train.memory_format == "contiguous" else "contiguous"
    assert config_fingerprint(other) == config_fingerprint(base)
    assert "train.memory_format" in RUNTIME_KEYS and "train.memory_format" in RESUME_IGNORED_KEYS
    other.train.cpu_deterministic_kernels = not base.train.cpu_deterministic_kernels
    assert config_fingerprint(other) == config_fingerprint(base)
    assert "train.cpu_deterministic_kernels" in RUNTIME_KEYS and "train.cpu_deterministic_kernels" in RESUME_IGNORED_KEYS


def test_helpers_change_strides_not_values() -> None:
    conv = torch.nn.Conv2d(3, 4, 3)
    before = conv.weight.detach().clone()
    set_model_format(conv, "channels_last")
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(conv.weight, before)
    x = torch.rand(2, 3, 8, 8)
    assert images_in(x, "contiguous") is x
    assert images_in(x, "channels_last").is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="memory_format must be one of"):
        images_in(x, "nhwc")


def test_a_run_resumes_on_the_other_layout(tmp_path: Path) -> None:
    """A run interrupted on one layout and resumed on the other ends where an uninterrupted run
    ends, to the same tolerance (the key is in RESUME_IGNORED_KEYS)."""
    def study(fmt: str, iters: int) -> Study:
        return Study(profile="smoke", config_root=ROOT / "configs",
                     overrides=[f"train.memory_format={fmt}", f"train.max_iters={iters}", "train.lr_steps=[8]",
                                "train.warmup_iters=2"])

    whole = new_trainer(study("contiguous", 10).config("rpn"), tmp_path / "whole", progress=False)
    whole.train()
    first = new_trainer(study("contiguous", 5).config("rpn"), tmp_path / "split", progress=False)
    first.train()
    second = new_trainer(study("channels_last", 10).config("rpn"), tmp_path / "split", progress=False)
    second.resume()
    assert second.iteration == 5
    second.train()
    a = load_checkpoint(tmp_path / "whole" / "final.pth")["model"]
    b = load_checkpoint(tmp_path / "split" / "final.pth")["model"]
    for key, ref in a.items():
        if ref.is_floating_point() and ref.numel():
            assert (b[key] - ref).abs().max() <= 1e-4 * ref.abs().max().clamp_min(1e-3), key


@pytest.mark.parametrize("row", ["rpn", "cascade_rpn", "ga_rpn", "sc_rpn", "det_faster_rcnn_sc_rpn"])
def test_cpu_deterministic_kernels_change_no_bit(row: str, tmp_path: Path) -> None:
    final = {}
    for flag in (True, False):
        study = Study(profile="smoke", config_root=ROOT / "configs",
                      overrides=[f"train.cpu_deterministic_kernels={str(flag).lower()}", f"train.max_iters={ITERS}",
                                 "train.lr_steps=[15]", "train.warmup_iters=5"])
        trainer = new_trainer(study.config(row), tmp_path / str(flag), progress=False)
        assert torch.are_deterministic_algorithms_enabled() is (flag or torch.cuda.is_available())
        trainer.train()
        final[flag] = load_checkpoint(tmp_path / str(flag) / "final.pth")["model"]
    assert final[True].keys() == final[False].keys()
    for key in final[True]:
        assert torch.equal(final[True][key], final[False][key]), key
