"""Every numbered notebook runs headless in the smoke profile and writes its tables and figures.

The notebooks run once, in order, through ``scrpn.study.notebooks.run_notebooks`` (what
``scrpn reproduce`` calls) into a temporary results folder; each study row is trained once
(2 iterations on 128 px images) and shared by the notebooks that need it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn.study.notebooks import list_notebooks, run_notebooks
from scrpn.study.tables import TABLES

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("papermill")

# notebook -> tables (results/tables/<name>.csv) and figures (results/figures/<name>.png/.pdf)
EXPECTED = {
    "00_overview": ((), ()),
    "01_table01_proposal_methods": (("table01_proposals_coco",), ()),
    "02_tables02_09_detectors": (("table02_detection_coco", "table09_more_detectors"), ()),
    "03_table03_components": (("table03_components",), ()),
    "04_table04_sads_fig6": (("table04_sads_combinations",), ("fig6_iou_distribution",)),
    "05_table05_sads_hyperparameters": (("table05_sads_hyperparameters",), ("table05_sweeps",)),
    "06_tables06_07_iou_mask_figs3_4_7": (
        ("table06_iou_mask_training_samples", "table07_iou_mask_feature_map"),
        ("fig3_iou_mask_supervision", "fig4_iou_aware_score", "fig7_iou_mask_effect")),
    "07_table08_points_figs5_8": (("table08_point_representation",),
                                  ("fig5_point_representation", "fig8_aspect_ratio_recall")),
    "08_table10_deepforest": (("table10_proposals_imagenet_det",), ()),
    "09_training_curves": ((), ("training_curves",)),
    "10_sads_inspector": ((), ("sads_inspector_example",)),
    "11_teaching_weak_correlations": ((), ()),  # checked below: teaching_*.png
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
    names = [p.stem for p in list_notebooks(ROOT / "notebooks")]
    assert names == sorted(EXPECTED)
    for name in names:
        nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, name
        source = "".join(tagged[0]["source"])
        for parameter in ("profile", "retrain", "seeds", "dataset", "results_dir", "train_missing"):
            assert f"{parameter} =" in source, (name, parameter)


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
