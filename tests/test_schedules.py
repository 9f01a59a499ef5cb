"""Tables at experiment 10's converged schedule S* beside the mini ones (issue 38), on hand-made runs.

Notebooks 01, 03 and 04 (``Session.converged_text``) and README's rendered blocks
(``scrpn.study.prose``) read them; both states are pinned here: before S* is chosen (no
``configs/converged/_base.yaml``: one line with phase 1's curve, README as before) and after, with
runs at S* (the table, and README leading with S*). Nothing may train: ``Study._compute`` raises.
Hand-derived values: mini RPN AR1000 43 / 44 / 45 (mean 44, sd 1), at 2x 49 / 50 / 51 (mean 50,
sd 1): Δ = +6.0, se = sqrt(1/3 + 1/3) = 0.816, 6.0 >= 2.5 x 0.816: resolved.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scrpn.study import Study
from scrpn.study.notebooks import Session
from scrpn.study.prose import readme_block
from scrpn.study.report.blocks import report_block
from scrpn.study.runs import config_fingerprint
from scrpn.study.schedules import chosen_rung, phase1_text, schedule_frames, schedule_status, schedule_table
from scrpn.study.tables import TABLES, build_table, write_table

ROOT = Path(__file__).resolve().parents[1]
T1 = "table01_proposals_coco"
MINI_T1 = {"rpn": (43.0, 44.0, 45.0), "iterative_rpn": (45.0, 46.0, 47.0), "ga_rpn": (33.0, 34.0, 35.0),
           "cascade_rpn": (50.0, 51.0, 52.0), "sc_rpn": (60.0, 61.0, 62.0)}


def fake_run(study: Study, row: str, seed: int, ar1000: float) -> None:
    out = study.run_dir(row, seed)
    out.mkdir(parents=True, exist_ok=True)
    record = {"name": study.run_name(row), "seed": seed, "AR100": ar1000 - 5, "AR300": ar1000 - 2,
              "AR1000": ar1000, "AR_S": ar1000 - 10, "AR_M": ar1000 + 1, "AR_L": ar1000 + 2,
              "config_fingerprint": config_fingerprint(study.config(row, seed))}
    (out / "metrics.json").write_text(json.dumps(record))


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """(configs, results) copies without a chosen S*, the mini Table I runs, and no training."""
    def refuse(*args, **kwargs):
        raise AssertionError("rendering the converged tables must not train")

    monkeypatch.setattr(Study, "_compute", refuse)
    configs, results = tmp_path / "configs", tmp_path / "results"
    shutil.copytree(ROOT / "configs", configs)
    (configs / "converged" / "_base.yaml").unlink(missing_ok=True)
    shutil.copytree(ROOT / "results" / "paper", results / "paper")
    mini = Study(seeds=[0, 1, 2], results_dir=results, config_root=configs, train_missing=False,
                 log=lambda message: None)
    for row, values in MINI_T1.items():
        for seed, value in enumerate(values):
            fake_run(mini, row, seed, value)
    write_table(build_table(TABLES[T1], mini, results / "paper"), TABLES[T1], results / "tables")
    return configs, results


def session(configs: Path, results: Path) -> Session:
    study = Study(seeds=[0, 1, 2], results_dir=results, config_root=configs, train_missing=False,
                  log=lambda message: None)
    return Session(study, results / "tables", results / "figures", results / "paper")


def choose(configs: Path, rung: str) -> None:
    (configs / "converged" / "_base.yaml").write_text(f"_base_: {rung}.yaml\n")


def test_before_s_star_one_line_with_phase_1_so_far(project) -> None:
    configs, results = project
    assert chosen_rung(configs) is None
    rung2 = Study(profile="2x", seeds=[0], results_dir=results, config_root=configs)
    fake_run(rung2, "rpn", 0, 49.0)
    fake_run(rung2, "sc_rpn", 0, 62.0)
    # seed 0: 1x -> 2x moves RPN 49 - 43 = +6.0 and SC-RPN 62 - 60 = +2.0, both above 1.0: 4x next
    text = session(configs, results).converged_text(T1)
    assert text == ("**S\\* not chosen yet** (no `configs/converged/_base.yaml`): experiment 10's phase 1 "
                    "reads seed 0's AR1000 at each rung (1x: the mini runs; RPN 4x: `x2g2c_rpn_4x`); so far "
                    "RPN 1x 43.0, 2x 49.0; "
                    "SC-RPN 1x 60.0, 2x 62.0. The registered rule asks for the 4x rung next. The table at "
                    "S\\* appears here once S\\* is chosen and its runs exist.")
    assert "rule has decided" in phase1_text({"rpn": {1: 43.0, 2: 43.5}}, None, {})
    assert "so far no run. The registered rule reads the mini runs (1x) first." in phase1_text({}, 1, {})
    # the mini side alone: no frame at S*
    assert schedule_frames(T1, session(configs, results).study)[1] is None


def test_after_s_star_the_table_beside_mini_with_the_paper_and_delta(project) -> None:
    configs, results = project
    choose(configs, "2x")
    rung2 = Study(profile="2x", seeds=[0, 1, 2], results_dir=results, config_root=configs)
    for seed, value in enumerate((49.0, 50.0, 51.0)):
        fake_run(rung2, "rpn", seed, value)
    fake_run(rung2, "sc_rpn", 0, 61.5)
    mini, at_s = schedule_frames(T1, session(configs, results).study, paper_dir=results / "paper")
    table = schedule_table(T1, mini, at_s, "2x").set_index("config")
    assert list(table.index) == ["rpn", "iterative_rpn", "ga_rpn", "cascade_rpn", "sc_rpn"]
    rpn = table.loc["rpn"]
    assert rpn["AR1000 mini"] == "44.0 ± 1.0" and rpn["AR1000 2x (S*)"] == "50.0 ± 1.0"
    assert rpn["AR1000 paper"] == "58.3" and rpn["AR_S paper"] == "29.5"
    assert rpn["Δ AR1000 2x − mini [se]"] == "+6.0 [0.8] resolved"
    assert rpn["Δ AR_S 2x − mini [se]"] == "+6.0 [0.8] resolved"    # AR_S = AR1000 - 10 on both sides
    assert (rpn["seeds mini"], rpn["seeds 2x"]) == (3, 3)
    sc = table.loc["sc_rpn"]    # one seed at S*: no se, never resolved
    assert sc["AR1000 2x (S*)"] == "61.5" and sc["Δ AR1000 2x − mini [se]"] == "+0.5 [n/a]"
    ga = table.loc["ga_rpn"]    # no run at S*
    assert ga["AR1000 2x (S*)"] == "pending" and ga["Δ AR1000 2x − mini [se]"] == ""
    assert schedule_status(T1, at_s, "2x").startswith(
        "**S\\* = 2x** (`configs/converged/_base.yaml`): 4 of the 15 (row, seed) runs of Table I at 2x")
    text = session(configs, results).converged_text(T1)
    assert "| Region proposal" not in text and "| RPN | rpn | 39.0 ± 1.0 | 45.0 ± 1.0 | 44.6 | +6.0 [0.8] resolved |" in text


def test_components_read_phase_3s_rung_when_s_star_is_8x(project) -> None:
    """The REPORT's budget registered phase 3 at 4x if S* = 8x (e10_converged.PHASE3_AT)."""
    configs, results = project
    choose(configs, "8x")
    text = session(configs, results).converged_text("table03_components")
    assert text.startswith("**S\\* = 4x** (the `4x` profile, experiment 10's registered rung for this table): "
                           "0 of the 24 (row, seed) runs of Table III at 4x exist so far")
    assert session(configs, results).converged_text(T1).startswith("**S\\* = 8x** (`configs/converged/_base.yaml`)")


def test_readme_leads_with_s_star_once_table_i_has_runs_there(project) -> None:
    configs, results = project
    tables = results / "tables"
    before = readme_block("found", tables, configs)
    assert before.splitlines()[0] == ("- **SC-RPN beats RPN**, as in the paper: +17.0 [0.8] AR1000, paper +14.5 "
                                      "(Table I, three seeds; **reproduces**).")
    # Iterative RPN: +2.0 < 2.5 x 0.816 = 2.04, not resolved
    assert before.splitlines()[1].startswith("- **The peers against RPN** (Table I): Iterative RPN +2.0 [0.8] "
                                             "AR1000, paper +0.5, **no resolved change**; Cascade RPN +7.0 [0.8]")
    results_before = readme_block("results-mini", tables, configs)
    assert results_before.startswith("Table I on SynthShapes val")
    choose(configs, "2x")   # chosen, but no run at S* yet: nothing changes
    assert readme_block("found", tables, configs) == before
    assert readme_block("results-mini", tables, configs) == results_before
    rung2 = Study(profile="2x", seeds=[0, 1, 2], results_dir=results, config_root=configs)
    for seed, (rpn, sc) in enumerate(((49.0, 64.0), (50.0, 65.0), (51.0, 66.0))):
        fake_run(rung2, "rpn", seed, rpn)
        fake_run(rung2, "sc_rpn", seed, sc)
    after = readme_block("found", tables, configs).splitlines()
    assert after[0] == ("- **SC-RPN against RPN at the converged schedule S\\* = 2x** (Table I, experiment 10; "
                        "3 seeds): +15.0 [0.8] AR1000, paper +14.5, **reproduces**; at the mini schedule "
                        "(three seeds): +17.0 [0.8] AR1000, paper +14.5, **reproduces**.")
    assert after[1].startswith("- **The peers against RPN** (Table I at S\\* = 2x, the mini schedule beside "
                               "each): Iterative RPN pending (mini +2.0 [0.8] AR1000, paper +0.5, **no resolved change**)")
    # one table: S*'s (the lead), the mini AR1000 and its seed count as the last column
    block = readme_block("results-mini", tables, configs)
    assert block.startswith("Table I on SynthShapes val (500 images) at experiment 10's converged schedule S\\* = 2x")
    assert "| AR_L | AR1000 at mini (seeds) |" in block
    assert ("| RPN (`rpn`) | 3 | 45.0 ± 1.0 | 48.0 ± 1.0 | 50.0 ± 1.0 | 40.0 ± 1.0 | 51.0 ± 1.0 | 52.0 ± 1.0 "
            "| 44.0 ± 1.0 (3) |") in block
    assert ("| Iterative RPN (`iterative_rpn`) | 0 | pending | pending | pending | pending | pending | pending "
            "| 46.0 ± 1.0 (3) |") in block
    assert block.count("| paper, COCO, ResNet50-FPN: RPN / SC-RPN |") == 1 and "| 58.3 / 72.8 |\n" in block
    assert block.split("Every comparison")[1] == results_before.split("Every comparison")[1]
    # the REPORT's experiment 10 block: the same table; once phase 1's runs say S* = 2x (4x moves
    # RPN +0.5 = 49.5 - 49.0, SC-RPN +0.5), the Table I claims read at 2x
    report = report_block("converged", results)
    assert "**Table I at S\\* = 2x**" in report and "pending: phase 1 needs the 4x rung" in report
    mini = Study(seeds=[0], results_dir=results, config_root=configs, train_missing=False)
    fake_run(mini, "x2g2c_rpn_4x", 0, 49.5)     # RPN's 4x rung is experiment 2's control
    fake_run(Study(profile="4x", seeds=[0], results_dir=results, config_root=configs), "sc_rpn", 0, 64.5)
    report = report_block("converged", results)
    assert "**Table I at S\\* = 2x**" in report and "| 44.0 ± 1.0 (3) |" in report
    assert ("- Table I: sc_rpn above rpn: mini: holds (+17.0 [0.8] resolved); 2x: holds (+15.0 [0.8] "
            "resolved): **schedule-robust (holds at both)**") in report


def test_readme_leads_the_components_with_phase_3s_rung_once_a_step_has_its_seeds(project) -> None:
    """S* = 8x: the component tables read 4x (``table_rung``). Hand-derived: mini t3_iou_loss 47 / 48 /
    49 and t3_point 50 / 51 / 52: +3.0, se sqrt(1/3 + 1/3) = 0.816, resolved, the paper's sign (+0.4):
    reproduces; at 4x 62 / 63 / 64 and 59 / 60 / 61: -3.0 [0.8], resolved, opposite: does not
    reproduce. t3_sads has two seeds at 4x, so its step (+ SADS) is not read yet."""
    from scrpn.study.experiments.e10_converged import table_rung

    configs, results = project
    tables = results / "tables"
    # the rung and the profile whose runs hold it: the converged profile only where the rung is S*
    assert table_rung("table03_components", "8x") == table_rung("table04_sads_combinations", "8x") == ("4x", "4x")
    assert (table_rung(T1, "8x"), table_rung("table03_components", "2x")) == (("8x", "converged"), ("2x", "converged"))
    assert table_rung(T1, "8x").profile == "converged" and table_rung("table03_components", "8x").rung == "4x"
    choose(configs, "8x")
    mini = Study(seeds=[0, 1, 2], results_dir=results, config_root=configs)
    rung4 = Study(profile="4x", seeds=[0, 1, 2], results_dir=results, config_root=configs)
    for seed in range(3):
        fake_run(mini, "t3_iou_loss", seed, 47.0 + seed)
        fake_run(mini, "t3_point", seed, 50.0 + seed)
        fake_run(rung4, "t3_iou_loss", seed, 62.0 + seed)
    assert not any(line.startswith("- **Components at 4x**") for line in readme_block("found", tables, configs).splitlines())
    for seed in range(3):
        fake_run(rung4, "t3_point", seed, 59.0 + seed)
    for seed in range(2):
        fake_run(rung4, "t3_sads", seed, 70.0 + seed)
    lines = [line for line in readme_block("found", tables, configs).splitlines() if "Components" in line]
    assert lines == ["- **Components at 4x** (Tables III and IV at experiment 10's phase-3 rung, S\\* = 8x; the 1 of 9 "
                     "steps whose two rows have three seeds there so far, the mini schedule beside each): "
                     "+ point-based representation -3.0 [0.8] AR1000, paper +0.4, **does not reproduce** "
                     "(mini +3.0 [0.8], **reproduces**)."]
