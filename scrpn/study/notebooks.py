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
:meth:`Session.ready`, :meth:`Session.setting`, :meth:`Session.show_converged`: the table at
experiment 10's converged schedule beside the mini one). Checkpoints go to ``$SCRPN_WORK_DIR`` (default
``work_dirs``; the tests point it at a temporary folder).

Executed notebooks are written to a temporary file first and replace the original only when the
run succeeded: a failing notebook never loses the committed outputs.

**The same bytes on any machine.** What a committed notebook shows depends on the runs and the
code only: :meth:`Session.setting` reads the thread count from the runs' records, never from the
rendering process; figures that run a model run it on one thread (``scrpn.viz.common.run_head``);
and the study's messages that depend on the checkout's git history (a run trained by an older
commit) go to the log named by ``$SCRPN_NOTEBOOK_LOG`` (:data:`LOG_ENV`; :func:`run_notebooks` sets
it and prints each new line to the terminal), never into a cell's output.
``tests/test_staleness.py`` re-renders everything in a temporary copy and fails on any difference.
A cell that writes to stderr (a library's warning names its file, under this machine's
site-packages) is reported on the terminal after its notebook (:func:`stderr_outputs`), and a
committed notebook with such an output fails ``tests/test_notebooks.py``: the warning is a defect
to fix where it starts, not a line to commit. The render itself goes on (a newer library's
deprecation warning on a reader's machine costs them no notebook).

**Parameters a teacher can turn.** ``scrpn reproduce --only 10 -p image_index=3`` passes papermill
parameters (:func:`parse_parameters`); they must be names of the notebook's ``parameters`` cell,
and a run with any of them writes its notebooks, tables and figures under ``--output-dir``
(:data:`OUTPUT_ENV`), so the committed ones stay the canonical mini renders. A notebook that only
works on some datasets says so in its metadata (``scrpn: {datasets: [synthshapes]}``), and
:func:`run_notebooks` refuses another one before starting a kernel.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .prose import markdown_table
from .runs import Study

__all__ = ["LOG_ENV", "OUTPUT_ENV", "RENDERED_PATHS", "RESERVED_PARAMETERS", "NotebookFailures", "Session",
           "cells_differ", "markdown_table", "render_differences",
           "list_notebooks", "normalise_executed", "notebook_datasets", "parameter_names", "parse_parameters",
           "project_root", "read_source", "run_notebooks", "setup", "stderr_outputs"]

LOG_ENV = "SCRPN_NOTEBOOK_LOG"     # where a rendering's study messages go (not into the outputs)
OUTPUT_ENV = "SCRPN_OUTPUT_DIR"    # tables/ and figures/ of a run with teacher's parameters
# set by reproduce's own options (--profile, --seeds, ...), never by -p
RESERVED_PARAMETERS = ("profile", "retrain", "seeds", "dataset", "results_dir", "train_missing")


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
    _cause_verdicts: Optional[dict] = field(default=None, repr=False)

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
        text = (f"Our numbers come from the **{self.study.profile}** profile: {backbone}-FPN "
                f"(width {cfg.model.backbone.fpn_channels}) on {data}, {size}, batch "
                f"{cfg.train.batch_size}, {schedule} at lr {cfg.train.base_lr:g} (`{row}`), "
                f"{self._threads(study, row)}. The paper's come from ResNet50-FPN on MS COCO at 1333x800, "
                f"12 epochs on GPUs. Compare **signs and rough sizes of differences between rows**, "
                f"never absolute values; Δ is a difference between two rows, and the CSVs' `diff` "
                f"columns are ours minus the paper's.")
        if self.study.profile == "smoke":
            text = ("**SMOKE PROFILE**: two training iterations on tiny images; the numbers below "
                    "mean nothing. ") + text
        return text

    @staticmethod
    def _threads(study: Study, row: str) -> str:
        """The CPU threads ``row``'s cached runs were trained with, from their records (each
        training part's ``threads``, else the record's ``torch_threads``): never the rendering
        machine's, which would change the text."""
        quiet = replace(study, log=lambda message: None)
        counts: set[int] = set()
        for record in (quiet.cached(row, s) for s in quiet.seeds):
            if record is None:
                continue
            parts = [part.get("threads") for part in record.get("training_parts") or []]
            found = [int(t) for t in parts if t] or ([int(record["torch_threads"])]
                                                     if record.get("torch_threads") else [])
            counts.update(found)
        counts = sorted(counts)
        if not counts:
            return "trained on the CPU (no cached run records its thread count yet)"
        return f"trained on {' or '.join(str(c) for c in counts)} CPU thread{'s' * (counts != [1])}"

    def show_setting(self, row: str = "sc_rpn", dataset: Optional[str] = None) -> None:
        _display_markdown(self.setting(row, dataset))

    def show_table(self, name: str) -> Any:
        """Build table ``name`` (training missing rows if allowed), write its full CSV, and display
        the compact table (:func:`scrpn.study.prose.compact_table`) with a link to the CSV."""
        import pandas as pd
        from .prose import compact_table
        from .tables import TABLES, make_table

        _, path = make_table(name, self.study, self.tables_dir, self.paper_dir)
        view = compact_table(pd.read_csv(path), name)
        link = Path(os.path.relpath(path, "notebooks")).as_posix() if not path.is_absolute() else path.as_posix()
        _display_markdown(f"**{TABLES[name].title}** (Δ: against the row named in the last column; "
                          f"every metric, the paper's value and the difference of each: "
                          f"[`{path.as_posix()}`]({link}))\n\n" + markdown_table(view))
        return view

    def what_we_see(self, name: str) -> None:
        """Display the table's "what we see" Markdown (:meth:`what_we_see_text`)."""
        _display_markdown(self.what_we_see_text(name))

    def what_we_see_text(self, name: str) -> str:
        """The table's "what we see" Markdown, computed from its CSV. The cause experiments'
        verdicts are read only for a table that shows one, once per session
        (:meth:`cause_verdicts`)."""
        import pandas as pd

        from .prose import what_we_see

        frame = pd.read_csv(self.tables_dir / f"{name}.csv")
        quiet = self._quiet()

        def seeds_cached(row: str) -> int:
            return sum(quiet.cached(row, s) is not None for s in (0, 1, 2))

        return what_we_see(frame, name, cause_runs=seeds_cached, cause_verdicts=self.cause_verdicts)

    def _quiet(self) -> Study:
        # the cause rows are read quietly here: their provenance warnings belong to notebook 12
        return replace(self.study, log=lambda message: None)

    def cause_verdicts(self) -> dict[int, str]:
        """Every cause experiment's verdict (``scrpn.study.experiments``), from the cached runs of
        each experiment's dataset and profile; computed on the first call, kept for the session."""
        if self._cause_verdicts is None:
            from .experiments import experiment_runs, experiment_verdicts

            self._cause_verdicts = experiment_verdicts(experiment_runs(self._quiet()))
        return self._cause_verdicts

    def show_converged(self, name: str) -> None:
        """Display table ``name`` at the converged schedule S* beside the mini one
        (:meth:`converged_text`)."""
        _display_markdown(self.converged_text(name))

    def converged_text(self, name: str) -> str:
        """Markdown: table ``name`` at experiment 10's S* beside the same table at mini, with the
        paper's values and Δ(S* − mini) [se] (:func:`scrpn.study.schedules.schedule_table`), read
        from the cached runs only (it never trains). Tables III and IV read the rung experiment 10
        registered for its phase 3 (4x when S* = 8x). While S* is not chosen: one line with phase
        1's learning curve so far and the rung the registered rule asks for next."""
        from .experiments import named_runs
        from .experiments.e10_converged import CURVE_CONTROL, choose_schedule, curve_ar1000, table_rung
        from .schedules import (chosen_rung, phase1_text, profile_study, schedule_frames, schedule_status,
                                schedule_table)

        rung = chosen_rung(self.study.config_root, self.study.dataset)
        if rung is None:
            names = {"rpn": "RPN", "sc_rpn": "SC-RPN"}
            curve = curve_ar1000(named_runs(profile_study(self.study, "mini")))
            read_as = "".join(f"; {names.get(m, m)} {f}x: `{run}`" for (m, f), run in CURVE_CONTROL.items())
            return phase1_text(curve, choose_schedule(curve)["next"], names, read_as=read_as)
        read = table_rung(name, rung)
        mini, at_s = schedule_frames(name, self.study, read.profile, self.paper_dir)
        return (schedule_status(name, at_s, read.rung, read.profile) + "\n\n"
                + markdown_table(schedule_table(name, mini, at_s, read.rung)))

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
                  work_dir=os.environ.get("SCRPN_WORK_DIR", "work_dirs"), train_missing=train_missing,
                  log=_study_log())
    outputs = Path(os.environ[OUTPUT_ENV]) if os.environ.get(OUTPUT_ENV) else results
    tables, figures = outputs / "tables", outputs / "figures"
    rung = study.schedule_rung()
    if rung is not None:   # a schedule profile (experiment 10) writes beside the mini tables, never over them
        tables, figures = tables / f"s{rung}", figures / f"s{rung}"
    tables.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    return Session(study, tables, figures, Path("results") / "paper")


def _study_log() -> Callable[[str], None]:
    """The study's messages: appended to ``$SCRPN_NOTEBOOK_LOG`` during a rendering (so that a
    checkout's git history never reaches the committed outputs), printed when run by hand."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return print

    def log(message: str) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(message.rstrip("\n") + "\n")
    return log


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
    positional cell ids, project-relative papermill paths, no per-cell timestamps, no widget state,
    consecutive prints of a cell as one stream output.
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
        if "outputs" in cell:
            cell["outputs"] = _merged_streams(cell["outputs"])
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]  # its model id is random and dead without the kernel
    return nb


def _merged_streams(outputs: list) -> list:
    """Consecutive ``stream`` outputs of one name as one: where the kernel split a cell's prints
    into several messages depends on timing, so two runs of the same cell would differ."""
    merged: list = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and last is not None
                and last.get("output_type") == "stream" and last.get("name") == output.get("name")):
            text = output.get("text", "")
            last["text"] = "".join(last.get("text", "")) + ("".join(text) if isinstance(text, list) else text)
            continue
        merged.append(output)
    return merged


def stderr_outputs(nb: Any) -> list[tuple[int, str]]:
    """(cell index, the line that says what happened) for each stderr output of an executed
    notebook: the first line naming a warning or an error, else its first non-empty line."""
    out = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stderr":
                continue
            text = output.get("text", "")
            lines = [line.strip() for line in ("".join(text) if isinstance(text, list) else text).splitlines()]
            lines = [line for line in lines if line] or ["(empty)"]
            named = [line for line in lines if "Warning:" in line or "Error:" in line]
            line = (named or lines)[0]
            if "Warning:" in line and ": " in line.split("Warning:")[0]:   # "path:158: UserWarning: ..."
                line = line[line.rindex(": ", 0, line.index("Warning:")) + 2:]
            out.append((index, line))
    return out


def _relative(path: Path, root: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


def parameter_names(nb: Any) -> set[str]:
    """The names assigned in a notebook's ``parameters`` cell."""
    import ast

    names: set[str] = set()
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
            for node in ast.parse(source).body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def parse_parameters(items: Sequence[str]) -> dict[str, Any]:
    """``["k=3", "name=sc_rpn", "thr=0.7"]`` -> ``{"k": 3, "name": "sc_rpn", "thr": 0.7}``: each
    value read as YAML (numbers, booleans, lists), as papermill's own ``-p`` does. A name given
    twice (``-p gt=3 -p gt=999``) used to keep the last value without a word: it is an error
    naming the name and both items, as ``--set`` is (``cli.check_repeated_keys``;
    ``tests/test_bad_input_cli.py``)."""
    import yaml

    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"-p {item}: expected NAME=VALUE")
        if key in RESERVED_PARAMETERS:
            raise ValueError(f"-p {item}: {key} is set by reproduce's own option --{key.replace('_', '-')}")
        if key in given:
            raise ValueError(f"'{key}' is given twice on the command line (-p {given[key]} and "
                             f"-p {item}): give each parameter once")
        given[key] = item
        out[key] = yaml.safe_load(value) if value.strip() else ""
    return out


def notebook_datasets(nb: Any) -> Optional[list[str]]:
    """The datasets a notebook works on (its metadata ``scrpn.datasets``); ``None``: any."""
    datasets = nb.metadata.get("scrpn", {}).get("datasets")
    return list(datasets) if datasets else None


# the knobs whose range depends on the data a notebook reads (both read SC-RPN's validation set)
_DATA_KNOBS = {"10_sads_inspector": ("image_index", "gt"), "11_teaching_weak_correlations": ("image_index",)}


def _check_before_running(notebooks: Sequence[Path], dataset: str, parameters: dict[str, Any],
                          profile: str = "mini", seed: int = 0, results_dir: Any = "results") -> None:
    """Refuse, before any kernel starts, a dataset a notebook cannot use, a parameter none of
    the selected notebooks has (a typo would otherwise be ignored silently), and a teaching knob
    of the wrong type or out of range (:mod:`scrpn.viz.knobs`; notebook 10's image and object,
    notebook 11's image, against the validation set they read): they used to fail inside the kernel with a traceback."""
    _check_unknown(notebooks, dataset, parameters)
    from scrpn.viz.knobs import ParameterError, check_knobs

    for path in notebooks:
        try:
            check_knobs(path.stem, parameters)
            if set(_DATA_KNOBS.get(path.stem, ())) & set(parameters):
                from scrpn.engine.builders import build_val_dataset
                from scrpn.viz.sads_inspector import inspector_object
                from scrpn.viz.teaching import teaching_image

                study = Study(profile=profile, dataset=None if dataset == "synthshapes" else dataset,
                              results_dir=results_dir, config_root=project_root() / "configs")
                val = build_val_dataset(study.config("sc_rpn", seed))
                if path.stem == "10_sads_inspector":
                    inspector_object(val, image_index=parameters.get("image_index"), gt=parameters.get("gt"))
                else:
                    teaching_image(val, parameters.get("image_index"))
        except ParameterError as err:
            item = f"{err.name}={parameters[err.name]}" if err.name in parameters else err.name
            raise ValueError(f"{path.name}: -p {item}: {err.problem}") from err


def _check_unknown(notebooks: Sequence[Path], dataset: str, parameters: dict[str, Any]) -> None:
    known: set[str] = set()
    for path in notebooks:
        nb = read_source(path)
        datasets = notebook_datasets(nb)
        if datasets is not None and dataset not in datasets:
            raise ValueError(f"{path.name}: works on {' / '.join(datasets)} only, not --dataset {dataset}; "
                             f"leave it out with --only")
        known |= parameter_names(nb)
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ValueError(f"-p {unknown[0]}: not a parameter of {', '.join(p.name for p in notebooks)} "
                         f"(they have: {', '.join(sorted(known - set(RESERVED_PARAMETERS)))})")


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
                  parameters: Optional[dict[str, Any]] = None,
                  log: Callable[[str], None] = print) -> list[Path]:
    """Execute the notebooks with papermill; return the executed notebooks' paths.

    A notebook that raises does not stop the others, and never replaces its original: its
    executed copy (with the traceback) stays next to it as ``.<name>.running.ipynb``. After the
    last notebook, :class:`NotebookFailures` names every one that failed.

    ``parameters`` (a teacher's ``-p``) go to every selected notebook; they need ``output_dir``,
    which then receives the tables and figures too. The study's messages go to ``log``, not into
    the notebooks (module docstring).
    """
    import nbformat  # late: only this command needs them
    import papermill

    root = project_root()
    folder = (root / folder) if not Path(folder).is_absolute() else Path(folder)
    results = Path(results_dir).resolve()
    if results.is_relative_to(root):  # keep the committed notebooks free of machine paths
        results = results.relative_to(root)
    extra = dict(parameters or {})
    if extra and not output_dir:
        raise ValueError(f"-p {next(iter(extra))}: a run with parameters writes to --output-dir "
                         f"(required), so the committed notebooks stay the canonical ones")
    params = dict(profile=profile, retrain=bool(retrain), seeds=[int(s) for s in seeds],
                  dataset=dataset, results_dir=str(results), train_missing=bool(train_missing))
    done, failed = [], {}
    notebooks = list_notebooks(folder, only)
    _check_before_running(notebooks, dataset, extra, profile=profile, seed=int(seeds[0]),
                          results_dir=results)
    params.update(extra)
    saved = {key: os.environ.get(key) for key in (LOG_ENV, OUTPUT_ENV)}
    log_file = Path(tempfile.mkstemp(prefix="scrpn-notebooks-", suffix=".log")[1])
    os.environ[LOG_ENV] = str(log_file)
    if extra:
        os.environ[OUTPUT_ENV] = str(Path(output_dir).resolve())
    try:
        _run_each(notebooks, params, root, output_dir, profile, log, log_file, done, failed, nbformat, papermill)
    except KeyboardInterrupt as exc:   # Ctrl-C or SIGTERM (scrpn.interrupts): say what was kept
        exc.kept = list(done)
        raise
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        log_file.unlink(missing_ok=True)
    if failed:
        raise NotebookFailures(failed)
    return done


def _run_each(notebooks: Sequence[Path], params: dict, root: Path, output_dir: Any, profile: str,
              log: Callable[[str], None], log_file: Path, done: list, failed: dict,
              nbformat: Any, papermill: Any) -> None:
    """:func:`run_notebooks`' loop; the study's new log lines are passed to ``log`` after each."""
    seen: set[str] = set()

    def forward() -> None:
        for line in log_file.read_text(encoding="utf-8").splitlines():
            if line and line not in seen:
                seen.add(line)
                log(line)

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
        except KeyboardInterrupt:   # interrupted mid-notebook: its .ipynb stays the previous one
            tmp.unlink(missing_ok=True)
            raise
        finally:
            source_nb.unlink(missing_ok=True)
            forward()
        executed = normalise_executed(nbformat.read(tmp, as_version=4), _relative(path, root),
                                      _relative(target, root))
        nbformat.write(executed, tmp)
        for cell, line in stderr_outputs(executed):   # module docstring: reported, never silent
            log(f"{path.name}: cells[{cell}] of the executed notebook wrote to stderr: {line}")
        tmp.replace(target)
        done.append(target)


RENDERED_PATHS = ("notebooks", "results/tables", "results/figures")   # what `reproduce` writes
# what may differ between two renderings of the same runs and code: when and by which Python
_VOLATILE_METADATA = (("papermill", "start_time"), ("papermill", "end_time"), ("papermill", "duration"),
                      ("language_info", "version"))


def _comparable_notebook(data: bytes) -> Any:
    import json

    nb = json.loads(data)
    for section, key in _VOLATILE_METADATA:
        nb.get("metadata", {}).get(section, {}).pop(key, None)
    return nb


def _first_difference(a: Any, b: Any, where: str = "") -> str:
    """Where two JSON trees first differ, e.g. ``cells[12].outputs[0].text: '99 of 103' != ...``."""
    if type(a) is not type(b):
        return f"{where or 'top'}: {str(a)[:80]!r} != {str(b)[:80]!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}" if where else key)
    if isinstance(a, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    if isinstance(a, list):
        return f"{where}: {len(a)} items != {len(b)}"
    if isinstance(a, str) and isinstance(b, str):
        i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        return f"{where}: ...{a[max(0, i - 30):i + 50]!r} != ...{b[max(0, i - 30):i + 50]!r}"
    return f"{where}: {a!r} != {b!r}"


def render_differences(committed: str | Path, rendered: str | Path,
                       paths: Sequence[str] = RENDERED_PATHS) -> list[str]:
    """How a fresh rendering (``scrpn reproduce --no-train`` in a copy of the project, root
    ``rendered``) differs from the committed files (root ``committed``) under ``paths``: one line
    per file that changed, appeared or disappeared. Notebooks are compared as JSON without their
    execution timestamps and the kernel's Python version; every other file byte for byte. Hidden
    files (``.NN.running.ipynb`` of a failed notebook) count too. Empty: nothing is stale.
    ``tests/test_staleness.py`` runs it on every CI run."""
    committed, rendered = Path(committed), Path(rendered)
    problems = []
    for folder in paths:
        files = {p.relative_to(root).as_posix() for root in (committed, rendered)
                 for p in (root / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        for name in sorted(files):
            a, b = committed / name, rendered / name
            if not b.is_file():
                problems.append(f"{name}: committed, but not rendered any more")
            elif not a.is_file():
                problems.append(f"{name}: rendered, but not committed")
            elif a.read_bytes() != b.read_bytes():
                if name.endswith(".ipynb"):
                    old, new = _comparable_notebook(a.read_bytes()), _comparable_notebook(b.read_bytes())
                    if old != new:
                        problems.append(f"{name}: {_first_difference(old, new)}")
                else:
                    problems.append(f"{name}: its bytes changed")
    return problems
