"""``scrpn study --jobs N`` (issue 37, ``scrpn/study/jobs.py``).

Two smoke rows trained with ``--jobs 2`` (two processes side by side, 1 thread each) give the same
records as with ``--jobs 1`` at the same thread count: every metric, the iterations, the
fingerprint and the training losses; only times, paths and provenance differ. (At another thread
count the runs agree to noise, not to the bit, as ``train.num_threads`` always did.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn import cli
from scrpn.study.jobs import default_threads, plan_groups
from scrpn.study.runs import Study

ROOT = Path(__file__).resolve().parents[1]
ROWS = ["rpn", "ga_rpn"]
# what may differ between two processes that compute the same run
VOLATILE = {"wall_seconds", "cpu_seconds", "train_seconds", "seconds_per_image", "checkpoint",
            "earlier_wall_seconds", "earlier_cpu_seconds", "trained_by", "training_parts",
            "evaluated_by", "code_commit", "code_dirty", "torch_threads"}


def _study(tmp: Path, *args: str, jobs: int) -> int:
    """``--jobs 1`` trains in this process (at SCRPN_NUM_THREADS); more jobs at 1 thread each."""
    threads = ["--threads-per-job", "1"] if jobs > 1 else []
    return cli.main(["study", *ROWS, "--profile", "smoke", "--results-dir", str(tmp / "results"),
                     "--jobs", str(jobs), *threads, "--allow-dirty", *args])


def _records(tmp: Path) -> dict:
    out = {}
    for row in ROWS:
        run = tmp / "results" / "runs" / row / "seed0"
        record = json.loads((run / "metrics.json").read_text())
        losses = [json.loads(line).get("loss") for line in (run / "log.jsonl").read_text().splitlines()]
        out[row] = ({k: v for k, v in record.items() if k not in VOLATILE and "seconds" not in k}, losses)
    return out


def test_two_jobs_give_the_records_of_one(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SCRPN_NUM_THREADS", "1")   # --jobs 1 at the jobs' thread count
    monkeypatch.setenv("SCRPN_WORK_DIR", str(tmp_path / "one" / "work"))
    assert _study(tmp_path / "one", jobs=1) == 0
    monkeypatch.setenv("SCRPN_WORK_DIR", str(tmp_path / "two" / "work"))
    assert _study(tmp_path / "two", jobs=2) == 0
    out, err = capsys.readouterr()
    one, two = _records(tmp_path / "one"), _records(tmp_path / "two")
    assert one == two
    assert one["rpn"][0]["AR1000"] is not None and len(one["rpn"][1]) >= 2
    # each run's lines come whole, prefixed with their run; the summary lines are the JSON records
    assert any(line.startswith("[ga_rpn seed 0] ") for line in err.splitlines())
    printed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["name"] for r in printed[-2:]] == ROWS
    # resumable / cached: the same command again trains nothing
    assert _study(tmp_path / "two", jobs=2) == 0
    assert "training" not in capsys.readouterr().err


def test_threads_per_job_is_honoured_with_one_job(tmp_path, monkeypatch) -> None:
    """``--jobs 1 --threads-per-job 3``: one job at 3 threads (the count no machine here defaults
    to), not the flag silently dropped; the record says which count trained and evaluated it."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SCRPN_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("SCRPN_NUM_THREADS", raising=False)
    assert cli.main(["study", "rpn", "--profile", "smoke", "--results-dir", str(tmp_path / "results"),
                     "--jobs", "1", "--threads-per-job", "3", "--allow-dirty"]) == 0
    record = json.loads((tmp_path / "results" / "runs" / "rpn" / "seed0" / "metrics.json").read_text())
    assert record["torch_threads"] == 3


def test_runs_sharing_a_checkpoint_form_one_group() -> None:
    study = Study(profile="smoke", config_root=ROOT / "configs")
    runs = [("sc_rpn", 0), ("rpn", 0), ("sc_rpn_notest", 0), ("rpn", 1)]
    # sc_rpn and its test variant train the same checkpoint: one group, in plan order
    assert plan_groups(study, runs) == [[("sc_rpn", 0), ("sc_rpn_notest", 0)], [("rpn", 0)], [("rpn", 1)]]


def test_threads_are_shared_out() -> None:
    assert default_threads(2, cpus=2) == 1 and default_threads(1, cpus=2) == 2
    assert default_threads(4, cpus=2) == 1 and default_threads(2, cpus=16) == 8


def test_bad_jobs_are_one_line(capsys) -> None:
    assert cli.main(["study", "rpn", "--jobs", "0"]) == 2
    assert capsys.readouterr().err.strip().startswith("scrpn: error: --jobs")


def test_experiment_jobs_train_stage_by_stage(tmp_path, monkeypatch, capsys) -> None:
    """``scrpn study --experiment N --jobs 2``: a stage's missing runs train side by side, and a
    later stage is planned only once the earlier stage's runs are cached (its rows read them); a
    stage left with one missing run gives it every CPU (threads = CPUs / runs, not / jobs)."""
    from scrpn.study import experiments
    from scrpn.study import jobs as jobs_module
    from scrpn.study.experiments.record import Experiment, Stage

    seen: list[set] = []

    def second_stage(runs) -> list[str]:
        seen.append({name for name in ROWS if runs(name)})
        return ["rpn"]

    fake = Experiment(99, "test", "test", arms=(), rule=lambda runs: {"verdict": "pending"},
                      report=lambda runs: [], stages=(Stage("first", tuple(ROWS), seeds=(0,)),
                                                      Stage("second", second_stage, seeds=(1,))))
    monkeypatch.setitem(experiments.REGISTRY, 99, fake)
    widths: list[tuple[int, int]] = []
    real_run_jobs = jobs_module.run_jobs

    def spy(study, runs, jobs, threads=None, **kwargs):
        widths.append((len(runs), jobs, threads))
        return real_run_jobs(study, runs, jobs, threads=threads, **kwargs)

    monkeypatch.setattr(jobs_module, "run_jobs", spy)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SCRPN_WORK_DIR", str(tmp_path / "work"))
    args = ["study", "--experiment", "99", "--profile", "smoke", "--results-dir", str(tmp_path / "results"),
            "--jobs", "2", "--allow-dirty"]
    assert cli.main(args) == 0
    out, err = capsys.readouterr()
    assert seen == [set(ROWS)]                       # stage 2 planned after both stage-1 runs landed
    assert widths == [(2, 2, default_threads(2)), (1, 1, default_threads(1))]
    printed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(r["name"], r["seed"]) for r in printed] == [("rpn", 0), ("ga_rpn", 0), ("rpn", 1)]
    assert all(r["AR1000"] is not None for r in printed)
    # the same command again finds every run cached and starts no job
    assert cli.main(args) == 0
    assert len(widths) == 2
