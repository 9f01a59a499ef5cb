"""results/REPORT.md is rendered from results/report/*.md, and its sources type no study number.

* The committed REPORT equals what its sources render from the committed records (run
  ``python -m scrpn.study.prose --readme`` and commit when it does not).
* The template language and each field, on hand-made records with hand-computed values.
* The scan: a source's prose (outside ``{{ fields }}``, inline code, LaTeX and HTML comments)
  carries no number that looks like a result (``test_prose_numbers.typed_study_numbers``: signed
  decimals, one-decimal numbers from 1.0 up, shares, counts) unless it is the paper's.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from scrpn.study.report.blocks import report_block
from scrpn.study.report import SOURCES, TemplateError, render_report, sources
from scrpn.study.report.fields import Num, fmt
from test_prose_numbers import paper_numbers, typed_study_numbers
from report_helpers import commit_results, render as _render

ROOT = Path(__file__).resolve().parents[1]

# Sources whose typed numbers are still being turned into fields (this list only shrinks; empty
# when the REPORT carries no typed number).
UNCONVERTED = {
    "02_preregistered_converged.md",
}


def _extra() -> dict:
    return {"block": lambda name: report_block(name, ROOT / "results")}


def test_the_committed_report_is_what_its_sources_render() -> None:
    rendered = render_report(ROOT, _extra())
    committed = (ROOT / "results" / "REPORT.md").read_text(encoding="utf-8")
    if rendered != committed:
        new, old = rendered.splitlines(), committed.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(new, old)) if a != b), min(len(new), len(old)))
        pytest.fail(f"results/REPORT.md line {first + 1} is not what results/report/ renders:\n"
                    f"  committed: {old[first] if first < len(old) else '<end>'}\n"
                    f"  rendered:  {new[first] if first < len(new) else '<end>'}\n"
                    "run `python -m scrpn.study.prose --readme` and commit")


def _prose(text: str) -> str:
    """The text a reader takes for typed prose: no fields, inline code, LaTeX or comments."""
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return re.sub(r"`[^`]*`|\$[^$]*\$", " ", text)


def scan(text: str, allowed: set[float]) -> list[tuple[int, str]]:
    """``(line, number)`` for every typed study number of a source."""
    found = []
    for number, line in enumerate(_prose(text).splitlines(), 1):
        found += [(number, hit) for hit in typed_study_numbers(line, allowed)]
    return found


def test_the_scan_finds_typed_numbers_and_passes_fields() -> None:
    allowed = paper_numbers()
    text = ("Cascade RPN is above RPN by **+7.8 [0.5]** (paper +13.4).\n"
            "SC-RPN: {{ mean(\"sc_rpn\") }} AR1000, `lr 0.005`, 69 % of slender objects.\n"
            "<!-- a comment: 12.5 -->\n")
    assert scan(text, allowed) == [(1, "+7.8"), (2, "69 %")]   # the paper's +13.4 and 0.5 (< 1.0) pass


@pytest.mark.parametrize("path", sources(ROOT), ids=lambda p: p.name)
def test_a_converted_source_types_no_study_number(path: Path) -> None:
    if path.name in UNCONVERTED:
        pytest.skip(f"{path.name}: its numbers are being turned into fields (UNCONVERTED)")
    typed = scan(path.read_text(encoding="utf-8"), paper_numbers())
    assert not typed, (f"{SOURCES / path.name}: numbers typed by hand (line, number): {typed}; "
                       "write each as a field that reads its record (scrpn/study/report/fields.py)")


def test_unconverted_names_existing_sources() -> None:
    assert UNCONVERTED <= {p.name for p in sources(ROOT)}


# -- the template language and its fields on hand-made records -------------------------------------
@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """Runs ``a`` (AR1000 50 / 52 / 54) and ``b`` (40 / 41 / 42), a log, a bench JSON and a table."""
    for run, values in (("a", (50.0, 52.0, 54.0)), ("b", (40.0, 41.0, 42.0))):
        for seed, value in enumerate(values):
            folder = tmp_path / "results" / "runs" / run / f"seed{seed}"
            folder.mkdir(parents=True)
            (folder / "metrics.json").write_text(json.dumps({"name": run, "seed": seed, "AR1000": value,
                                                             "AR100": value - 10}))
    (tmp_path / "results" / "runs" / "a" / "seed0" / "log.jsonl").write_text(
        '{"type": "train", "iter": 20, "loss": 0.5}\n{"type": "train", "iter": 40, "loss": 0.25}\n')
    (tmp_path / "results" / "bench").mkdir()
    (tmp_path / "results" / "bench" / "speed.json").write_text(json.dumps({"runs": [{"ms": 64.8, "name": "rpn"}]}))
    (tmp_path / "results" / "tables").mkdir()
    (tmp_path / "results" / "tables" / "t.csv").write_text("method,config,AR1000_mean\nRPN,rpn,43.25\nSC-RPN,sc_rpn,60.61\n")
    return tmp_path




def test_run_fields_on_hand_computed_values(repo: Path) -> None:
    assert _render(repo, '{{ seeds("a") }}') == "50.0 / 52.0 / 54.0"
    assert _render(repo, '{{ mean("a") }} ± {{ sd("a") }} ({{ n("a") }})') == "52.0 ± 2.0 (3)"
    assert _render(repo, '{{ value("b", seed=2) }} {{ value("b", "AR100", seed=0, digits=2) }}') == "42.0 30.00"
    # Δ = 52 - 41 = 11; se = sqrt(4/3 + 1/3) = 1.29; paired: differences 10, 11, 12, se 1/√3 = 0.58
    assert _render(repo, '{{ diff("a", "b") }}') == "+11.0 [1.3]"
    assert _render(repo, '{{ diff("a", "b", paired=True, digits=2) }}') == "+11.00 [0.58]"
    assert _render(repo, '{{ delta("b", "a") }} {{ se("a", "b", digits=3) }}') == "-11.0 1.291"
    assert _render(repo, '{{ mean("a", seeds=[0, 1]) }}') == "51.0"
    # (a - b) - (b - a) = 11 - (-11) = 22, se sqrt(2) x 1.291 = 1.826; the same pair twice: 0
    assert _render(repo, '{{ diff_change("a", "b", "b", "a") }}') == "+22.0 [1.8], resolved"
    assert _render(repo, '{{ diff_change("a", "b", "a", "b", digits=2) }}') == "+0.00 [1.83], not resolved"
    assert _render(repo, '{{ diff_change("a", "b", "b", "a", mark=False) }}') == "+22.0 [1.8]"
    # arithmetic leaves a plain float, printed with one decimal unless fmt says otherwise
    assert _render(repo, '{{ mean("a") - mean("b") }} {{ fmt(mean("a") / 4, digits=2) }}') == "11.0 13.00"


def test_a_literal_field_opening_is_written_as_a_field(repo: Path) -> None:
    assert _render(repo, '`{{ "{{" }} mean("a") }}` is {{ mean("a") }}') == '`{{ mean("a") }}` is 52.0'


def test_record_fields(repo: Path) -> None:
    assert _render(repo, '{{ log("a", "loss", 40, digits=2) }}') == "0.25"
    assert _render(repo, '{{ json("results/bench/speed.json", "runs.0.ms") }} ms') == "64.8 ms"
    assert _render(repo, '{{ json("results/bench/speed.json", "runs.0.name") }}') == "rpn"
    assert _render(repo, '{{ table("t", "sc_rpn", "AR1000_mean") }}') == "60.6"
    assert _render(repo, '{{ csv("results/tables/t.csv", "AR1000_mean", {"method": "RPN"}, digits=2) }}') == "43.25"
    assert _render(repo, '{{ fmt(0.154, scale=100, unit=" %") }} {{ fmt(-2.0, absolute=True, sign=True) }}') == \
        "15.4 % +2.0"
    assert _render(repo, '{{ const("resolved_se") }}') == "2.5"


def test_at_reads_a_record_as_an_earlier_commit_had_it(repo: Path) -> None:
    first = commit_results(repo, "first")
    path = repo / "results" / "runs" / "a" / "seed0" / "metrics.json"
    path.write_text(json.dumps({"AR1000": 99.0}))
    assert _render(repo, f'{{{{ at("{first}", "results/runs/a/seed0/metrics.json", "AR1000") }}}}') == "50.0"
    assert _render(repo, '{{ value("a") }}') == "99.0"


@pytest.mark.parametrize("field, problem", [
    ('mean("nope")', "results/runs/nope: no committed run"),
    ('mean("a", seeds=[0, 5])', "no committed seed [5]"),
    ('mean("a", "AR_S")', "no number 'AR_S'"),
    ('__import__("os")', "unknown field '__import__'"),
    ('mean.__class__', "not allowed in a field"),
    ('json("../../etc/passwd")', "outside the repository"),
    ('table("t", "rpn", "AR_S_mean")', "no column 'AR_S_mean'"),
    ('mean("a"', "not an expression"),
    ('log("a", "loss", 60)', "no 'loss' at iteration 60"),
    ('const("pi")', "no constant 'pi'"),
])
def test_a_field_that_cannot_be_read_names_the_file_the_line_and_the_field(repo: Path, field: str, problem: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _render(repo, "# title\n\nsome prose, then {{ " + field + " }} here\n")
    assert str(caught.value).startswith("src.md:3: {{ " + field + " }}: ")
    assert problem in str(caught.value)


def test_num_prints_itself() -> None:
    assert str(Num(1.25, 1)) == "1.2" and str(Num(1.35, 2, sign=True)) == "+1.35" and str(Num(math.nan)) == "n/a"
    assert str(fmt(3)) == "3.0"
    with pytest.raises(ValueError, match="not a number"):
        fmt("3")


def test_sources_join_with_one_blank_line(tmp_path: Path) -> None:
    (tmp_path / SOURCES).mkdir(parents=True)
    (tmp_path / SOURCES / "00_a.md").write_text("# A\n\ntext\n\n\n")
    (tmp_path / SOURCES / "01_b.md").write_text("## B\n{{ fmt(2) }}\n")
    assert render_report(tmp_path) == "# A\n\ntext\n\n## B\n2.0\n"


def test_a_field_name_registers_once() -> None:
    from scrpn.study.report.fields import field

    def mean(r, run):   # noqa: ARG001  (the general field's name)
        return 0.0

    with pytest.raises(ValueError, match="field 'mean' is registered twice"):
        field(mean)
