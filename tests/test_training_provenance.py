"""Provenance recorded when a training starts (scrpn/engine/provenance.py): the commit, the dirty
rule, the settings that decide the bits, a resumed run's parts, and the study's refusal of runs
trained from a dirty tree."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import make_cfg
from scrpn.config import ConfigError
from scrpn.engine import provenance
from scrpn.engine.checkpoint import load_checkpoint
from scrpn.engine.provenance import code_version, describe_parts, record_fields
from scrpn.engine.trainer import TrainingInterrupted
from scrpn.study import Study
from scrpn.study.provenance import dirty_training, training_commits
from test_provenance import git
from test_trainer import SignalAtCall, _trainer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "scrpn").mkdir(parents=True)
    (root / "configs").mkdir()
    (root / "scrpn" / "a.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "one")
    return root


def test_dirty_means_changes_git_lacks_under_scrpn_or_configs(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert code_version(repo) == {"code_commit": head, "code_dirty": False}
    (repo / "results").mkdir()
    (repo / "results" / "new_run.json").write_text("{}")        # untracked results: still clean
    (repo / "notes.md").write_text("n\n")
    (repo / "scrpn" / "__pycache__").mkdir()
    (repo / "scrpn" / "__pycache__" / "a.pyc").write_text("")   # ignored: still clean
    assert code_version(repo)["code_dirty"] is False
    (repo / "configs" / "new_row.yaml").write_text("a: 1\n")    # an untracked config: dirty
    assert code_version(repo)["code_dirty"] is True
    (repo / "configs" / "new_row.yaml").unlink()
    (repo / "scrpn" / "a.py").write_text("x = 2\n")             # an edited module: dirty
    assert code_version(repo)["code_dirty"] is True


def test_a_part_records_the_code_software_machine_and_settings(repo: Path) -> None:
    cfg = make_cfg(max_iters=2)
    cfg.train.memory_format = "channels_last"
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    try:
        part = provenance.training_part(cfg.train, 5, root=repo)
    finally:
        torch.use_deterministic_algorithms(before, warn_only=True)
    assert part["from_iteration"] == 5 and part["commit"] == git(repo, "rev-parse", "HEAD")
    assert part["dirty"] is False
    assert part["torch"] == torch.__version__ and part["threads"] == torch.get_num_threads()
    assert part["memory_format"] == "channels_last" and part["deterministic_algorithms"] is False
    assert part["precision"] == getattr(cfg.train, "precision", "fp32")
    assert {"python", "torchvision", "numpy", "cpu_capability", "cpu_model", "cpu_deterministic_kernels",
            "device", "world_size", "started"} <= set(part)


def test_a_resumed_run_records_both_parts(tiny_dataset, tmp_path: Path, monkeypatch) -> None:
    """Interrupted at iteration 3 by one commit, resumed by another: the checkpoint and the run
    record name both, with the iteration each part started at."""
    commits = iter([{"code_commit": "a" * 40, "code_dirty": False}, {"code_commit": "b" * 40, "code_dirty": True}])
    monkeypatch.setattr(provenance, "code_version", lambda root=None: next(commits))
    cfg = make_cfg(max_iters=6)
    first = _trainer(cfg, tiny_dataset, tmp_path / "run", SignalAtCall, at=3)
    with pytest.raises(TrainingInterrupted):
        first.train()
    saved = load_checkpoint(tmp_path / "run" / "latest.pth")["provenance"]
    assert [(p["from_iteration"], p["commit"]) for p in saved] == [(0, "a" * 40)]
    second = _trainer(cfg, tiny_dataset, tmp_path / "run")
    second.resume()
    second.train()
    parts = load_checkpoint(tmp_path / "run" / "final.pth")["provenance"]
    assert [(p["from_iteration"], p["commit"], p["dirty"]) for p in parts] == [(0, "a" * 40, False),
                                                                               (3, "b" * 40, True)]
    fields = record_fields(parts, 6)
    assert fields["trained_by"] == "trained in 2 parts: iterations 0-3 by aaaaaaaaaa (clean), 3-6 by bbbbbbbbbb (dirty)"
    assert fields["code_commit"] == "b" * 40 and fields["code_dirty"] is True
    assert training_commits(fields) == ["a" * 40, "b" * 40] and dirty_training(fields)


def test_a_checkpoint_without_provenance_resumes_with_an_unknown_first_part(tiny_dataset, tmp_path: Path) -> None:
    cfg = make_cfg(max_iters=6)
    first = _trainer(cfg, tiny_dataset, tmp_path / "run", SignalAtCall, at=3)
    with pytest.raises(TrainingInterrupted):
        first.train()
    path = tmp_path / "run" / "latest.pth"
    state = load_checkpoint(path)
    del state["provenance"]
    torch.save(state, path)
    second = _trainer(cfg, tiny_dataset, tmp_path / "run")
    second.resume()
    second.train()
    parts = load_checkpoint(tmp_path / "run" / "final.pth")["provenance"]
    assert parts[0] == {"from_iteration": 0, "commit": None, "dirty": None} and parts[1]["from_iteration"] == 3
    assert describe_parts(parts, 6).startswith("trained in 2 parts: iterations 0-3 by unknown code, 3-6 by ")


def test_describe_one_part_and_none() -> None:
    assert describe_parts([{"commit": "c" * 40, "dirty": False}]) == "trained by cccccccccc (clean)"
    assert describe_parts(None) == "trained by unknown code (the checkpoint predates provenance)"
    assert record_fields([])["code_commit"] is None and record_fields([])["code_dirty"] is None


def _study(tmp_path: Path, **kwargs) -> Study:
    return Study(profile="smoke", results_dir=tmp_path / "results", work_dir=tmp_path / "work",
                 config_root=ROOT / "configs", log=lambda m: None,
                 overrides=["model.backbone.pretrained=false"], **kwargs)


def test_the_study_records_the_training_and_refuses_dirty_runs(tmp_path: Path) -> None:
    record = _study(tmp_path).run("rpn", 0)
    assert len(record["training_parts"]) == 1 and record["trained_by"].startswith("trained by ")
    assert record["training_parts"][0]["from_iteration"] == 0
    assert set(record["evaluated_by"]) == {"code_commit", "code_dirty"}
    assert record["code_commit"] == record["training_parts"][0]["commit"]
    path = _study(tmp_path).run_dir("rpn", 0) / "metrics.json"
    # the same run as if trained from a dirty tree: refused with one line naming it, unless allowed
    dirty = dict(record, training_parts=[dict(record["training_parts"][0], commit="d" * 40, dirty=True)],
                 trained_by="trained by dddddddddd (dirty)")
    path.write_text(json.dumps(dirty))
    with pytest.raises(ConfigError, match=r"rpn seed 0: trained by dddddddddd \(dirty\).*--allow-dirty"):
        _study(tmp_path, allow_dirty=False).run("rpn", 0)
    assert _study(tmp_path, allow_dirty=True).run("rpn", 0)["trained_by"] == "trained by dddddddddd (dirty)"
    # a run that records no provenance at all (117 committed runs) is not dirty
    legacy = {k: v for k, v in record.items() if k not in ("training_parts", "trained_by", "code_commit",
                                                           "code_dirty", "evaluated_by")}
    path.write_text(json.dumps(legacy))
    assert _study(tmp_path, allow_dirty=False).run("rpn", 0)["name"] == "rpn"
