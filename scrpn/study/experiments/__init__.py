"""The registry of the pre-registered cause experiments (issue 18; registry: issue 35).

One module per experiment (``e<n>_<topic>.py``) holds all of it: its rows, its registered rule
(a function with hand-derived tests in ``tests/test_verdicts.py``) and its :class:`Experiment`
record (question, arms, seeds, metric, amendments, figures, run order; ``record.py``).
:data:`REGISTRY` lists them; everything else derives from it: the causes table
(:mod:`scrpn.study.causes`), the registered seeds (:func:`registered_seeds`), the tables' prose
(``prose.CAUSES``), the run order (``scrpn study --experiment N``, :func:`run_experiment`),
``scripts/cause_report.py`` and notebook 12. ``docs/architecture.md``, "Add an experiment", says
how a new one joins.

The study's core (runs, caching, statistics, the paper's tables) never imports this package
(``tests/test_architecture.py``).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

from ..runs import PROFILE_CONFIG_DIRS, SCHEDULE_RUNGS, ScheduleNotChosen
from ..stats import Runs, cached_runs
from . import (e1_cascade_rpn, e2_ga_rpn, e3_iou_mask, e4_posr, e5_alignment, e6_points, e7_geometry,
               e8_detectors, e9_deepforest, e10_converged)
from .record import Amendment, Arm, Experiment, Stage

__all__ = ["Amendment", "Arm", "Experiment", "ExperimentRuns", "REGISTRY", "RUN_ORDER", "Stage", "all_arms",
           "experiment_plan", "experiment_steps", "experiment_runs", "experiment_study", "experiment_verdicts",
           "named_runs", "registered_seeds", "run_experiment", "run_study", "schedule_waiting", "study_at"]

REGISTRY: dict[int, Experiment] = {m.EXPERIMENT.number: m.EXPERIMENT for m in (
    e1_cascade_rpn, e2_ga_rpn, e3_iou_mask, e4_posr, e5_alignment, e6_points, e7_geometry, e8_detectors,
    e9_deepforest, e10_converged)}
# The registered order of the runs (REPORT: "3 (M2, M3), 1 (A-D, then E), 4, 5, 6, 2, 8, 7"); 9
# after 6, whose verdict added its second correction; 10 (issue 38) last, re-reading them all.
RUN_ORDER = (3, 1, 4, 5, 6, 9, 2, 8, 7, 10)


def all_arms() -> tuple[Arm, ...]:
    """Every arm of every experiment, in experiment order: the causes table's lines."""
    return tuple(arm for number in sorted(REGISTRY) for arm in REGISTRY[number].arms)


def experiment_study(study: Any, where: Any) -> Optional[Any]:
    """``study`` for an experiment's (or an arm's) dataset and profile: the same seeds and folders.

    An arm's profile may be a function of the cached runs on its dataset (read by name,
    :func:`named_runs`), as a :class:`Stage`'s may: experiment 10 reads its component claims at
    phase 3's rung and DeepForest's claim at DeepForest's own S*, so the causes table reads each
    arm where its stage trains it. ``None`` while that function names no profile yet (the arm
    reads no runs and waits; ``tests/test_converged.py``)."""
    return study_at(_dataset_study(study, where), where.profile)


def _dataset_study(study: Any, where: Any) -> Any:
    """``study`` on ``where``'s dataset (its own when ``where`` names none)."""
    return replace(study, dataset=where.dataset) if where.dataset not in (None, study.dataset) else study


def study_at(base: Any, profile: Any, read: Optional[Callable[[Any], Runs]] = None) -> Optional[Any]:
    """``base`` at ``profile``: a profile name, ``None`` (``base``'s own), or a function of the
    cached runs ``read(base)`` returns (default :func:`named_runs`) that names one, or ``None``
    while it cannot yet; then this returns ``None``. The one resolution behind
    :func:`experiment_study`, :class:`ExperimentRuns` and :func:`experiment_steps`."""
    if callable(profile):
        profile = profile((read or named_runs)(base))
        if profile is None:
            return None
    return replace(base, profile=profile) if profile not in (None, base.profile) else base


def run_study(study: Any, name: str) -> tuple[Any, str]:
    """The study and row of a run name: ``s4x_rpn`` is ``rpn`` at the schedule rung ``4x``, and
    ``s4x_deepforest_rpn`` (or ``deepforest_rpn``) is ``rpn`` on the dataset ``deepforest`` (the
    names ``Study.run_name`` gives; a dataset is one with an overlay in the profile's
    ``datasets/``), any other name is ``study``'s own row. A rule that compares profiles and
    datasets (experiment 10) reads its runs by these names."""
    for rung in SCHEDULE_RUNGS:
        if name.startswith(f"s{rung}_"):
            study, name = replace(study, profile=rung), name[len(rung) + 2:]
            break
    if study.dataset in (None, "synthshapes"):
        overlays = Path(study.config_root) / PROFILE_CONFIG_DIRS[study.profile] / "datasets"
        for dataset in sorted(p.stem for p in overlays.glob("*.yaml")):
            if name.startswith(f"{dataset}_"):
                return replace(study, dataset=dataset), name[len(dataset) + 1:]
    return study, name


def schedule_waiting(study: Any) -> Optional[str]:
    """Why ``study``'s profile cannot be read yet (experiment 10's ``converged`` before phase 1
    has chosen S*: the one-line reason), or ``None`` when it can."""
    try:
        study.schedule_rung()
    except ScheduleNotChosen as exc:
        return str(exc)
    return None


def named_runs(study: Any) -> Runs:
    """``run name -> its cached runs`` (:func:`run_study`: a rung's or a dataset's runs by their
    names, any other name ``study``'s own row), one memoised reader per dataset and profile; a
    profile not chosen yet reads no runs. Trains nothing."""
    readers: dict = {}

    def reader(sub: Any) -> Runs:
        key = (sub.dataset, sub.profile)
        if key not in readers:
            readers[key] = (lambda row: []) if schedule_waiting(sub) else cached_runs(sub)
        return readers[key]

    def runs(name: str) -> list:
        sub, row = run_study(study, name)
        return reader(sub)(row)

    return runs


class ExperimentRuns:
    """``experiment (or arm) -> its cached runs``, by row on its dataset and profile, or by run
    name at a schedule rung (:func:`named_runs`); one memoised reader per dataset and profile, which
    also feeds the profiles that are functions of the runs (:func:`study_at`), so a table of many
    arms reads each folder once. A profile not chosen yet (``converged`` before S*) reads no runs.
    Trains nothing."""

    def __init__(self, study: Any) -> None:
        self._study = study
        self._readers: dict = {}

    def _named(self, base: Any) -> Runs:
        key = (base.dataset, base.profile)
        if key not in self._readers:
            self._readers[key] = named_runs(base)
        return self._readers[key]

    def study_of(self, where: Any) -> Optional[Any]:
        """:func:`experiment_study`, reading through this object's memo."""
        return study_at(_dataset_study(self._study, where), where.profile, read=self._named)

    def __call__(self, where: Any) -> Runs:
        base = self.study_of(where)
        return (lambda row: []) if base is None else self._named(base)


def experiment_runs(study: Any) -> ExperimentRuns:
    """:class:`ExperimentRuns` of ``study``: ``runs_of(experiment or arm)``."""
    return ExperimentRuns(study)


def experiment_verdicts(runs_of: Callable[[Experiment], Runs]) -> dict[int, str]:
    """Each experiment's verdict, read off its registered rule from ``runs_of(experiment)``, the
    cached runs of its dataset and profile; "pending" until the rule has the runs it reads."""
    return {number: e.rule(runs_of(e))["verdict"] for number, e in sorted(REGISTRY.items())}


def registered_seeds(row: str, verdicts: Optional[dict[int, str]] = None) -> int:
    """Seeds the REPORT registered for a row an experiment trains: its arm's ``seeds``, more where
    the experiment's verdict took the branch that asks for more (:attr:`Experiment.more_seeds`);
    three for a row no arm trains."""
    for number, e in sorted(REGISTRY.items()):
        wanted = e.registered_runs((verdicts or {}).get(number, "pending"))
        if row in wanted:
            return wanted[row]
    for arm in all_arms():             # a row only read (the first study's detectors: one seed)
        if row in (arm.row, arm.reference):
            return arm.seeds
    return 3


def experiment_steps(number: int, study: Any, log: Callable[[str], None] = print):
    """Each stage of experiment ``number`` that would train, as ``(study, rows, seeds)``, in the
    registered order, planned when the generator reaches it (after the runs of the stages before
    it have been trained, if the caller trains them). A stage not dropped trains its rows on its
    dataset and profile; a stage whose rows depend on earlier runs reads them from the cache
    (every seed the experiment registers; runs of any rung by name, :func:`named_runs`). A stage
    at a profile not chosen yet stops the run order there: the later stages wait for it. A stage
    whose profile is a function of the cached runs trains at the profile it names (``None``: not
    yet, the stage is skipped with its ``skip`` line)."""
    experiment = REGISTRY[number]
    base = experiment_study(study, experiment)      # an Experiment's profile is a name, never pending
    every_seed = sorted({seed for stage in experiment.stages for seed in stage.seeds})
    for stage in experiment.stages:
        if stage.dropped:
            log(f"experiment {number}, stage {stage.name}: dropped ({stage.dropped})")
            continue
        reader = base if stage.dataset in (None, base.dataset) else replace(base, dataset=stage.dataset)
        # a profile may be chosen by earlier runs (experiment 10's phases 3-4), read at every seed
        sub = study_at(reader, stage.profile, read=lambda _: named_runs(replace(reader, seeds=every_seed)))
        if sub is None:
            log(stage.skip or f"experiment {number}, stage {stage.name}: its profile is not chosen yet")
            continue
        waiting = schedule_waiting(sub)
        if waiting:
            log(f"experiment {number}, stage {stage.name} and every later stage: waiting ({waiting})")
            return
        rows = list(stage.rows(named_runs(replace(reader, seeds=every_seed))) if callable(stage.rows)
                    else stage.rows)
        if not rows:
            log(stage.skip or f"experiment {number}, stage {stage.name}: nothing to run yet")
            continue
        for row in rows:
            sub.config(row)             # a typo fails here, before hours of training
        log(f"experiment {number}, stage {stage.name}: {' '.join(rows)}, seeds {list(stage.seeds)}"
            + (f" ({stage.dataset})" if stage.dataset else "")
            + (f", profile {sub.profile}" if stage.profile else ""))
        yield sub, rows, tuple(stage.seeds)


def experiment_plan(number: int, study: Any, log: Callable[[str], None] = print) -> list[tuple[Any, list[str], tuple]]:
    """What ``scrpn study --experiment N`` would train next, read off the cached runs (nothing is
    trained): ``(study, rows, seeds)`` per stage (:func:`experiment_steps`; a stage that depends on runs
    not yet trained is planned as the cache stands). ``--estimate`` prices it."""
    return list(experiment_steps(number, study, log))


def run_experiment(number: int, study: Any, log: Callable[[str], None] = print) -> list[dict]:
    """Train (or load) the runs of experiment ``number`` in its registered order (:func:`experiment_steps`,
    each stage planned after the stages before it have trained), one at a time in this process
    (``scrpn study --experiment N --jobs 2`` runs each stage's runs side by side instead). Returns
    every run's metrics record."""
    records: list[dict] = []
    for sub, rows, seeds in experiment_steps(number, study, log):
        records += sub.runs(rows, seeds)
    return records
