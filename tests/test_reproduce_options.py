"""What makes a rendering independent of the machine, and the options a teacher turns (issue 39):
``reproduce -p``, ``--output-dir`` required with it, a dataset a notebook cannot use refused up
front, ``config show`` on a path, ``scrpn --help`` listing every command, the setting line read from
the runs' records, a model run on one thread for a figure, the study's messages kept out of the
notebooks."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from scrpn.cli import build_parser, main
from scrpn.study import Study
from scrpn.study.notebooks import (LOG_ENV, Session, list_notebooks, notebook_datasets, parameter_names,
                                   parse_parameters, read_source, run_notebooks, setup)

ROOT = Path(__file__).resolve().parents[1]


def test_parameters_are_read_as_yaml_and_reserved_names_refused() -> None:
    assert parse_parameters(["image_index=3", "nms_thr=0.8", "row=sc_rpn", "flag=true", "ks=[3, 9]"]) == {
        "image_index": 3, "nms_thr": 0.8, "row": "sc_rpn", "flag": True, "ks": [3, 9]}
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        parse_parameters(["image_index"])
    with pytest.raises(ValueError, match="set by reproduce's own option --results-dir"):
        parse_parameters(["results_dir=elsewhere"])


def test_parameter_names_of_a_parameters_cell() -> None:
    nb = read_source(ROOT / "notebooks" / "11_teaching_weak_correlations.py")
    names = parameter_names(nb)
    assert {"profile", "seeds", "image_index", "near_iou", "nms_thr", "top_k"} <= names
    assert "session" not in names      # assigned in a later cell
    knobs = parameter_names(read_source(ROOT / "notebooks" / "10_sads_inspector.py"))
    assert {"image_index", "gt", "k", "sigma", "num_levels", "n_images"} <= knobs
    assert "cfg" not in knobs


def test_reproduce_with_parameters_requires_an_output_dir(capsys) -> None:
    assert main(["reproduce", "--only", "11", "-p", "nms_thr=0.8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["scrpn: error: -p nms_thr: a run with parameters writes to --output-dir (required), "
                   "so the committed notebooks stay the canonical ones"]


def test_reproduce_refuses_an_unknown_parameter_before_any_kernel(tmp_path, capsys) -> None:
    assert main(["reproduce", "--only", "11", "-p", "nms_threshold=0.8", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "scrpn: error: -p nms_threshold: not a parameter of 11_teaching_weak_correlations.py")
    assert "nms_thr" in err[0] and not list(tmp_path.iterdir())


def test_reproduce_refuses_a_dataset_a_notebook_cannot_use(capsys) -> None:
    assert main(["reproduce", "--only", "10", "--dataset", "deepforest", "--no-train"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "scrpn: error: 10_sads_inspector.py: works on synthshapes only, not --dataset deepforest; "
        "leave it out with --only"]
    datasets = {p.stem[:2]: notebook_datasets(read_source(p)) for p in list_notebooks(ROOT / "notebooks")}
    assert datasets["10"] == ["synthshapes"] and datasets["11"] == ["synthshapes"]
    assert datasets["08"] is None      # the others take any dataset


def test_reproduce_help_says_it_executes_the_py_sources() -> None:
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["reproduce"].format_help().split())
    assert "notebooks/NN_*.py" in text and "-p KEY=VALUE" in text


def test_top_level_help_lists_every_command() -> None:
    usage = build_parser().format_usage()
    for command in ("train", "evaluate", "data", "bench", "study", "reproduce", "config"):
        assert command in usage.split("{")[1].split("}")[0].split(",")


def _shown(capsys) -> dict[str, str]:
    out = {}
    for line in capsys.readouterr().out.splitlines():
        entry, source = line.rsplit("  # ", 1)
        key, value = entry.split(": ", 1)
        out[key] = (json.loads(value.strip()), source)
    return out


def test_config_show_accepts_a_row_file_path(capsys) -> None:
    assert main(["config", "show", "sc_rpn"]) == 0
    by_row = _shown(capsys)
    assert main(["config", "show", "configs/mini/sc_rpn.yaml"]) == 0
    assert _shown(capsys) == by_row
    assert by_row["name"] == ("sc_rpn", "the study row's name")


def test_config_show_accepts_any_config_file(tmp_path, capsys) -> None:
    (tmp_path / "mine.yaml").write_text("_base_: " + str(ROOT / "configs/mini/sc_rpn.yaml")
                                        + "\ntrain: {base_lr: 0.002}\n")
    assert main(["config", "show", str(tmp_path / "mine.yaml"), "--set", "train.max_iters=5"]) == 0
    shown = _shown(capsys)
    assert shown["train.base_lr"][0] == 0.002 and shown["train.base_lr"][1].endswith("mine.yaml")
    assert shown["train.max_iters"] == (5, "--set train.max_iters=5")
    assert main(["config", "show", "configs/mini/no_such_row.yaml"]) == 2
    assert capsys.readouterr().err.strip() == "scrpn: error: configs/mini/no_such_row.yaml: no such config file"


def _record(folder: Path, study: Study, row: str, seed: int, threads: int, parts: tuple = ()) -> None:
    from scrpn.study.runs import config_fingerprint

    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "config_fingerprint": config_fingerprint(study.config(row, seed)), "torch_threads": threads,
        "training_parts": [{"threads": t} for t in parts]}))


def test_setting_reads_the_thread_count_from_the_runs_records(tmp_path, monkeypatch) -> None:
    study = Study(profile="mini", seeds=[0, 1], results_dir=tmp_path, log=lambda m: None)
    session = Session(study, tmp_path, tmp_path, tmp_path)
    monkeypatch.setenv("SCRPN_NUM_THREADS", "7")     # the rendering process's count: never shown
    assert "trained on the CPU (no cached run records its thread count yet)" in session.setting("rpn")
    _record(study.run_dir("rpn", 0), study, "rpn", 0, 2)
    assert "trained on 2 CPU threads." in session.setting("rpn")
    _record(study.run_dir("rpn", 1), study, "rpn", 1, 1)
    assert "trained on 1 or 2 CPU threads." in session.setting("rpn")
    assert "7" not in session.setting("rpn").split("lr")[1]
    _record(study.run_dir("rpn", 2), replace(study, seeds=[2]), "rpn", 2, 1, parts=(4,))   # training's count wins
    assert "trained on 1 or 2 or 4 CPU threads." in replace(session, study=replace(study, seeds=[0, 1, 2])).setting("rpn")


def test_figures_run_the_model_on_one_thread() -> None:
    """A forward's float sums depend on the thread split: figures pin one thread, then restore."""
    from scrpn.build import build_model
    from scrpn.config import load_config
    from scrpn.viz.common import run_head

    cfg = load_config(ROOT / "configs/smoke/sc_rpn.yaml", ["model.backbone.pretrained=false"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    seen = []
    model.backbone.register_forward_hook(lambda *args: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_head(model, torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0)))
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_study_messages_go_to_the_rendering_log_not_the_outputs(tmp_path, monkeypatch, capsys) -> None:
    log = tmp_path / "render.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.chdir(ROOT)
    session = setup(profile="smoke", results_dir=tmp_path / "results")
    session.study.log("results/runs/rpn/seed0/metrics.json: trained by the code of commit abc")
    assert capsys.readouterr().out == ""
    assert log.read_text() == "results/runs/rpn/seed0/metrics.json: trained by the code of commit abc\n"


def test_run_notebooks_forwards_the_study_log_and_writes_parameters_runs_elsewhere(tmp_path) -> None:
    """One tiny notebook: its -p value reaches the kernel, its figure goes to --output-dir, and the
    study's message reaches the caller's log, not the executed notebook."""
    pytest.importorskip("papermill")
    import jupytext
    from nbformat.v4 import new_code_cell, new_notebook

    folder = tmp_path / "notebooks"
    folder.mkdir()
    params = new_code_cell("profile = 'smoke'\nretrain = False\nseeds = [0]\ndataset = 'synthshapes'\n"
                           "results_dir = 'results'\ntrain_missing = False\nword = 'default'")
    params.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "from scrpn.study.notebooks import setup\n"
        "session = setup(profile=profile, seeds=seeds, results_dir=results_dir, train_missing=train_missing)\n"
        "session.study.log('a git-history message')\n"
        "(session.figures_dir / 'word.txt').write_text(word)\nprint('word is', word)")
    nb = new_notebook(cells=[params, body])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    jupytext.write(nb, folder / "00_t.py", fmt="py:percent")
    out = tmp_path / "out"
    lines = []
    run_notebooks(folder, profile="smoke", seeds=[0], results_dir=tmp_path / "results", train_missing=False,
                  output_dir=out, parameters={"word": "turned"}, log=lines.append)
    outputs = json.dumps([c.get("outputs", []) for c in json.loads((out / "00_t.ipynb").read_text())["cells"]])
    assert "word is turned" in outputs and "git-history" not in outputs
    assert "a git-history message" in lines
    assert (out / "figures" / "word.txt").read_text() == "turned"
    assert not (tmp_path / "results" / "figures" / "word.txt").exists()
