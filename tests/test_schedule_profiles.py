"""Experiment 10's schedule profiles (issue 38): the mini rows with only the schedule changed.

Pinned here: a rung changes max_iters and the lr steps (times n, warm-up unchanged) and nothing
else; its runs are named ``s<n>x_<row>``; RPN at rung 4x is the same training config as the
existing ``x2g2c_rpn_4x`` (experiment 2's control), so the fingerprints agree; ``converged`` is
refused until a pointer names the chosen rung, and then is that rung (same run names).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scrpn.config import ConfigError
from scrpn.study import Study, config_fingerprint
from scrpn.study.runs import SCHEDULE_RUNGS

ROOT = Path(__file__).resolve().parents[1]


def study(profile: str, root: Path = ROOT / "configs", **kwargs) -> Study:
    return Study(profile=profile, config_root=root, log=lambda _: None, **kwargs)


@pytest.mark.parametrize("rung, factor", [("2x", 2), ("4x", 4), ("8x", 8), ("16x", 16)])
def test_a_rung_scales_the_schedule_and_nothing_else(rung: str, factor: int) -> None:
    mini = study("mini").config("sc_rpn").to_dict()
    longer = study(rung).config("sc_rpn").to_dict()
    # the mini schedule: 700 iterations, steps at 525 and 650, warm-up 100 (configs/mini/_base.yaml)
    assert longer["train"]["max_iters"] == 700 * factor
    assert longer["train"]["lr_steps"] == [525 * factor, 650 * factor]
    assert longer["train"]["warmup_iters"] == mini["train"]["warmup_iters"] == 100
    for tree in (mini, longer):
        tree["train"].pop("max_iters"), tree["train"].pop("lr_steps"), tree.pop("name")
    assert longer == mini


def test_rung_runs_have_their_own_names_and_folders() -> None:
    four = study("4x")
    assert four.run_name("rpn") == "s4x_rpn"
    assert four.run_dir("rpn", 2) == Path("results/runs/s4x_rpn/seed2")
    assert study("8x", dataset="deepforest").run_name("cascade_rpn") == "s8x_deepforest_cascade_rpn"
    assert study("mini").run_name("rpn") == "rpn"
    assert SCHEDULE_RUNGS == ("2x", "4x", "8x", "16x")


def test_rpn_at_4x_is_experiment_2s_control() -> None:
    """x2g2c_rpn_4x (2,800 iterations, steps 2,100 / 2,600) trains exactly the 4x rung of RPN."""
    assert (config_fingerprint(study("4x").config("rpn", 0))
            == config_fingerprint(study("mini").config("x2g2c_rpn_4x", 0)))


def test_converged_is_refused_until_chosen_then_is_the_rung(tmp_path: Path) -> None:
    root = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", root)
    (root / "converged" / "_base.yaml").unlink(missing_ok=True)
    with pytest.raises(ConfigError, match="S\\* is not chosen yet"):
        study("converged", root).config("rpn")
    (root / "converged" / "_base.yaml").write_text("_base_: 4x.yaml\n")
    chosen = study("converged", root)
    assert chosen.run_name("rpn") == "s4x_rpn"
    assert (config_fingerprint(chosen.config("rpn", 1))
            == config_fingerprint(study("4x", root).config("rpn", 1)))
    (root / "converged" / "deepforest.yaml").write_text("_base_: 2x.yaml\n")
    assert study("converged", root, dataset="deepforest").run_name("rpn") == "s2x_deepforest_rpn"
    assert study("converged", root).run_name("rpn") == "s4x_rpn"
    (root / "converged" / "_base.yaml").write_text("_base_: 3x.yaml\n")
    with pytest.raises(ConfigError, match="exactly one line"):
        study("converged", root).config("rpn")


def test_the_cli_accepts_the_rungs() -> None:
    from scrpn.cli import build_parser

    args = build_parser().parse_args(["study", "rpn", "--profile", "8x", "--estimate"])
    assert args.profile == "8x"


def test_a_rung_profiles_notebooks_write_beside_the_mini_tables(tmp_path: Path, monkeypatch) -> None:
    """`scrpn reproduce --profile 4x` must not overwrite results/tables/*.csv (the mini tables)."""
    from scrpn.study import notebooks

    monkeypatch.setattr(notebooks, "project_root", lambda: tmp_path)
    monkeypatch.chdir(tmp_path)   # setup() changes directory; monkeypatch restores the original
    session = notebooks.setup(profile="4x", results_dir=tmp_path / "results")
    assert session.tables_dir == tmp_path / "results" / "tables" / "s4x"
    assert session.figures_dir == tmp_path / "results" / "figures" / "s4x"
    mini = notebooks.setup(profile="mini", results_dir=tmp_path / "results")
    assert mini.tables_dir == tmp_path / "results" / "tables"
