"""Every numbered notebook runs headless in the smoke profile and writes its tables and figures;
each committed ``.ipynb`` is its ``.py`` source executed, with no machine path and stable ids.

The notebooks run once, in order, through ``scrpn.study.notebooks.run_notebooks`` (what
``scrpn reproduce`` calls) into a temporary results folder; each study row is trained once
(2 iterations on 128 px images) and shared by the notebooks that need it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn.study.notebooks import (cells_differ, list_notebooks, normalise_executed, read_source, run_notebooks,
                                   stderr_outputs)
from scrpn.study.tables import TABLES

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("papermill")

# notebook -> tables (results/tables/<name>.csv) and figures (results/figures/<name>.png/.pdf)
EXPECTED = {
    "00_overview": ((), ()),
    "01_table01_proposal_methods": (("table01_proposals_coco",), ()),
    "02_tables02_09_detectors": (("table02_detection_coco", "table09_more_detectors"),
                                 ("table02_detector_inputs",)),
    "03_table03_components": (("table03_components",), ()),
    "04_table04_sads_fig6": (("table04_sads_combinations",), ("fig6_iou_distribution",)),
    "05_table05_sads_hyperparameters": (("table05_sads_hyperparameters",),
                                        ("table05_knob_sigma", "table05_knob_k", "table05_knob_n",
                                         "table05_sweeps")),
    "06_tables06_07_iou_mask_figs3_4_7": (
        ("table06_iou_mask_training_samples", "table07_iou_mask_feature_map"),
        ("fig3_iou_mask_supervision", "fig4_iou_aware_score", "fig7_iou_mask_effect")),
    "07_table08_points_figs5_8": (("table08_point_representation",),
                                  ("fig5_point_representation", "fig8_aspect_ratio_recall")),
    "08_table10_deepforest": (("table10_proposals_imagenet_det",), ("table10_objects",)),
    "09_training_curves": ((), ("training_curves",)),
    "10_sads_inspector": ((), ("sads_inspector_example",)),
    "11_teaching_weak_correlations": ((), ()),  # checked below: teaching_*.png
    "12_causes": ((), ("causes_ar1000", "causes_missed_2", "causes_stage1_4", "causes_detectors_8")),  # and causes.csv
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("notebooks")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCRPN_DATA", str(tmp / "data"))
    mp.setenv("SCRPN_WORK_DIR", str(tmp / "work"))
    mp.chdir(ROOT)
    try:
        run_notebooks(ROOT / "notebooks", profile="smoke", seeds=[0], results_dir=tmp / "results",
                      output_dir=tmp / "executed", log=lambda message: None)
    finally:
        mp.undo()
    return tmp / "results", tmp / "executed"


def test_every_notebook_is_listed_and_has_a_parameters_cell() -> None:
    paths = list_notebooks(ROOT / "notebooks")
    assert [p.stem for p in paths] == sorted(EXPECTED)
    assert all(p.suffix == ".py" for p in paths)  # every notebook has its text source
    for path in paths:
        name = path.stem
        nb = read_source(path)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, name
        source = tagged[0].source
        for parameter in ("profile", "retrain", "seeds", "dataset", "results_dir", "train_missing"):
            assert f"{parameter} =" in source, (name, parameter)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_executed_notebook_matches_its_source(name: str) -> None:
    """The pair is in sync: same cells, same code and text (outputs and metadata aside)."""
    problems = cells_differ(ROOT / "notebooks" / f"{name}.py", ROOT / "notebooks" / f"{name}.ipynb")
    assert not problems, f"notebooks/{name}.ipynb differs from its .py ({problems[0]}): " \
                         f"run `jupytext --sync notebooks/{name}.py` or `scrpn reproduce --no-train`"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_committed_notebooks_are_free_of_machine_state(name: str) -> None:
    """No absolute path, no random cell id, no widget state, no warning: a re-run rewrites the
    same bytes."""
    import nbformat

    text = (ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8")
    nb = json.loads(text)
    assert [c["id"] for c in nb["cells"]] == [f"cell-{i:02d}" for i in range(len(nb["cells"]))]
    assert "widgets" not in nb["metadata"]
    papermill = nb["metadata"].get("papermill", {})
    assert papermill.get("input_path") == f"notebooks/{name}.py"
    assert papermill.get("output_path") == f"notebooks/{name}.ipynb"
    assert str(ROOT) not in text and "/tmp/" not in text and "site-packages" not in text
    assert not stderr_outputs(nbformat.reads(text, as_version=4)), "a warning was committed"
    for cell in nb["cells"]:
        assert "papermill" not in cell["metadata"] and "execution" not in cell["metadata"]


def test_normalising_an_executed_notebook() -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[new_markdown_cell("# t"), new_code_cell("w")])
    nb.metadata["papermill"] = {"input_path": "/home/x/notebooks/.t.source.ipynb",
                                "output_path": "/home/x/notebooks/.t.running.ipynb", "duration": 1.0}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells[1].metadata["execution"] = {"iopub.status.busy": "2026-12-01T00:00:00Z"}
    nb.cells[1].outputs = [nbformat.v4.new_output(
        "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "7f3a"},
                              "text/plain": "run this cell"})]
    out = normalise_executed(nb, "notebooks/t.py", "notebooks/t.ipynb")
    assert [c.id for c in out.cells] == ["cell-00", "cell-01"]
    assert out.metadata.papermill == {"input_path": "notebooks/t.py", "output_path": "notebooks/t.ipynb",
                                      "duration": 1.0}
    assert "widgets" not in out.metadata and "execution" not in out.cells[1].metadata
    assert out.cells[1].outputs[0]["data"] == {"text/plain": "run this cell"}


def test_reproduce_refuses_an_ipynb_edited_without_its_source(tmp_path: Path) -> None:
    """A teacher's edit made outside JupyterLab's pairing is never overwritten silently."""
    import os

    import jupytext
    from nbformat.v4 import new_code_cell, new_notebook

    source = new_notebook(cells=[new_code_cell("profile = 'mini'"), new_code_cell("print(1)")])
    source.cells[0].metadata["tags"] = ["parameters"]
    source.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    folder = tmp_path / "notebooks"
    folder.mkdir()
    jupytext.write(source, folder / "00_t.py", fmt="py:percent")
    edited = jupytext.reads(jupytext.writes(source, fmt="py:percent"), fmt="py:percent")
    edited.cells[1].source = "print('my edit')"
    jupytext.write(edited, folder / "00_t.ipynb")
    os.utime(folder / "00_t.py", (1, 1))  # the .ipynb is the newer file
    before = (folder / "00_t.ipynb").read_bytes()
    with pytest.raises(RuntimeError, match=r"00_t\.ipynb: edited without its source 00_t\.py .*jupytext --sync"):
        run_notebooks(folder, profile="smoke", seeds=[0], results_dir=tmp_path / "results",
                      log=lambda message: None)
    assert (folder / "00_t.ipynb").read_bytes() == before


def test_every_table_of_the_paper_has_a_notebook() -> None:
    covered = {table for tables, _ in EXPECTED.values() for table in tables}
    assert covered == set(TABLES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_writes_its_tables_and_figures(executed: tuple[Path, Path], name: str) -> None:
    results, notebooks = executed
    assert (notebooks / f"{name}.ipynb").is_file()
    tables, figures = EXPECTED[name]
    for table in tables:
        text = (results / "tables" / f"{table}.csv").read_text()
        header, *rows = text.strip().splitlines()
        assert "AR1000_mean" in header or "AP_mean" in header
        assert len(rows) == len(TABLES[table].rows)
    for figure in figures:
        for suffix in (".png", ".pdf"):
            assert (results / "figures" / f"{figure}{suffix}").stat().st_size > 1000, figure


def test_causes_notebook_writes_one_line_per_arm(executed: tuple[Path, Path]) -> None:
    from scrpn.study.causes import ARMS

    results, _ = executed
    lines = (results / "tables" / "causes.csv").read_text().strip().splitlines()
    assert lines[0].startswith("experiment,claim,arm,variant,dataset,row,reference,metric,seeds")
    assert len(lines) == 1 + len(ARMS)


def test_teaching_notebook_saves_its_figures(executed: tuple[Path, Path]) -> None:
    results, _ = executed
    assert len(list((results / "figures").glob("teaching_*.png"))) >= 3


def test_a_failing_notebook_does_not_stop_the_others_nor_replace_its_original(tmp_path: Path) -> None:
    from scrpn.study.notebooks import NotebookFailures

    def notebook(code: str) -> dict:
        cells = [{"id": "params", "cell_type": "code", "metadata": {"tags": ["parameters"]},
                  "execution_count": None, "outputs": [], "source": "profile = 'mini'\n"},
                 {"id": "work", "cell_type": "code", "metadata": {}, "execution_count": None,
                  "outputs": [], "source": code}]
        return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                            "display_name": "Python 3"}},
                "nbformat": 4, "nbformat_minor": 5}

    folder = tmp_path / "notebooks"
    folder.mkdir()
    broken = json.dumps(notebook("raise FileNotFoundError('row not trained')"))
    (folder / "00_broken.ipynb").write_text(broken)
    (folder / "01_fine.ipynb").write_text(json.dumps(notebook("print('ran', profile)")))
    with pytest.raises(NotebookFailures) as info:
        run_notebooks(folder, profile="smoke", seeds=[0], results_dir=tmp_path / "results",
                      log=lambda message: None)
    assert list(info.value.failed) == ["00_broken.ipynb"]
    assert "FileNotFoundError: row not trained" in info.value.failed["00_broken.ipynb"]
    assert (folder / "00_broken.ipynb").read_text() == broken  # the original is kept
    assert (folder / ".00_broken.running.ipynb").is_file()     # the traceback is kept aside
    fine = json.loads((folder / "01_fine.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for o in fine["cells"][-1]["outputs"])
    assert "ran smoke" in printed


def test_a_notebook_that_warns_is_reported_and_a_committed_warning_is_caught(tmp_path: Path) -> None:
    """Issue 38's CI: a matplotlib warning went into notebook 12 with the path of this machine's
    site-packages, and the clean clone's render differed. The render names each cell that wrote
    to stderr on the terminal, and ``test_committed_notebooks_are_free_of_machine_state`` fails on
    a committed one (:func:`stderr_outputs` finds it)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("profile = 'mini'"),
                             new_code_cell("import warnings\nwarnings.warn('axes sizes collapsed to zero')\nprint('drawn')")])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(nb, folder / "00_warns.ipynb")
    lines: list[str] = []
    run_notebooks(folder, profile="smoke", seeds=[0], results_dir=tmp_path / "results", log=lines.append)
    assert "00_warns.ipynb: cells[2] of the executed notebook wrote to stderr: UserWarning: axes sizes " \
           "collapsed to zero" in lines
    executed = nbformat.read(folder / "00_warns.ipynb", as_version=4)
    assert stderr_outputs(executed) == [(2, "UserWarning: axes sizes collapsed to zero")]
    assert stderr_outputs(nbformat.read(ROOT / "notebooks" / "00_overview.ipynb", as_version=4)) == []
