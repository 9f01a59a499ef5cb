"""``scrpn study verify`` (scrpn/study/verify.py): a smoke run retrained at its recorded commit in a
throw-away repository is identical; a one-ulp change in a logged loss is reported at its iteration;
a run that records no commit exits 2 and says so."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from scrpn.cli import main
from scrpn.study import Study
from scrpn.study.verify import compare_logs, compare_metrics, setting_differences, spread_comparison, verify_run

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}).stdout.strip()


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> dict:
    """A repository holding this checkout's scrpn/ and configs/ at one commit, and a smoke run
    (rpn seed 0) trained by that code, its record naming that commit."""
    base = tmp_path_factory.mktemp("verify")
    repo = base / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "scrpn", repo / "scrpn", ignore=ignore)
    shutil.copytree(ROOT / "configs", repo / "configs", ignore=ignore)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "code")
    head = git(repo, "rev-parse", "HEAD")
    study = Study(profile="smoke", results_dir=base / "results", work_dir=base / "work",
                  config_root=repo / "configs", log=lambda m: None)
    record = study.run("rpn", 0)
    # trained in this process by the same code as the commit's (copied above): name the commit
    record["training_parts"] = [dict(record["training_parts"][0], commit=head, dirty=False)]
    path = study.run_dir("rpn", 0) / "metrics.json"
    path.write_text(json.dumps(record, indent=2))
    return {"repo": repo, "head": head, "results": base / "results", "run_dir": path.parent,
            "record": record, "log": (path.parent / "log.jsonl").read_text()}


def _study(committed: dict) -> Study:
    return Study(profile="smoke", results_dir=committed["results"], config_root=committed["repo"] / "configs",
                 log=lambda m: None)


def _restore(committed: dict) -> None:
    (committed["run_dir"] / "metrics.json").write_text(json.dumps(committed["record"], indent=2))
    (committed["run_dir"] / "log.jsonl").write_text(committed["log"])


def test_a_smoke_run_retrained_at_its_commit_is_identical(committed: dict) -> None:
    _restore(committed)
    result = verify_run(_study(committed), "rpn", 0, repo=committed["repo"], log=lambda m: None)
    assert result.status == 0, result.lines
    assert result.lines[-1].startswith("identical (") and "the whole run" in result.lines[-1]
    assert git(committed["repo"], "worktree", "list").count("\n") == 0   # the temporary worktree is gone


def test_a_one_ulp_change_in_a_loss_is_reported_at_its_iteration(committed: dict) -> None:
    _restore(committed)
    lines = [json.loads(line) for line in committed["log"].splitlines()]
    second = next(r for r in lines if r.get("iter") == 2)
    second["loss"] = math.nextafter(second["loss"], math.inf)      # one unit in the last place
    (committed["run_dir"] / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = verify_run(_study(committed), "rpn", 0, repo=committed["repo"], log=lambda m: None)
    assert result.status == 1
    difference = result.first_difference
    assert (difference["iter"], difference["key"]) == (2, "loss")
    assert difference["abs"] == math.ulp(difference["reproduced"]) and 0 < difference["rel"] < 1e-15
    assert "differs first at iteration 2: loss" in result.lines[-2]
    assert result.lines[-1] == "no recorded setting differs from this machine's"
    _restore(committed)


def test_a_run_without_a_commit_cannot_be_verified(committed: dict, capsys) -> None:
    legacy = {k: v for k, v in committed["record"].items()
              if k not in ("training_parts", "trained_by", "code_commit", "code_dirty")}
    (committed["run_dir"] / "metrics.json").write_text(json.dumps(legacy))
    status = main(["study", "verify", "rpn", "--profile", "smoke", "--results-dir", str(committed["results"]),
                   "--no-progress"])
    out = capsys.readouterr().out
    assert status == 2
    assert "rpn seed 0 records no commit: it cannot be verified bit for bit" in out
    assert "fewer than two committed seeds: no spread to compare with" in out
    _restore(committed)


def test_a_commit_the_repository_lacks_cannot_be_verified(committed: dict) -> None:
    result = verify_run(_study(committed), "rpn", 0, repo=committed["repo"], commit="0" * 40, log=lambda m: None)
    assert result.status == 2 and "commit 0000000000 is not in" in result.lines[-1]


def test_nothing_compared_is_not_identical(committed: dict) -> None:
    """A retraining shorter than the log's first logged iteration compares no value: before, that
    printed "identical (0 values compared ...)" and exit 0 (found on ``s4x_t4_maxiou_sat
    --iterations 3``, logged every 20). Now it cannot verify, and says which ``--iterations``
    would. The committed log here keeps only iteration 2."""
    _restore(committed)
    lines = [json.loads(line) for line in committed["log"].splitlines()]
    kept = [r for r in lines if not (r.get("type") == "train" and r.get("iter") == 1)]
    (committed["run_dir"] / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    result = verify_run(_study(committed), "rpn", 0, iterations=1, repo=committed["repo"], log=lambda m: None)
    assert result.status == 2
    assert result.lines[-1].endswith("nothing compared: its first logged iteration is 2; pass --iterations 2 or more")
    _restore(committed)


def _rung_copy(committed: dict, name: str, profile: str) -> Path:
    """The smoke run's files under another run name, its record naming ``profile``."""
    folder = committed["results"] / "runs" / name / "seed0"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "log.jsonl").write_text(committed["log"])
    (folder / "metrics.json").write_text(json.dumps(dict(committed["record"], name=name, profile=profile)))
    return folder


def test_a_schedule_rungs_run_is_verified_by_its_own_name(committed: dict, capsys) -> None:
    """Experiment 10's runs (issue 38) are verifiable: ``scrpn study verify s2x_rpn`` is ``rpn`` at
    ``--profile 2x``, checked against the profile its record names, its config's (``mini``: a rung
    overlays only the schedule). Before, ``--profile`` took only smoke, mini and full, and a rung's
    record would have been refused for naming ``mini``. A commit the checkout lacks stops it just
    after those checks (nothing is retrained here); a record of another profile is refused first."""
    folder = _rung_copy(committed, "s2x_rpn", "mini")
    args = ["study", "verify", "s2x_rpn", "--results-dir", str(committed["results"]), "--commit", "0" * 40,
            "--no-progress"]
    assert main(args) == 2
    out = capsys.readouterr().out
    assert "s2x_rpn seed 0: commit 0000000000 is not in" in out
    (folder / "metrics.json").write_text(json.dumps(dict(committed["record"], name="s2x_rpn", profile="smoke")))
    assert main(args) == 2
    assert "s2x_rpn seed 0: a run of profile 'smoke', not 'mini' (pass --profile smoke)" in capsys.readouterr().out


def test_the_converged_profile_is_verified_at_the_rung_it_points_to(committed: dict) -> None:
    """``--profile converged`` reads the rung ``configs/converged/_base.yaml`` names today (the
    run's own commit may point elsewhere or nowhere): here this checkout's pointer, copied into
    the throw-away repository."""
    rung = Study(profile="converged", config_root=committed["repo"] / "configs").schedule_rung()
    _rung_copy(committed, f"s{rung}_rpn", "mini")
    study = Study(profile="converged", results_dir=committed["results"], config_root=committed["repo"] / "configs",
                  log=lambda m: None)
    result = verify_run(study, "rpn", 0, repo=committed["repo"], commit="0" * 40, log=lambda m: None)
    assert result.status == 2 and result.lines[-1].endswith(f"s{rung}_rpn seed 0: commit 0000000000 is not in "
                                                            f"{committed['repo']}")


# ------------------------------------------------------------------ the comparisons, by hand
def test_compare_logs_reads_losses_up_to_n_bit_for_bit() -> None:
    committed = [{"type": "train", "iter": 20, "loss": 0.5, "loss_cls": 0.25, "sec_per_iter": 1.0},
                 {"type": "train", "iter": 40, "loss": 0.375, "loss_cls": 0.125}]
    again = [{"type": "train", "iter": 20, "loss": 0.5, "loss_cls": 0.25, "sec_per_iter": 9.0},
             {"type": "train", "iter": 30, "loss": 7.0},
             {"type": "train", "iter": 40, "loss": 0.375, "loss_cls": 0.1250000001}]
    assert compare_logs(committed, again, up_to=30) == (None, 2)        # timings are not compared
    difference, compared = compare_logs(committed, again)
    assert compared == 3 and (difference["iter"], difference["key"]) == (40, "loss_cls")
    assert difference["abs"] == pytest.approx(1e-10) and difference["rel"] == pytest.approx(8e-10)
    missing, _ = compare_logs(committed, again[:1])
    assert missing["iter"] == 40 and missing["reproduced"] is None


def test_compare_metrics_and_machine_settings() -> None:
    assert compare_metrics({"AR100": 1.5, "AR1000": 2.5, "seconds_per_image": 3.0},
                           {"AR100": 1.5, "AR1000": 2.5, "seconds_per_image": 4.0}) == (None, 2)
    assert compare_metrics({"AR1000": 2.5}, {"AR1000": 2.25})[0]["key"] == "AR1000"
    part = {"torch": "2.3.0", "numpy": "2.4.6", "cpu_capability": "AVX2", "threads": 2}
    here = {"torch": "2.14.1", "numpy": "2.4.6", "cpu_capability": "AVX512", "threads": 1}
    assert setting_differences(part, here) == ["torch 2.3.0 (here 2.14.1)", "cpu_capability AVX2 (here AVX512)"]


def test_spread_comparison_in_seed_standard_deviations() -> None:
    """Seeds log 1.0, 2.0 and 3.0 at iteration 20 (sample std 1.0); the retraining of seed 1 logs
    2.5: 0.5 from the committed value, half a standard deviation."""
    seeds = {k: [{"type": "train", "iter": 20, "loss": v}] for k, v in enumerate([1.0, 2.0, 3.0])}
    worst = spread_comparison([{"type": "train", "iter": 20, "loss": 2.5}], seeds, 1)
    assert worst == {"iter": 20, "key": "loss", "abs": 0.5, "spread": 1.0, "ratio": 0.5, "seeds": 3}
    assert spread_comparison([{"type": "train", "iter": 20, "loss": 2.5}], {1: seeds[1]}, 1) is None


def test_a_lower_recorded_instruction_set_is_applied() -> None:
    """A run recorded on an AVX2 machine is retrained here with ATen's and oneDNN's dispatch
    lowered to AVX2 (what reproduced experiment 3's retraining bit for bit); a higher recorded
    set cannot be applied, and an equal or unknown one needs nothing."""
    from scrpn.study.verify import isa_environment
    assert isa_environment("AVX2", "AVX512") == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert isa_environment("AVX512", "AVX2") == {}
    assert isa_environment("AVX512", "AVX512") == {} and isa_environment(None, "AVX512") == {}
