"""Bad input to evaluation and the files the tool writes (issue 34, evaluation / outputs half).

Each test builds one broken input in a tmp dir (the tiny COCO folder of ``test_bad_input.py``,
six 128 x 96 PNGs), runs ``scrpn`` in-process (or, where a process must die, in a subprocess),
and asserts one ``scrpn: error:`` line (exit 2) or the right number, and that nothing already
written was lost. Checkpoints are written directly (the dummy model of ``conftest.py``), so no
test trains longer than three iterations. ``docs/bad-input.md`` lists the classes.
"""
from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import torch

import scrpn.cli as cli
from conftest import DummyProposalModel
from scrpn.config import load_config
from scrpn.engine.checkpoint import save_checkpoint
from scrpn.outputs import LOCK_NAME, RunLock, atomic_write
from test_bad_input import (PerfectProposals, expect_error, make_root, run, train_args,
                            write_config)

REPO = Path(__file__).resolve().parents[1]
SMOKE_RPN = REPO / "configs" / "smoke" / "rpn.yaml"


@pytest.fixture
def dummy_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: DummyProposalModel())


def make_checkpoint(tmp_path: Path, cfg_path: Path, nan: bool = False) -> Path:
    """A checkpoint of the dummy model for ``cfg_path`` (optionally with a NaN weight)."""
    torch.manual_seed(0)
    model = DummyProposalModel()
    state = model.state_dict()
    if nan:
        state["fc.weight"][0, 0] = math.nan
    cfg = load_config(cfg_path)
    return save_checkpoint(tmp_path / "ckpt" / "final.pth",
                           {"format": 1, "model": state, "config": cfg.to_dict(), "iteration": 3})


def evaluate_args(cfg: Path, ckpt: Path, *extra: Any) -> list[Any]:
    return ["evaluate", "--config", cfg, "--checkpoint", ckpt, "--no-progress", *extra]


@pytest.fixture
def evaluated(tmp_path: Path, capsys: pytest.CaptureFixture, dummy_model: None
              ) -> tuple[Path, Path, Path]:
    """A config, a checkpoint and an evaluation folder ``ev`` with metrics.json and
    proposals.json of a first evaluation."""
    cfg = write_config(tmp_path, make_root(tmp_path))
    ckpt = make_checkpoint(tmp_path, cfg)
    ev = tmp_path / "ev"
    code, _, err = run(evaluate_args(cfg, ckpt, "--out", ev, "--dump-proposals"), capsys)
    assert code == 0, err
    assert json.loads((ev / "proposals.json").read_text())  # a non-empty dump
    return cfg, ckpt, ev


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ----------------------------------------------------------------------------------------------
# 4. a checkpoint of NaN weights
# ----------------------------------------------------------------------------------------------

def test_a_checkpoint_of_nan_weights_is_refused(tmp_path, capsys, dummy_model):
    cfg = write_config(tmp_path, make_root(tmp_path))
    ckpt = make_checkpoint(tmp_path, cfg, nan=True)
    expect_error(evaluate_args(cfg, ckpt, "--out", tmp_path / "ev"), capsys,
                 "final.pth", "NaN or inf", "'fc.weight'")
    assert not (tmp_path / "ev" / "metrics.json").exists()


# ----------------------------------------------------------------------------------------------
# 5. evaluate --out never overwrites a training run, nor an earlier evaluation silently
# ----------------------------------------------------------------------------------------------

def test_evaluate_out_refuses_a_training_runs_folder(tmp_path, capsys, dummy_model):
    cfg = write_config(tmp_path, make_root(tmp_path))
    run_dir = tmp_path / "run"
    code, _, err = run(train_args(cfg, run_dir, "--dump-proposals"), capsys)
    assert code == 0, err
    before = snapshot(run_dir)
    for extra in ([], ["--dump-proposals"], ["--dump-proposals", "--overwrite"]):
        expect_error(evaluate_args(cfg, run_dir / "final.pth", "--out", run_dir, *extra), capsys,
                     "is a training run's folder", "another --out")
        assert snapshot(run_dir) == before


def test_evaluate_out_alone_writes_no_proposals(tmp_path, capsys, dummy_model):
    cfg = write_config(tmp_path, make_root(tmp_path))
    ckpt = make_checkpoint(tmp_path, cfg)
    code, _, err = run(evaluate_args(cfg, ckpt, "--out", tmp_path / "ev"), capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["metrics.json"]


def test_an_earlier_evaluation_is_replaced_only_with_overwrite(evaluated, capsys):
    cfg, ckpt, ev = evaluated
    before = snapshot(ev)
    expect_error(evaluate_args(cfg, ckpt, "--out", ev, "--dump-proposals"), capsys,
                 "already holds metrics.json and proposals.json", "--overwrite")
    assert snapshot(ev) == before
    code, _, err = run(evaluate_args(cfg, ckpt, "--out", ev, "--dump-proposals", "--overwrite"),
                       capsys)
    assert code == 0, err
    assert sorted(p.name for p in ev.iterdir()) == ["metrics.json", "proposals.json"]


def test_evaluate_proposals_out_writes_metrics_and_refuses_to_replace_them(tmp_path, capsys):
    gt, proposals = _gt_and_proposals(tmp_path)
    ev = tmp_path / "ev"
    argv = ["evaluate", "--proposals", proposals, "--annotations", gt, "--out", ev]
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    saved = json.loads((ev / "metrics.json").read_text())
    assert saved["AR100"] == pytest.approx(100.0 / 6) == _last_json(stdout)["AR100"]
    assert saved["ground_truth"]["objects"] == 6 and saved["proposals"] == str(proposals)
    before = snapshot(ev)
    expect_error(argv, capsys, "already holds metrics.json", "--overwrite")
    assert snapshot(ev) == before
    assert run([*argv, "--overwrite"], capsys)[0] == 0


def test_study_never_replaces_an_earlier_runs_metrics(tmp_path, capsys, dummy_model,
                                                      monkeypatch):
    cfg = write_config(tmp_path, make_root(tmp_path))
    study = tmp_path / "runs"
    target = study / "bad_input" / "seed0"
    target.mkdir(parents=True)
    (target / "metrics.json").write_text('{"AR1000": 42.0}\n')

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a run was started although --study would be refused")
    monkeypatch.setattr(cli, "new_trainer", refuse)
    expect_error(train_args(cfg, tmp_path / "run", "--study", "--study-dir", study), capsys,
                 "seed0/metrics.json", "never replaces")
    assert (target / "metrics.json").read_text() == '{"AR1000": 42.0}\n'


# ----------------------------------------------------------------------------------------------
# 5. atomic writes: a full disk leaves the previous file
# ----------------------------------------------------------------------------------------------

def test_a_full_disk_leaves_the_previous_outputs(evaluated, capsys, monkeypatch):
    cfg, ckpt, ev = evaluated
    before = snapshot(ev)

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr("scrpn.outputs.os.fsync", full_disk)
    expect_error(evaluate_args(cfg, ckpt, "--out", ev, "--dump-proposals", "--overwrite"), capsys,
                 "ev/proposals.json: cannot write", "No space left on device", "unchanged")
    assert snapshot(ev) == before  # no torn file, no temporary, no lock left behind


@pytest.mark.parametrize("writer", ["metrics", "log", "config", "checkpoint", "figure", "table",
                                    "proposals"])
def test_every_output_goes_through_the_atomic_write(tmp_path, monkeypatch, writer):
    """Each writer calls scrpn.outputs.atomic_write: a failing stream leaves the old file."""
    from scrpn.config import dump_config
    from scrpn.engine.evaluator import write_metrics
    from scrpn.engine.logging import JsonlLogger

    cfg = load_config(write_config(tmp_path, tmp_path))
    target = tmp_path / "out.txt"
    target.write_text("previous\n")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr("scrpn.outputs.os.fsync", full_disk)
    from scrpn.outputs import WriteError
    with pytest.raises(WriteError, match=r"(out\.txt|out\.png|causes\.csv): cannot write"):
        if writer == "metrics":
            write_metrics(target, {"AR100": 1.0}, cfg)
        elif writer == "log":
            JsonlLogger(target).truncate_after(0)
        elif writer == "config":
            dump_config(cfg, target)
        elif writer == "figure":
            import matplotlib.pyplot as plt
            from scrpn.viz.common import save_figure
            target = target.with_suffix(".png")
            target.write_text("previous\n")
            figure = plt.figure()
            try:
                save_figure(figure, "out", tmp_path)
            finally:
                plt.close(figure)
        elif writer == "table":
            import pandas as pd
            from scrpn.study.causes import write_causes
            target = tmp_path / "causes.csv"
            target.write_text("previous\n")
            write_causes(pd.DataFrame({"a": [1.0]}), tmp_path)
        elif writer == "proposals":
            from scrpn.evaluation import dump_proposals
            dump_proposals(target, [{"image_id": 1, "boxes": [[0, 0, 2, 2]], "scores": [1.0]}])
        else:
            save_checkpoint(target, {"format": 1})
    assert target.read_text() == "previous\n"
    assert not list(tmp_path.glob(".*.tmp"))


# ----------------------------------------------------------------------------------------------
# 7. Ctrl-C during evaluate
# ----------------------------------------------------------------------------------------------

def test_ctrl_c_during_the_dump_exits_130_with_files_intact(evaluated, capsys, monkeypatch):
    cfg, ckpt, ev = evaluated
    before = snapshot(ev)

    def interrupted_dump(path: Any, text: str) -> None:
        def write(stream: Any) -> None:
            stream.write(text[: len(text) // 2].encode())
            raise KeyboardInterrupt
        atomic_write(path, write)
    monkeypatch.setattr("scrpn.data.proposal_files.atomic_write_text", interrupted_dump)
    code, _, err = run(evaluate_args(cfg, ckpt, "--out", ev, "--dump-proposals", "--overwrite"),
                       capsys)
    assert code == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("scrpn: interrupted")
    assert snapshot(ev) == before


# ----------------------------------------------------------------------------------------------
# 5. the run-folder lock
# ----------------------------------------------------------------------------------------------

def _hold_lock(folder: Path) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import time
        from scrpn.outputs import RunLock
        RunLock({str(folder)!r}, "test").acquire()
        print("locked", flush=True)
        time.sleep(120)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_train_on_the_same_out_is_refused_and_a_stale_lock_taken_over(
        tmp_path, capsys, dummy_model):
    cfg = write_config(tmp_path, make_root(tmp_path))
    out = tmp_path / "run"
    holder = _hold_lock(out)
    try:
        expect_error(train_args(cfg, out), capsys, f"{out}: in use by another scrpn process",
                     f"pid {holder.pid}")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written
    finally:
        holder.kill()  # SIGKILL: the lock file stays behind, with a pid that is gone
        holder.wait()
    assert (out / LOCK_NAME).read_text().split()[0] == str(holder.pid)
    code, _, err = run(train_args(cfg, out), capsys)
    assert code == 0, err
    assert f"took over the stale lock of pid {holder.pid}" in err
    assert not (out / LOCK_NAME).exists() and (out / "final.pth").is_file()


def test_the_lock_is_named_before_any_other_refusal(tmp_path, capsys, dummy_model):
    """A run in progress has written latest.pth: the second run is told about the run (its pid),
    with or without --resume, not asked to pass --resume."""
    cfg = write_config(tmp_path, make_root(tmp_path))
    out = tmp_path / "run"
    out.mkdir()
    (out / "latest.pth").write_bytes(b"the running run's checkpoint")
    with RunLock(out, "test"):
        for extra in ([], ["--resume"]):
            expect_error(train_args(cfg, out, *extra), capsys, "in use by another scrpn process",
                         f"pid {os.getpid()}")
        assert (out / "latest.pth").read_bytes() == b"the running run's checkpoint"
    assert sorted(p.name for p in out.iterdir()) == ["latest.pth"]


def test_a_refused_run_leaves_no_empty_folder(tmp_path, capsys, dummy_model):
    cfg = write_config(tmp_path, make_root(tmp_path))
    expect_error(train_args(cfg, tmp_path / "new", "--resume"), capsys, "no checkpoint to resume")
    assert not (tmp_path / "new").exists()


def test_the_lock_is_held_during_the_run(tmp_path):
    with RunLock(tmp_path / "run"):
        with pytest.raises(Exception, match=f"pid {os.getpid()}"):
            RunLock(tmp_path / "run").acquire()
    RunLock(tmp_path / "run").acquire()  # released: free again


# ----------------------------------------------------------------------------------------------
# 9. fault test: kill -9 during the dump
# ----------------------------------------------------------------------------------------------

DRIVER = """
import sys, time
sys.path.insert(0, {tests!r})
import scrpn.build
import scrpn.data.proposal_files as proposal_files
from conftest import DummyProposalModel
from scrpn.cli import main
from scrpn.outputs import atomic_write

scrpn.build.build_model = lambda cfg: DummyProposalModel()

def slow_dump(path, text):
    data = text.encode()
    def write(stream):
        stream.write(data[: len(data) // 2])
        stream.flush()
        open({marker!r}, "w").close()
        time.sleep(120)
        stream.write(data[len(data) // 2:])
    atomic_write(path, write)

proposal_files.atomic_write_text = slow_dump
sys.exit(main(sys.argv[1:]))
"""


def _signal_during_the_dump(cfg: Path, ckpt: Path, ev: Path, tmp_path: Path,
                            signum: int) -> subprocess.CompletedProcess:
    """Run ``scrpn evaluate --dump-proposals --overwrite`` into ``ev`` in a subprocess whose dump
    stops half-written; send ``signum`` then."""
    marker = tmp_path / "dumping"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(tests=str(REPO / "tests"), marker=str(marker)))
    env = {**os.environ, "PYTHONPATH": str(REPO), "SCRPN_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}
    argv = [str(a) for a in evaluate_args(cfg, ckpt, "--out", ev, "--dump-proposals",
                                          "--overwrite")]
    # the child starts with Ctrl-C's default disposition even when this test runs under a parent
    # that ignores SIGINT (a shell's background job: `cmd &` without job control), which a child
    # inherits and Python then leaves ignored
    proc = subprocess.Popen([sys.executable, str(driver), *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the dump never started"
            time.sleep(0.05)
        torn = list(ev.glob(".proposals.json.*.tmp"))
        assert len(torn) == 1 and torn[0].stat().st_size > 0  # the dump is under way
    finally:
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=180)   # generous: a loaded CI machine
    return subprocess.CompletedProcess(argv, proc.returncode, "", err)


def test_ctrl_c_during_a_real_dump_is_one_line_and_exit_130(evaluated, tmp_path):
    cfg, ckpt, ev = evaluated
    before = snapshot(ev)
    done = _signal_during_the_dump(cfg, ckpt, ev, tmp_path, signal.SIGINT)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("scrpn: interrupted (SIGINT)")
    assert snapshot(ev) == before  # previous files, no temporary, the lock released


def test_sigterm_during_a_real_dump_is_one_line_saying_what_was_not_written(evaluated, tmp_path):
    """SIGTERM (what a scheduler or ``kill`` sends) used to end ``scrpn evaluate`` without a word
    (exit -15, the lock file left behind); it is reported as Ctrl-C is, exit 128 + 15."""
    cfg, ckpt, ev = evaluated
    before = snapshot(ev)
    done = _signal_during_the_dump(cfg, ckpt, ev, tmp_path, signal.SIGTERM)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("scrpn: interrupted (SIGTERM): evaluate stopped before the end; "
                           f"nothing was written to {ev}; {ev / 'metrics.json'}, "
                           f"{ev / 'proposals.json'} not written (an earlier file there is "
                           "unchanged)"), line
    assert snapshot(ev) == before  # previous files, no temporary, the lock released


def test_kill_9_during_the_dump_leaves_the_previous_proposals(evaluated, tmp_path, capsys):
    cfg, ckpt, ev = evaluated
    before = snapshot(ev)
    done = _signal_during_the_dump(cfg, ckpt, ev, tmp_path, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    after = {name: data for name, data in snapshot(ev).items() if not name.endswith(".tmp")}
    assert after.pop(LOCK_NAME, None) is not None  # the killed process's lock stays behind
    assert after == before  # the previous proposals.json and metrics.json, byte for byte
    # the next evaluation there takes the stale lock over and removes the torn temporary
    code, _, err = run(evaluate_args(cfg, ckpt, "--out", ev, "--dump-proposals", "--overwrite"),
                       capsys)
    assert code == 0, err
    assert "took over the stale lock" in err
    assert sorted(p.name for p in ev.iterdir()) == ["metrics.json", "proposals.json"]


# SIGTERM at any point of any command: during the torch import at start-up (it used to end the
# process without a word) and in a command that had no handler (config show), one line, 143
STARTUP_DRIVER = """
import importlib.abc, runpy, sys, time

class StallTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            open({marker!r}, "w").close()
            time.sleep(120)
        return None

sys.meta_path.insert(0, StallTorch())
sys.argv = ["scrpn", *{argv!r}]
runpy.run_module("scrpn", run_name="__main__", alter_sys=True)
"""

COMMAND_DRIVER = """
import sys, time
import scrpn.cli as cli

real = cli.config_lines
def slow(*args, **kwargs):
    open({marker!r}, "w").close()
    time.sleep(120)
    return real(*args, **kwargs)

cli.config_lines = slow
sys.argv = ["scrpn", *{argv!r}]
from scrpn.__main__ import main
sys.exit(main())
"""


def _sigterm_when_marked(driver: str, argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``driver`` (``{marker}``, ``{argv}``) in a subprocess; SIGTERM once it has made the
    marker (the point under test is reached and stalled there)."""
    marker = tmp_path / "reached"
    script = tmp_path / "driver.py"
    script.write_text(driver.format(marker=str(marker), argv=argv))
    env = {**os.environ, "PYTHONPATH": str(REPO), "SCRPN_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300   # generous: a loaded machine
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the driver never reached the point"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=180)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def test_sigterm_while_torch_is_imported_is_one_line_and_exit_143(tmp_path):
    done = _sigterm_when_marked(STARTUP_DRIVER, ["data", "stats"], tmp_path)
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip().splitlines() == [
        "scrpn: interrupted (SIGTERM) while starting up (importing torch and the package): "
        "nothing was written"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["driver.py", "reached"]


def test_sigterm_in_a_command_without_outputs_is_one_line_and_exit_143(tmp_path):
    done = _sigterm_when_marked(COMMAND_DRIVER, ["config", "show", str(SMOKE_RPN)], tmp_path)
    assert done.returncode == 143, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "scrpn: interrupted (SIGTERM): config show stopped before the end; no file was written; "
        "no partial file is left (writes are atomic)"]


def test_the_interrupted_line_before_the_arguments_and_with_files_kept():
    assert cli.interrupted_line(None, signal.SIGTERM, []) == (
        "scrpn: interrupted (SIGTERM): scrpn stopped before the end; no file was written; "
        "no partial file is left (writes are atomic)")
    args = cli.build_parser().parse_args(["reproduce", "--only", "01"])
    kept = [Path(f"notebooks/0{i}_x.ipynb") for i in range(5)]   # five kept: three named
    assert cli.interrupted_line(args, signal.SIGINT, kept) == (
        "scrpn: interrupted (SIGINT): reproduce stopped before the end; wrote "
        "notebooks/00_x.ipynb, notebooks/01_x.ipynb, notebooks/02_x.ipynb and 2 more (complete); "
        "no partial file is left (writes are atomic)")


def test_the_console_script_starts_where_the_handler_is_installed_first():
    text = (REPO / "pyproject.toml").read_text()
    assert 'scrpn = "scrpn.__main__:main"' in text
    first = (REPO / "scrpn" / "__main__.py").read_text().split("def main() -> int:\n")[1]
    assert first.splitlines()[0].strip() == "raise_on_sigterm()"   # before `from scrpn.cli ...`


# ----------------------------------------------------------------------------------------------
# 1. one ground truth for both evaluation paths
# ----------------------------------------------------------------------------------------------

def _probe_boxes(data: dict) -> None:
    """Three annotations no reading of ours counts, placed where no proposal can reach them."""
    anns = data["annotations"]
    anns.append({"id": 101, "image_id": 2, "category_id": 1, "bbox": [100.0, 5.0, 0.0, 10.0],
                 "area": 0.0, "iscrowd": 0})                       # zero width
    anns.append({"id": 102, "image_id": 3, "category_id": 1, "bbox": [300.0, 10.0, 20.0, 20.0],
                 "area": 400.0, "iscrowd": 0})                     # entirely outside
    anns.append({"id": 103, "image_id": 4, "category_id": 1, "bbox": [100.0, 70.0, 20.0, 20.0],
                 "area": 400.0, "iscrowd": 0, "ignore": 1})        # ignore flag


class NearProposals(PerfectProposals):
    """Each kept box shifted by 2 px (score 0.9) and by 7 px (score 0.5): partial recall."""

    def forward(self, images: Any, targets: list[dict]) -> Any:
        if self.training:
            return super().forward(images, targets)
        out = []
        for t in targets:
            boxes = torch.cat([t["boxes"] + 2.0, t["boxes"] + 7.0])
            scores = torch.cat([torch.full((len(t["boxes"]),), 0.9),
                                torch.full((len(t["boxes"]),), 0.5)])
            out.append({"boxes": boxes, "scores": scores})
        return out


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model", [PerfectProposals, NearProposals])
def test_both_paths_score_the_same_proposals_alike(tmp_path, capsys, monkeypatch, model):
    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: model())
    root = make_root(tmp_path, _probe_boxes)
    cfg, out = write_config(tmp_path, root), tmp_path / "run"
    code, stdout, err = run(train_args(cfg, out, "--dump-proposals"), capsys)
    assert code == 0, err
    trained = _last_json(stdout)
    gt = root / "annotations" / "instances_val2017.json"
    code, stdout, err = run(["evaluate", "--proposals", out / "proposals.json",
                             "--annotations", gt], capsys)
    assert code == 0, err
    scored = _last_json(stdout)
    for key in ("AR100", "AR300", "AR1000", "AR_S", "AR_M", "AR_L"):
        assert scored[key] == pytest.approx(trained[key], abs=1e-9, nan_ok=True), key
    if model is PerfectProposals:
        assert trained["AR100"] == pytest.approx(100.0)
    else:
        assert 0.0 < trained["AR100"] < 100.0
    # the same ground truth, reported alike: printed, in metrics.json, in the JSON line
    skipped = {"box_outside_image": 1, "degenerate_box": 1, "ignore_flag": 1}
    assert scored["ground_truth"]["skipped"] == skipped
    assert scored["ground_truth"]["objects"] == trained["ground_truth"]["objects"] == 6
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["ground_truth"]["skipped"] == skipped
    assert "1 annotations skipped: 'ignore' flag set" in err and "6 objects to find" in err


def _thin_image(data: dict) -> None:
    """An image too thin to resize (5000 x 1): the loader skips it; its object is missed."""
    data["images"].append({"id": 7, "file_name": "thin.png", "width": 5000, "height": 1})
    data["annotations"].append({"id": 70, "image_id": 7, "category_id": 1,
                                "bbox": [10.0, 0.0, 100.0, 1.0], "area": 100.0})


def test_an_image_too_thin_to_resize_is_missed_on_both_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: PerfectProposals())
    root = make_root(tmp_path, _thin_image)
    cfg, out = write_config(tmp_path, root), tmp_path / "run"
    code, stdout, err = run(train_args(cfg, out, "--dump-proposals"), capsys)
    assert code == 0, err
    assert "1 images skipped: a side would be < 1 px" in err
    trained = _last_json(stdout)
    code, stdout, err = run(["evaluate", "--proposals", out / "proposals.json", "--annotations",
                             root / "annotations" / "instances_val2017.json"], capsys)
    assert code == 0, err
    scored = _last_json(stdout)
    assert trained["AR100"] == pytest.approx(scored["AR100"]) == pytest.approx(100.0 * 6 / 7)


def test_the_pycocotools_reading_counts_what_pycocotools_counts(tmp_path, capsys, monkeypatch):
    """Perfect proposals of the six kept boxes: pycocotools also counts the zero-width, the
    outside and the ignore:1 box, so AR = 6 / 9 of the objects at every threshold."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: PerfectProposals())
    root = make_root(tmp_path, _probe_boxes)
    cfg, out = write_config(tmp_path, root), tmp_path / "run"
    assert run(train_args(cfg, out, "--dump-proposals"), capsys)[0] == 0
    gt = root / "annotations" / "instances_val2017.json"
    code, stdout, err = run(["evaluate", "--proposals", out / "proposals.json",
                             "--annotations", gt, "--gt-reading", "pycocotools"], capsys)
    assert code == 0, err
    metrics = _last_json(stdout)
    assert metrics["AR100"] == pytest.approx(100.0 * 6 / 9)
    assert metrics["ground_truth"]["objects"] == 9 and metrics["ground_truth"]["skipped"] == {}
    # and pycocotools itself, on the same two files
    coco = COCO(str(gt))
    cocoeval = COCOeval(coco, coco.loadRes(str(out / "proposals.json")), "bbox")
    cocoeval.params.useCats = 0
    cocoeval.params.maxDets = [100, 300, 1000]
    cocoeval.evaluate()
    cocoeval.accumulate()
    assert 100.0 * cocoeval.eval["recall"][:, 0, 0, 0].mean() == pytest.approx(metrics["AR100"])


def _gt_and_proposals(tmp_path: Path, edit: Any = None) -> tuple[Path, Path]:
    root = make_root(tmp_path, edit, splits=("val",))
    proposals = tmp_path / "p.json"
    proposals.write_text(json.dumps([{"image_id": 1, "category_id": 1,
                                      "bbox": [10.0, 12.0, 40.0, 30.0], "score": 1.0}]))
    return root / "annotations" / "instances_val2017.json", proposals


def _add(key: str, value: Any) -> Any:
    def edit(data: dict) -> None:
        data["annotations"].append({"id": 50, "image_id": 2, "category_id": 1,
                                    "bbox": [60.0, 40.0, 30.0, 30.0], "area": 900.0, key: value})
    return edit


@pytest.mark.parametrize("edit, fragments", [
    (lambda d: d["annotations"].append(
        {"id": 50, "image_id": 77, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25}),
     ["annotation id 50", "unknown image id 77"]),
    (lambda d: d["annotations"].append(
        {"id": 51, "image_id": 2, "category_id": 9, "bbox": [1, 1, 5, 5], "area": 25}),
     ["annotation id 51", "unknown category id 9"]),
    (lambda d: d.update(categories=[]), ["'categories' is empty"]),
    (lambda d: d.update(images=[], annotations=[]), ["'images' is empty"]),
    (lambda d: [a.update(ignore=1) for a in d["annotations"]], ["no object to find"]),
])
def test_files_that_would_score_wrong_or_null_are_refused(tmp_path, capsys, edit, fragments):
    gt, proposals = _gt_and_proposals(tmp_path, edit)
    expect_error(["evaluate", "--proposals", proposals, "--annotations", gt], capsys,
                 "instances_val2017.json", *fragments)


def test_an_empty_validation_json_is_refused_before_training(tmp_path, capsys, dummy_model):
    root = make_root(tmp_path, lambda d: d.update(images=[], annotations=[]), splits=("val",))
    out = tmp_path / "run"
    expect_error(train_args(write_config(tmp_path, root), out), capsys,
                 "instances_val2017.json", "'images' is empty")
    assert not (out / "metrics.json").exists() and not (out / "latest.pth").exists()


def test_a_validation_set_without_objects_is_refused_before_training(tmp_path, capsys,
                                                                      dummy_model):
    root = make_root(tmp_path, lambda d: [a.update(iscrowd=1) for a in d["annotations"]],
                     splits=("val",))
    out = tmp_path / "run"
    expect_error(train_args(write_config(tmp_path, root), out), capsys,
                 "instances_val2017.json", "no object to find")
    assert not (out / "latest.pth").exists()


# ----------------------------------------------------------------------------------------------
# 2. scores as float64, ranked as pycocotools ranks them
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, expected", [
    (0.9000000001, 0.9000000002, 100.0),   # float32 makes these a tie: the hit would rank 101st
    (1e-50, 2e-50, 100.0),                 # float32 makes both 0.0
    (0.5, 0.5, 0.0),                       # a real tie: stable, the file order decides
])
def test_near_equal_scores_rank_as_in_pycocotools(tmp_path, capsys, low, high, expected):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, proposals = _gt_and_proposals(tmp_path)
    misses = [{"image_id": 1, "category_id": 1, "bbox": [90.0 + k % 20, 60.0, 5.0, 5.0],
               "score": low} for k in range(100)]
    hit = {"image_id": 1, "category_id": 1, "bbox": [10.0, 12.0, 40.0, 30.0], "score": high}
    proposals.write_text(json.dumps(misses + [hit]))
    code, stdout, err = run(["evaluate", "--proposals", proposals, "--annotations", gt], capsys)
    assert code == 0, err
    ours = _last_json(stdout)
    coco = COCO(str(gt))
    cocoeval = COCOeval(coco, coco.loadRes(str(proposals)), "bbox")
    cocoeval.params.useCats = 0
    cocoeval.params.maxDets = [100, 300, 1000]
    cocoeval.evaluate()
    cocoeval.accumulate()
    recall = cocoeval.eval["recall"][:, 0, 0, 0]
    reference = 100.0 * recall[recall > -1].mean()
    # image 1 holds one of the six objects: the hit is worth 100 / 6
    assert ours["AR100"] == pytest.approx(reference) == pytest.approx(expected / 6)


# ----------------------------------------------------------------------------------------------
# 3. iscrowd / ignore: 0, 1, false or true, nothing else
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["iscrowd", "ignore"])
@pytest.mark.parametrize("value", ["0", [0], 1.0, 2, None, "true"])
def test_flags_are_type_checked_on_both_paths(tmp_path, capsys, dummy_model, key, value):
    gt, proposals = _gt_and_proposals(tmp_path, _add(key, value))
    fragments = ("instances_val2017.json", "annotation id 50", f"'{key}' must be 0 or 1")
    expect_error(["evaluate", "--proposals", proposals, "--annotations", gt], capsys, *fragments)
    expect_error(train_args(write_config(tmp_path, gt.parents[1]), tmp_path / "run"), capsys,
                 *fragments)


@pytest.mark.parametrize("key, value, objects", [("iscrowd", True, 6), ("iscrowd", 0, 7),
                                                  ("ignore", False, 7), ("ignore", 1, 6)])
def test_flags_that_are_flags_are_read(tmp_path, capsys, key, value, objects):
    gt, proposals = _gt_and_proposals(tmp_path, _add(key, value))
    code, stdout, err = run(["evaluate", "--proposals", proposals, "--annotations", gt], capsys)
    assert code == 0, err
    assert _last_json(stdout)["ground_truth"]["objects"] == objects


# ----------------------------------------------------------------------------------------------
# 6. only regular files are opened: a named pipe never blocks
# ----------------------------------------------------------------------------------------------

def test_an_image_that_is_a_named_pipe_is_refused(tmp_path, capsys, dummy_model, alarm):
    root = make_root(tmp_path)
    pipe = root / "val2017" / "2.png"
    pipe.unlink()
    os.mkfifo(pipe)
    cfg = write_config(tmp_path, root)
    ckpt = make_checkpoint(tmp_path, cfg)
    expect_error(evaluate_args(cfg, ckpt), capsys, "val2017/2.png", "image id 3",
                 "not a regular file")
    folder = root / "val2017" / "4.png"
    folder.unlink()
    folder.mkdir()
    with pytest.raises(Exception, match="not a regular file"):
        from scrpn.data.coco import open_regular
        open_regular(pipe)  # also when the pipe appears after the dataset was checked


def test_an_annotation_file_that_is_a_named_pipe_is_refused(tmp_path, capsys, alarm):
    gt, proposals = _gt_and_proposals(tmp_path)
    gt.unlink()
    os.mkfifo(gt)
    expect_error(["evaluate", "--proposals", proposals, "--annotations", gt], capsys,
                 "instances_val2017.json", "not a regular file")
    pipe = tmp_path / "pipe.json"
    os.mkfifo(pipe)
    gt2, _ = _gt_and_proposals(tmp_path / "b")
    expect_error(["evaluate", "--proposals", pipe, "--annotations", gt2], capsys,
                 "pipe.json", "not a regular file")


# ----------------------------------------------------------------------------------------------
# 8. nesting, huge ids, ids of the wrong type, numbers beyond the float range: one line each,
#    naming the right file
# ----------------------------------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_is_one_line(tmp_path, capsys):
    gt, proposals = _gt_and_proposals(tmp_path)
    good = gt.read_text()
    gt.write_text(DEEP)
    expect_error(["evaluate", "--proposals", proposals, "--annotations", gt], capsys,
                 "instances_val2017.json", "nested too deeply")
    gt.write_text(good)
    proposals.write_text(DEEP)
    expect_error(["evaluate", "--proposals", proposals, "--annotations", gt], capsys,
                 "p.json", "nested too deeply")


def _image(key: str, value: Any) -> Any:
    def edit(data: dict) -> None:
        if value is KeyError:
            del data["images"][0][key]
        else:
            data["images"][0][key] = value
    return edit


@pytest.mark.parametrize("edit, fragments", [
    (_image("id", 2 ** 70), ["images[0]: id 1180591620717411303424 is out of range"]),
    (_image("id", KeyError), ["images[0] is missing key(s) ['id']"]),
    (_image("id", "1"), ["images[0]: id must be an integer, got '1'"]),
    (_image("width", 10 ** 400), ["image id 1", "width must be a positive whole number"]),
    (lambda d: d["annotations"][1].update(image_id=2 ** 70),
     ["annotation id 2", "image_id 1180591620717411303424 is out of range"]),
    (lambda d: d["annotations"][1].update(id=-2 ** 70), ["id -1180591620717411303424 is out"]),
    (lambda d: d["annotations"][1]["bbox"].__setitem__(2, 10 ** 400),
     ["annotation id 2", "bbox has a value that is not finite"]),
])
def test_bad_ids_and_numbers_name_the_annotation_file(tmp_path, capsys, edit, fragments):
    gt, proposals = _gt_and_proposals(tmp_path, edit)
    line = expect_error(["evaluate", "--proposals", proposals, "--annotations", gt], capsys,
                        "instances_val2017.json", *fragments)
    assert "p.json" not in line


@pytest.mark.parametrize("field, value, fragment", [
    ("image_id", 2 ** 70, "image_id 1180591620717411303424 is out of range"),
    ("image_id", "1", "image_id must be an integer, got '1'"),
    ("score", 10 ** 400, "score must be a finite number"),
    ("score", 2 ** 53 + 1, "integer beyond 2^53"),
    ("bbox", [10 ** 400, 0, 5, 5], "bbox must be 4 finite numbers"),
])
def test_bad_ids_and_numbers_in_proposals_name_the_proposals_file(tmp_path, capsys, field,
                                                                   value, fragment):
    gt, proposals = _gt_and_proposals(tmp_path)
    entry = {"image_id": 1, "category_id": 1, "bbox": [10.0, 12.0, 40.0, 30.0], "score": 1.0}
    entry[field] = value
    proposals.write_text(json.dumps([entry]))
    expect_error(["evaluate", "--proposals", proposals, "--annotations", gt], capsys,
                 "p.json: entry 0", fragment)
