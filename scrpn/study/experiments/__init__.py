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
from typing import Any, Callable, Optional

from ..runs import SCHEDULE_RUNGS
from ..stats import Runs, cached_runs
from . import (e1_cascade_rpn, e2_ga_rpn, e3_iou_mask, e4_posr, e5_alignment, e6_points, e7_geometry,
               e8_detectors, e9_deepforest)
from .record import Amendment, Arm, Experiment, Stage

__all__ = ["Amendment", "Arm", "Experiment", "REGISTRY", "RUN_ORDER", "Stage", "all_arms", "experiment_runs",
           "experiment_study", "experiment_verdicts", "registered_seeds", "run_experiment", "run_study"]

REGISTRY: dict[int, Experiment] = {m.EXPERIMENT.number: m.EXPERIMENT for m in (
    e1_cascade_rpn, e2_ga_rpn, e3_iou_mask, e4_posr, e5_alignment, e6_points, e7_geometry, e8_detectors,
    e9_deepforest)}
# The registered order of the runs (REPORT: "3 (M2, M3), 1 (A-D, then E), 4, 5, 6, 2, 8, 7"); 9
# after 6, whose verdict added its second correction.
RUN_ORDER = (3, 1, 4, 5, 6, 9, 2, 8, 7)


def all_arms() -> tuple[Arm, ...]:
    """Every arm of every experiment, in experiment order: the causes table's lines."""
    return tuple(arm for number in sorted(REGISTRY) for arm in REGISTRY[number].arms)


def experiment_study(study: Any, where: Any) -> Any:
    """``study`` for an experiment's (or an arm's) dataset and profile: the same seeds and folders."""
    changes = {key: value for key, value in (("dataset", where.dataset), ("profile", where.profile))
               if value not in (None, getattr(study, key))}
    return replace(study, **changes) if changes else study


def run_study(study: Any, name: str) -> tuple[Any, str]:
    """The study and row of a run name: ``s4x_rpn`` is ``rpn`` at the schedule rung ``4x`` (the
    names ``Study.run_name`` gives a rung's runs), any other name is ``study``'s own row. A rule
    that compares profiles (experiment 10) reads its runs by these names."""
    for rung in SCHEDULE_RUNGS:
        if name.startswith(f"s{rung}_"):
            return replace(study, profile=rung), name[len(rung) + 2:]
    return study, name


def experiment_runs(study: Any) -> Callable[[Any], Runs]:
    """``experiment (or arm) -> its cached runs``, by row on its dataset and profile, or by run
    name at a schedule rung (:func:`run_study`); one memoised reader per dataset and profile.
    Trains nothing."""
    readers: dict = {}

    def reader(sub: Any) -> Runs:
        return readers.setdefault((sub.dataset, sub.profile), cached_runs(sub))

    def runs_of(where: Any) -> Runs:
        base = experiment_study(study, where)

        def runs(name: str) -> list:
            sub, row = run_study(base, name)
            return reader(sub)(row)

        return runs

    return runs_of


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


def run_experiment(number: int, study: Any, log: Callable[[str], None] = print) -> list[dict]:
    """Train (or load) the runs of experiment ``number`` in its registered order: each
    :class:`Stage` not dropped, its rows x seeds on the stage's dataset. A stage whose rows depend
    on earlier runs reads them from the cache first. Returns every run's metrics record."""
    experiment = REGISTRY[number]
    base = experiment_study(study, experiment)
    records = []
    for stage in experiment.stages:
        if stage.dropped:
            log(f"experiment {number}, stage {stage.name}: dropped ({stage.dropped})")
            continue
        sub = base if stage.dataset in (None, base.dataset) else replace(base, dataset=stage.dataset)
        # a row chosen from earlier runs reads every seed the experiment registers
        every_seed = sorted({seed for other in experiment.stages for seed in other.seeds})
        rows = list(stage.rows(cached_runs(replace(sub, seeds=every_seed))) if callable(stage.rows) else stage.rows)
        if not rows:
            log(stage.skip or f"experiment {number}, stage {stage.name}: nothing to run yet")
            continue
        log(f"experiment {number}, stage {stage.name}: {' '.join(rows)}, seeds {list(stage.seeds)}"
            + (f" ({stage.dataset})" if stage.dataset else ""))
        for row in rows:
            sub.config(row)             # a typo fails here, before hours of training
        records += sub.runs(rows, stage.seeds)
    return records
