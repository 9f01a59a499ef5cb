"""Checkpoints: atomic writes, clear errors for bad files, weights_only-safe RNG state."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from scrpn.engine.checkpoint import (CheckpointError, check_config_matches, load_checkpoint,
                                     save_checkpoint)
from scrpn.engine.seeding import capture_rng_state, make_generator, restore_rng_state


def _state(value: float) -> dict:
    return {"format": 1, "model": {"w": torch.full((3,), value)}, "config": {"name": "x"},
            "iteration": 7}


def test_round_trip_with_rng_state_loads_weights_only(tmp_path):
    gen = make_generator(5)
    state = {**_state(1.0), "rng": capture_rng_state(gen)}
    save_checkpoint(tmp_path / "c.pth", state)
    # draw from every generator, then restore and check the same numbers come out again
    expected = (torch.rand(3), torch.rand(3, generator=gen), random.random(), np.random.rand())
    loaded = load_checkpoint(tmp_path / "c.pth")  # torch.load(..., weights_only=True) inside
    restore_rng_state(loaded["rng"], gen)
    again = (torch.rand(3), torch.rand(3, generator=gen), random.random(), np.random.rand())
    assert torch.equal(expected[0], again[0]) and torch.equal(expected[1], again[1])
    assert expected[2:] == again[2:]
    assert loaded["iteration"] == 7


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "latest.pth"
    save_checkpoint(path, _state(1.0))

    def torn_save(obj, stream):
        stream.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, _state(2.0))
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.full((3,), 1.0))
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pth"]  # no stray temporary file


def test_truncated_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "latest.pth"
    save_checkpoint(path, _state(1.0))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"latest\.pth: cannot read checkpoint"):
        load_checkpoint(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pth: checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pth")
    torch.save({"state_dict": {}}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="other.pth: not an scrpn checkpoint"):
        load_checkpoint(tmp_path / "other.pth")


def test_config_mismatch_names_the_key():
    saved = {"name": "a", "model": {"head": {"num_stages": 2}}, "train": {"log_interval": 5}}
    current = {"name": "a", "model": {"head": {"num_stages": 1}}, "train": {"log_interval": 50}}
    with pytest.raises(CheckpointError, match="'model.head.num_stages' is 2 there but 1 now"):
        check_config_matches("c.pth", saved, current, sections=("model", "train"))
    check_config_matches("c.pth", saved, {**current, "model": saved["model"]},
                         sections=("model", "train"), ignore=("train.log_interval",))
