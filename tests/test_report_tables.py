"""scripts/report_tables.py: REPORT.md's compact tables, their changes and standard errors."""
from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

from scrpn.study.tables import NO_SADS_MINI_LR as NO_SADS
from test_tables import FakeStudy

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("report_tables", ROOT / "scripts" / "report_tables.py")
report_tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report_tables)


def test_difference_standard_error_on_hand_worked_values() -> None:
    # s = 2 over 3 seeds against s = 1 over 2 seeds: sqrt(4/3 + 1/2) = sqrt(11/6)
    assert report_tables.difference_se(2.0, 3, 1.0, 2) == pytest.approx(math.sqrt(11 / 6))
    assert math.isnan(report_tables.difference_se(2.0, 3, math.nan, 1))  # one seed: no spread
    assert math.isnan(report_tables.difference_se(2.0, 1, 1.0, 3))


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_change_against_the_reference_row_carries_its_standard_error() -> None:
    results = {(NO_SADS, s): {"AR100": 50.0, "AR300": 60.0, "AR1000": v} for s, v in enumerate((70, 74, 72))}
    results.update({("t4_maxiou_sat", s): {"AR100": 40.0, "AR300": 41.0, "AR1000": v}
                    for s, v in enumerate((42, 44, 46))})
    study = FakeStudy(results, results_dir=ROOT / "results")
    text = report_tables.markdown("table04_sads_combinations", study)
    reference = _line(text, "| Max IoU / Max IoU |")
    assert reference.endswith("| 72.0 ± 2.0 (3) (66.7) |  |")  # no change against itself
    # 44 - 72 = -28.0; sqrt(4/3 + 4/3) = 1.63; the paper's 69.6 - 66.7 = +2.9
    assert _line(text, "| Max IoU / Size-Aware").endswith("| -28.0 [1.6] (+2.9) |")
    assert "Pending: Positive Region (PosR) / Size-Aware Threshold (SAT) (`t3_sads`)." in text
    assert "Code: runs from commits unknown (6)" in text  # these runs record no commit


def test_one_seed_changes_have_no_standard_error() -> None:
    results = {(NO_SADS, 0): {"AR100": 50.0, "AR300": 60.0, "AR1000": 70.0},
               ("t4_maxiou_sat", 0): {"AR100": 40.0, "AR300": 41.0, "AR1000": 42.0}}
    text = report_tables.markdown("table04_sads_combinations", FakeStudy(results, seeds=[0], results_dir=ROOT / "results"))
    assert _line(text, "| Max IoU / Size-Aware").endswith("| -28.0 (+2.9) |")


def test_an_unknown_table_name_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="unknown table.*table10_deepforest.*known: table01_proposals_coco"):
        report_tables.main(["table10_deepforest"])


ROMAN = re.compile(r"^\*\*Table ([IVX]+)\b")
HEADING = re.compile(r"^#+ Table ([IVX]+)\b")


def _numbers(row: str) -> tuple[str, ...]:
    """A table row's numbers after its label cell: the REPORT may shorten a label
    ("sigma / 0.2 (default)"), never a number."""
    cells = row.strip().strip("|").split("|")[1:]
    return tuple(re.findall(r"[+-]?\d+(?:\.\d+)?", "|".join(cells)))


def _report_sections(text: str) -> dict[str, str]:
    """REPORT.md's text under each "## Table N" / "### Table N" heading, to the next heading."""
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            match = HEADING.match(line)
            current = match.group(1) if match else None
            if current:
                sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    return sections


def test_the_reports_tables_are_todays_runs() -> None:
    """Every row scripts/report_tables.py prints from the committed runs stands, with the same
    numbers, under its table's heading in results/REPORT.md, and so does the line naming the commits
    its runs come from. A run retrained or added without refreshing the REPORT fails here."""
    from scrpn.study import Study

    sections = _report_sections((ROOT / "results" / "REPORT.md").read_text())
    study = Study(profile="mini", seeds=[0, 1, 2], train_missing=False, log=lambda message: None)
    stale = []
    for name in report_tables.TABLES:
        text = report_tables.markdown(name, study)
        numeral = ROMAN.match(text).group(1)
        assert numeral in sections, f"REPORT.md has no heading for Table {numeral} ({name})"
        section = sections[numeral]
        shown = [_numbers(line) for line in section.splitlines() if line.startswith("| ")]
        for line in text.splitlines():
            numbers = _numbers(line) if line.startswith("| ") and "ours (paper)" not in line else ()
            if (numbers and numbers not in shown) or (line.startswith("Code: ") and line not in section):
                stale.append(f"Table {numeral}: {line}")
    assert not stale, "REPORT.md is behind the runs (scripts/report_tables.py prints):\n" + "\n".join(stale)
