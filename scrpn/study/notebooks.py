"""The numbered notebooks: their shared setup, and running them in order (``scrpn reproduce``).

**Sources and executed copies.** Each notebook is a pair (jupytext): ``notebooks/NN_name.py``, the
source in percent format (reviewable, lintable, what you edit), and ``notebooks/NN_name.ipynb``,
its executed copy with outputs (what GitHub shows). ``notebooks/jupytext.toml`` pairs them, so an
edit of either in JupyterLab updates both; ``tests/test_notebooks.py`` fails when an ``.ipynb``'s
cells differ from its ``.py``. :func:`run_notebooks` executes the ``.py`` with papermill and writes
the ``.ipynb``; it refuses to overwrite an ``.ipynb`` whose cells were edited without its ``.py``
(``jupytext --sync`` first).

**Byte-stable outputs.** :func:`normalise_executed` makes a re-run with the same results rewrite
each ``.ipynb`` identically except for the notebook's start / end time and duration: cell ids
follow the cell's position, no absolute path is kept (papermill's ``input_path`` / ``output_path``
become project-relative), per-cell timestamps are dropped, and widget state (random model ids that
only a live kernel can use) is replaced by the widget's text description.

**Shared setup.** Each notebook starts with a papermill ``parameters`` cell (``profile``,
``retrain``, ``seeds``, ``dataset``, ``results_dir``, ``train_missing``) and then calls
:func:`setup`, which moves to the project root (a notebook opened from ``notebooks/`` and one run
by papermill see the same relative paths) and returns a :class:`Session`: the
:class:`~scrpn.study.Study`, the output folders, and the helpers every notebook uses
(:meth:`Session.show_table`, :meth:`Session.what_we_see`, :meth:`Session.show_figure`,
:meth:`Session.ready`, :meth:`Session.setting`). Checkpoints go to ``$SCRPN_WORK_DIR`` (default
``work_dirs``; the tests point it at a temporary folder).

Executed notebooks are written to a temporary file first and replace the original only when the
run succeeded: a failing notebook never loses the committed outputs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .runs import Study

__all__ = ["NotebookFailures", "Session", "cells_differ", "list_notebooks", "normalise_executed", "project_root",
           "read_source", "run_notebooks", "setup"]


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``configs/`` and ``scrpn/``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "configs").is_dir() and (folder / "scrpn").is_dir():
            return folder
    raise FileNotFoundError(f"{here}: not inside the scrpn project (no configs/ and scrpn/ above)")


@dataclass
class Session:
    """What a notebook works with after :func:`setup`: the study, its folders and helpers."""

    study: Study
    tables_dir: Path
    figures_dir: Path
    paper_dir: Path

    def setting(self, row: str = "sc_rpn", dataset: Optional[str] = None) -> str:
        """Markdown: the profile's setting, read from ``row``'s resolved config (never typed);
        ``dataset`` for a notebook whose table uses another dataset than the study's."""
        study = self.study if dataset is None else replace(self.study, dataset=dataset)
        cfg = study.config(row)
        backbone = {"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50"}.get(
            cfg.model.backbone.name, cfg.model.backbone.name)
        data = {"synthshapes": "the embedded SynthShapes data", "deepforest": "DeepForest's real tree "
                "crowns", "coco": "MS COCO"}.get(cfg.data.dataset, cfg.data.dataset)
        if cfg.data.dataset == "coco":
            size = f"images resized to at most {cfg.data.max_size[0]}x{cfg.data.max_size[1]} px"
        else:
            size = f"{cfg.data.image_size} px images"
        schedule = (f"{cfg.train.max_epochs} epochs" if cfg.train.by_epoch
                    else f"{cfg.train.max_iters} iterations")
        from scrpn.engine.seeding import threads_override

        threads = threads_override() or cfg.train.num_threads or "torch's default"
        text = (f"Our numbers come from the **{self.study.profile}** profile: {backbone}-FPN "
                f"(width {cfg.model.backbone.fpn_channels}) on {data}, {size}, batch "
                f"{cfg.train.batch_size}, {schedule} at lr {cfg.train.base_lr:g} (`{row}`), "
                f"{threads} CPU threads. The paper's come from ResNet50-FPN on MS COCO at 1333x800, "
                f"12 epochs on GPUs. Compare **signs and rough sizes of differences between rows**, "
                f"never absolute values; `diff` is ours minus the paper's.")
        if self.study.profile == "smoke":
            text = ("**SMOKE PROFILE**: two training iterations on tiny images; the numbers below "
                    "mean nothing. ") + text
        return text

    def show_setting(self, row: str = "sc_rpn", dataset: Optional[str] = None) -> None:
        _display_markdown(self.setting(row, dataset))

    def show_table(self, name: str) -> Any:
        """Build table ``name`` (training missing rows if allowed), write its CSV, display it."""
        from IPython.display import display

        from .tables import TABLES, make_table

        view, path = make_table(name, self.study, self.tables_dir, self.paper_dir)
        print(f"{TABLES[name].title}  ->  {path}")
        display(view)
        return view

    def what_we_see(self, name: str) -> str:
        """Display (and return) the table's "what we see" Markdown, computed from its CSV."""
        import pandas as pd

        from .causes import cached_runs, dataset_study, experiment_verdicts
        from .prose import what_we_see

        frame = pd.read_csv(self.tables_dir / f"{name}.csv")

        # the cause rows are read quietly here: their provenance warnings belong to notebook 12
        quiet = replace(self.study, log=lambda message: None)

        def seeds_cached(row: str) -> int:
            return sum(quiet.cached(row, s) is not None for s in (0, 1, 2))

        text = what_we_see(frame, name, cause_runs=seeds_cached,
                           cause_verdicts=experiment_verdicts(
                               cached_runs(quiet), cached_runs(dataset_study(quiet, "deepforest"))))
        _display_markdown(text)
        return text

    def ready(self, *rows: str) -> bool:
        """Whether the first seed of every row is available (cached, or trainable now)."""
        missing = [row for row in rows if not self.study.available(row, self.study.seeds[0])]
        if missing:
            print("pending, not trained yet:", ", ".join(missing))
        return not missing

    def show_figure(self, fig: Any, name: str) -> list[Path]:
        """Save ``fig`` as ``<figures>/<name>.png`` and ``.pdf`` (no creation date) and show it."""
        from IPython.display import display

        from scrpn.viz.common import save_figure

        paths = save_figure(fig, name, self.figures_dir)
        display(fig)
        print("saved:", ", ".join(str(p) for p in paths))
        return paths


def _display_markdown(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


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
    rung = study.schedule_rung()
    if rung is not None:   # a schedule profile (experiment 10) writes beside the mini tables, never over them
        tables, figures = tables / f"s{rung}", figures / f"s{rung}"
    tables.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    return Session(study, tables, figures, Path("results") / "paper")


def list_notebooks(folder: str | Path, only: Optional[Sequence[str]] = None) -> list[Path]:
    """The numbered notebooks of ``folder`` in order: each ``NN_*.py`` source, or ``NN_*.ipynb``
    where a notebook has no ``.py`` pair; optionally only those whose number is in ``only``."""
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")) + sorted(Path(folder).glob("[0-9][0-9]_*.py")):
        found[path.stem] = path  # a .py replaces its .ipynb
    paths = [found[stem] for stem in sorted(found)]
    if only:
        paths = [p for p in paths if p.name[:2] in set(only)]
    if not paths:
        raise FileNotFoundError(f"{folder}: no numbered notebooks (NN_*.py or NN_*.ipynb) to run")
    return paths


def read_source(path: str | Path) -> Any:
    """A notebook as an ``nbformat`` node: a jupytext ``.py`` source or an ``.ipynb``."""
    import nbformat

    path = Path(path)
    if path.suffix == ".py":
        import jupytext

        return jupytext.read(path)
    return nbformat.read(path, as_version=4)


def _code_and_text(nb: Any) -> list[tuple[str, str]]:
    """(cell type, source) of every cell but papermill's injected parameters."""
    return [(cell.cell_type, cell.source.strip()) for cell in nb.cells
            if "injected-parameters" not in cell.get("metadata", {}).get("tags", [])]


def cells_differ(source: str | Path, executed: str | Path) -> list[str]:
    """How an executed ``.ipynb`` differs from its ``.py`` source, cell by cell (empty: in sync).
    Outputs, metadata and papermill's injected-parameters cell are not compared."""
    a, b = _code_and_text(read_source(source)), _code_and_text(read_source(executed))
    problems = [f"cell {i}: {x[0]} cell differs" for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(a) != len(b):
        problems.append(f"{len(a)} cells in {Path(source).name}, {len(b)} in {Path(executed).name}")
    return problems


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def normalise_executed(nb: Any, source: str, target: str) -> Any:
    """Make an executed notebook a function of its source and results (module docstring):
    positional cell ids, project-relative papermill paths, no per-cell timestamps, no widget state.
    ``source`` and ``target`` are the paths to record (relative to the project root)."""
    meta = nb.metadata
    meta.pop("widgets", None)
    meta.pop("jupytext", None)
    if "papermill" in meta:
        meta["papermill"]["input_path"] = source
        meta["papermill"]["output_path"] = target
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:02d}"
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]  # its model id is random and dead without the kernel
    return nb


def _relative(path: Path, root: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


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
    import nbformat  # late: only this command needs them
    import papermill

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
        target = (Path(output_dir) if output_dir else path.parent) / f"{path.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".py" and target.is_file() and not output_dir:
            changed = cells_differ(path, target)
            if changed and target.stat().st_mtime > path.stat().st_mtime:
                raise RuntimeError(
                    f"{target}: edited without its source {path.name} ({changed[0]}); run "
                    f"`jupytext --sync {target}` to carry the edit into the .py, then run again")
        source_nb = target.with_name(f".{path.stem}.source.ipynb")
        tmp = target.with_name(f".{path.stem}.running.ipynb")
        nbformat.write(read_source(path), source_nb)
        log(f"notebook {number} of {len(notebooks)}: running {path.name} ({profile} profile)")
        try:
            papermill.execute_notebook(str(source_nb), str(tmp), parameters=params, cwd=str(root),
                                       kernel_name="python3", progress_bar=False)
        except papermill.PapermillExecutionError as err:
            failed[path.name] = f"{err.ename}: {err.evalue}"
            log(f"{path.name} FAILED ({failed[path.name]}); executed copy: {tmp}")
            continue
        finally:
            source_nb.unlink(missing_ok=True)
        executed = normalise_executed(nbformat.read(tmp, as_version=4), _relative(path, root),
                                      _relative(target, root))
        nbformat.write(executed, tmp)
        tmp.replace(target)
        done.append(target)
    if failed:
        raise NotebookFailures(failed)
    return done
