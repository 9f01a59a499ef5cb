"""Run the numbered notebooks in order (``scrpn reproduce``), and what every notebook calls first.

Each notebook starts with a papermill ``parameters`` cell (``profile``, ``retrain``, ``seeds``,
``dataset``, ``results_dir``) and then calls :func:`setup`, which moves to the project root (a
notebook opened from ``notebooks/`` and one run by papermill see the same relative paths) and
returns the :class:`~scrpn.study.Study` and the folders for tables and figures. Checkpoints go to
``$SCRPN_WORK_DIR`` (default ``work_dirs``; the tests point it at a temporary folder).

Executed notebooks are written to a temporary file first and replace the original only when the
run succeeded: a failing notebook never loses the committed outputs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from .runs import Study

__all__ = ["NotebookFailures", "Session", "list_notebooks", "project_root", "run_notebooks", "setup"]


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``configs/`` and ``scrpn/``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "configs").is_dir() and (folder / "scrpn").is_dir():
            return folder
    raise FileNotFoundError(f"{here}: not inside the scrpn project (no configs/ and scrpn/ above)")


@dataclass
class Session:
    study: Study
    tables_dir: Path
    figures_dir: Path
    paper_dir: Path


def setup(profile: str = "mini", retrain: bool = False, seeds: Sequence[int] = (0,),
          dataset: str = "synthshapes", results_dir: str | Path = "results",
          train_missing: bool = True) -> Session:
    """chdir to the project root; the study and output folders of a notebook run.
    ``train_missing=False`` shows what is cached and trains nothing (missing rows: "pending")."""
    os.chdir(project_root())
    results = Path(results_dir)
    study = Study(profile=profile, retrain=retrain, seeds=list(seeds),
                  dataset=None if dataset == "synthshapes" else dataset, results_dir=results,
                  work_dir=os.environ.get("SCRPN_WORK_DIR", "work_dirs"), train_missing=train_missing)
    tables, figures = results / "tables", results / "figures"
    tables.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    return Session(study, tables, figures, Path("results") / "paper")


def list_notebooks(folder: str | Path, only: Optional[Sequence[str]] = None) -> list[Path]:
    """``NN_*.ipynb`` in ``folder`` in order, optionally only those whose number is in ``only``."""
    paths = sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if p.name[:2] in set(only)]
    if not paths:
        raise FileNotFoundError(f"{folder}: no numbered notebooks (NN_*.ipynb) to run")
    return paths


class NotebookFailures(RuntimeError):
    """Some notebooks raised; the others ran. ``failed`` maps notebook name -> the error line."""

    def __init__(self, failed: dict[str, str]) -> None:
        self.failed = dict(failed)
        super().__init__("; ".join(f"{name}: {error}" for name, error in self.failed.items()))


def run_notebooks(folder: str | Path, profile: str = "mini", seeds: Sequence[int] = (0, 1, 2),
                  dataset: str = "synthshapes", results_dir: str | Path = "results",
                  retrain: bool = False, train_missing: bool = True,
                  output_dir: str | Path | None = None,
                  only: Optional[Sequence[str]] = None,
                  log: Callable[[str], None] = print) -> list[Path]:
    """Execute the notebooks with papermill; return the executed notebooks' paths.

    A notebook that raises does not stop the others, and never replaces its original: its
    executed copy (with the traceback) stays next to it as ``.<name>.running.ipynb``. After the
    last notebook, :class:`NotebookFailures` names every one that failed.
    """
    import papermill  # late: only this command needs it

    root = project_root()
    folder = (root / folder) if not Path(folder).is_absolute() else Path(folder)
    results = Path(results_dir).resolve()
    if results.is_relative_to(root):  # keep the committed notebooks free of machine paths
        results = results.relative_to(root)
    params = dict(profile=profile, retrain=bool(retrain), seeds=[int(s) for s in seeds],
                  dataset=dataset, results_dir=str(results), train_missing=bool(train_missing))
    done, failed = [], {}
    notebooks = list_notebooks(folder, only)
    for number, path in enumerate(notebooks, 1):
        target = Path(output_dir) / path.name if output_dir else path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.stem}.running.ipynb")
        log(f"notebook {number} of {len(notebooks)}: running {path.name} ({profile} profile)")
        try:
            papermill.execute_notebook(str(path), str(tmp), parameters=params, cwd=str(root),
                                       kernel_name="python3", progress_bar=False)
        except papermill.PapermillExecutionError as err:
            failed[path.name] = f"{err.ename}: {err.evalue}"
            log(f"{path.name} FAILED ({failed[path.name]}); executed copy: {tmp}")
            continue
        tmp.replace(target)
        done.append(target)
    if failed:
        raise NotebookFailures(failed)
    return done
