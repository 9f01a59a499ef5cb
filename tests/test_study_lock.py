"""``scrpn study`` holds the lock on a run's checkpoint folder (scrpn/study/runs.py,
``Study._compute``): two study processes that reach the same training (a second shell, a second
``--jobs`` plan beside the first) never train it twice into one ``latest.pth``; the second is
refused in one line naming the first's pid, and nothing of the first's is touched."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from scrpn.outputs import LOCK_NAME, LockedError, RunLock
from scrpn.study.runs import Study


def smoke(tmp_path: Path) -> Study:
    return Study(profile="smoke", results_dir=tmp_path / "results", work_dir=tmp_path / "work", log=lambda _: None)


def test_a_run_in_training_elsewhere_is_refused_naming_its_pid(tmp_path: Path) -> None:
    study = smoke(tmp_path)
    folder = study.checkpoint_dir(study.config("rpn"))
    folder.mkdir(parents=True)
    (folder / "latest.pth").write_bytes(b"the other process's checkpoint")
    with RunLock(folder, "another scrpn study"):
        with pytest.raises(LockedError, match=f"{folder}: in use by another scrpn process \\(pid {os.getpid()}"):
            study.run("rpn")
    assert (folder / "latest.pth").read_bytes() == b"the other process's checkpoint"
    assert sorted(p.name for p in folder.iterdir()) == ["latest.pth"]
    assert not (tmp_path / "results" / "runs").exists()


def test_the_cli_says_so_in_one_line_and_exits_nonzero(tmp_path: Path, monkeypatch, capsys) -> None:
    from scrpn.cli import main

    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SCRPN_WORK_DIR", str(tmp_path / "work"))
    study = smoke(tmp_path)
    folder = study.checkpoint_dir(study.config("rpn"))
    with RunLock(folder, "another scrpn study"):
        code = main(["study", "rpn", "--profile", "smoke", "--allow-dirty", "--results-dir", str(tmp_path / "results")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and f"pid {os.getpid()}" in err[0] and "Traceback" not in err[0]


def test_the_lock_is_held_while_the_run_trains_and_gone_after(tmp_path: Path, monkeypatch) -> None:
    study = smoke(tmp_path)
    folder = study.checkpoint_dir(study.config("rpn"))
    seen = []
    real = Study._compute_locked

    def spy(self, row, seed, cfg):
        seen.append((folder / LOCK_NAME).read_text().split()[0])
        return real(self, row, seed, cfg)

    monkeypatch.setattr(Study, "_compute_locked", spy)
    record = study.run("rpn")
    assert seen == [str(os.getpid())]
    assert record["AR1000"] is not None and not (folder / LOCK_NAME).exists()
