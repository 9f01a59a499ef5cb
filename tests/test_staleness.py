"""The staleness guard (issue 39): every committed notebook, table and figure is what
``scrpn reproduce --no-train`` renders from the committed runs and code, beyond each notebook's
execution timestamps. It renders in a temporary copy of the tracked files, so the checkout is never
touched, and names every file that changed (``scrpn.study.notebooks.render_differences``).

When it fails: ``scrpn reproduce --no-train`` (or ``--only NN`` for the notebooks named) and
commit what it rewrote, or fix what made the rendering depend on the machine.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scrpn.study.notebooks import RENDERED_PATHS, render_differences

ROOT = Path(__file__).resolve().parents[1]


def _tracked_files() -> list[str]:
    done = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
    return [name for name in done.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def _copy(names: list[str], to: Path) -> None:
    for name in names:
        (to / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, to / name)


def test_committed_notebooks_tables_and_figures_are_current(tmp_path: Path) -> None:
    pytest.importorskip("papermill")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout (the tracked files are what is compared)")
    names = _tracked_files()
    rendered = [n for n in names if n.startswith(tuple(f"{p}/" for p in RENDERED_PATHS))]
    committed, copy = tmp_path / "committed", tmp_path / "copy"
    _copy(rendered, committed)
    _copy(names, copy)
    env = dict(os.environ, PYTHONPATH=str(copy), SCRPN_WORK_DIR=str(tmp_path / "work"))
    env.setdefault("SCRPN_DATA", str(tmp_path / "data"))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "scrpn", "reproduce", "--no-train"], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, f"reproduce --no-train failed ({seconds:.0f} s):\n{done.stderr[-3000:]}"
    problems = render_differences(committed, copy)
    assert not problems, (
        f"{len(problems)} committed files are stale or depend on the machine (rendered in "
        f"{seconds:.0f} s); run `scrpn reproduce --no-train` and commit, or fix the rendering:\n"
        + "\n".join(problems[:40]))


# ------------------------------------------------------------------ the comparison itself

def _notebook(text: str, start: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "outputs": [{"text": text}]}],
                       "metadata": {"papermill": {"start_time": start, "duration": 1.5},
                                    "language_info": {"version": "3.11.2"}}})


def test_render_differences_ignores_timestamps_only(tmp_path: Path) -> None:
    for root, start in ((tmp_path / "a", "2026-12-01"), (tmp_path / "b", "2026-12-05")):
        (root / "notebooks").mkdir(parents=True)
        (root / "notebooks" / "01_x.ipynb").write_text(_notebook("106 of 106 runs cached", start))
        (root / "results" / "figures").mkdir(parents=True)
        (root / "results" / "figures" / "f.png").write_bytes(b"\x89PNG same")
    assert render_differences(tmp_path / "a", tmp_path / "b") == []


def test_render_differences_names_each_stale_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "notebooks").mkdir(parents=True)
        (root / "results" / "figures").mkdir(parents=True)
        (root / "results" / "tables").mkdir(parents=True)
    (a / "notebooks" / "00_x.ipynb").write_text(_notebook("99 of 103 runs cached", "t0"))
    (b / "notebooks" / "00_x.ipynb").write_text(_notebook("106 of 106 runs cached", "t1"))
    (a / "results" / "figures" / "fig5.pdf").write_bytes(b"%PDF one")
    (b / "results" / "figures" / "fig5.pdf").write_bytes(b"%PDF two")
    (a / "results" / "tables" / "old.csv").write_text("row\nt3_point\n")
    (b / "results" / "tables" / "new.csv").write_text("row\ndiag_t3_point_lr001\n")
    problems = render_differences(a, b)
    assert len(problems) == 4
    assert problems[0].startswith("notebooks/00_x.ipynb: cells[0].outputs[0].text: ")
    assert "99 of 103" in problems[0] and "106 of 106" in problems[0]
    assert problems[1] == "results/tables/new.csv: rendered, but not committed"
    assert problems[2] == "results/tables/old.csv: committed, but not rendered any more"
    assert problems[3] == "results/figures/fig5.pdf: its bytes changed"


def test_a_cells_prints_are_one_stream_output_however_the_kernel_split_them() -> None:
    """Where the kernel splits a cell's prints into messages depends on timing (issue 39: notebook
    08 rendered [3 lines, 5 lines] once and [4, 4] the next time)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from scrpn.study.notebooks import normalise_executed

    def executed(split: int) -> str:
        lines = [f"row {i}\n" for i in range(8)]
        cell = new_code_cell("for row in rows: print(row)")
        cell.outputs = [new_output("stream", name="stdout", text="".join(lines[:split])),
                        new_output("stream", name="stdout", text=lines[split:]),
                        new_output("stream", name="stderr", text="a warning\n"),
                        new_output("stream", name="stdout", text="after\n")]
        nb = normalise_executed(new_notebook(cells=[cell]), "notebooks/t.py", "notebooks/t.ipynb")
        return nbformat.writes(nb)

    assert executed(3) == executed(4)
    outputs = json.loads(executed(3))["cells"][0]["outputs"]
    assert [(o["name"], "".join(o["text"])) for o in outputs] == [
        ("stdout", "".join(f"row {i}\n" for i in range(8))), ("stderr", "a warning\n"), ("stdout", "after\n")]
