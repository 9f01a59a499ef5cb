"""What one pre-registered experiment is, as a record: the shape every ``e<n>_*.py`` fills in.

An :class:`Experiment` holds everything the REPORT registered for it (``results/REPORT.md``,
"Pre-registered: tracing each non-reproduction to a cause"): the question, its :class:`Arm` s
(row, reference, seeds, metric), the rule (a function of the cached runs returning a dict with a
``"verdict"``), the amendments with their dates, the figures notebook 12 draws, and the run order
(:class:`Stage` s, what ``scrpn study --experiment N`` trains). The causes table, the registered
seeds, the tables' prose, ``scripts/cause_report.py`` and notebook 12 read these records; nothing
about an experiment is written anywhere else. ``tests/test_causes.py`` pins what they derive.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional, Sequence, Union

from ..stats import Runs

__all__ = ["Amendment", "Arm", "Experiment", "Stage"]


@dataclass(frozen=True)
class Arm:
    """One line of the causes table: a row against its reference."""
    arm: str                    # the REPORT's name of the arm ("A", "G2", "today", ...)
    variant: str                # what it changes, in a few words
    row: Optional[str]          # the study row (None: not written yet, shown as "not built")
    reference: str              # the row its Δ is taken against
    paired: bool = False        # same checkpoints as the reference (a scoring variant)
    metric: str = "AR1000"      # the metric of its Δ (box "AP" for detectors)
    seeds: int = 3              # the seeds the REPORT registered for the rows it trains
    # the reference's seeds its Δ reads (None: every seed it has, its mean); 1 for a rule that
    # reads seed 0 on both sides (experiment 10's learning curve: one seed per rung)
    reference_seeds: Optional[int] = None
    # which of its rows this arm trained: its CPU-time line counts them ("row", "reference");
    # () for an arm that only reads the first study's runs
    adds: tuple[str, ...] = ("row",)
    # its own dataset / profile, else its Experiment's (None: the study's)
    dataset: Optional[str] = None   # another dataset's runs (experiment 9: "deepforest")
    # another profile's runs (a schedule rung: "4x", "converged"), or, as a Stage's, a function of
    # the cached runs naming it (None: not chosen yet, the arm waits): experiment 10's claims at
    # phase 3's rung and at DeepForest's own S*
    profile: Union[None, str, Callable[[Runs], Optional[str]]] = None
    # filled in by its Experiment:
    experiment: int = 0
    claim: str = ""

    @property
    def cost_rows(self) -> tuple[str, ...]:
        """The rows whose runs this arm added (``adds``), counted in its CPU-time line."""
        return tuple(dict.fromkeys(getattr(self, side) for side in self.adds if getattr(self, side)))


@dataclass(frozen=True)
class Amendment:
    date: str                   # the day it was registered (results/REPORT.md)
    text: str                   # what it changed, and before which runs


@dataclass(frozen=True)
class Stage:
    """One step of the run order: rows x seeds, trained by ``scrpn study --experiment N``.
    ``rows`` may be a function of the cached runs (a row chosen by earlier arms' results); an
    empty answer skips the stage with ``skip``'s message. A ``dropped`` stage is kept for the
    record and not run (the reason is the REPORT's). ``profile``: the profile its rows train at (a
    schedule rung, "converged"); a profile not chosen yet (experiment 10's S*) stops the run order
    there, the later stages waiting for it. ``profile`` may also be a function of the cached runs
    (experiment 10: phase 3 at 4x when S* = 8x, DeepForest at its own S*): the profile it names,
    or ``None`` while it cannot be chosen (the stage is skipped with ``skip``)."""
    name: str
    rows: Union[tuple[str, ...], Callable[[Runs], Sequence[str]]]
    seeds: tuple[int, ...] = (0, 1, 2)
    dataset: Optional[str] = None
    profile: Union[None, str, Callable[[Runs], Optional[str]]] = None
    note: str = ""
    skip: str = ""
    dropped: str = ""


@dataclass(frozen=True)
class Experiment:
    number: int
    claim: str                  # the claim under test, as the causes table names it
    question: str               # what the arms test, as the tables' prose says it
    arms: tuple[Arm, ...]
    rule: Callable[[Runs], dict]             # the registered rule: runs -> {"verdict": ..., ...}
    report: Callable[[Runs], list[str]]      # Markdown lines for scripts/cause_report.py
    stages: tuple[Stage, ...] = ()
    # figure names (results/figures/<name>.png) per arm; "{number}" and "{arm}" are filled in
    figures: tuple[str, ...] = ("causes_ar1000", "causes_missed_{number}")
    dataset: Optional[str] = None            # its arms' dataset (None: the study's)
    profile: Optional[str] = None            # its arms' profile (None: the study's); an arm may set its own
    table_row: Optional[tuple[str, str]] = None   # (table, row) of the non-reproduction it traces
    amendments: tuple[Amendment, ...] = ()
    # the rule's branch that registers more seeds: (verdict prefix, seeds for the arms' rows)
    more_seeds: Optional[tuple[str, int]] = None
    title: str = ""             # cause_report.py's heading

    def __post_init__(self) -> None:
        arms = tuple(replace(a, experiment=self.number, claim=self.claim, dataset=a.dataset or self.dataset,
                             profile=a.profile or self.profile) for a in self.arms)
        object.__setattr__(self, "arms", arms)

    def arm(self, name: str) -> Arm:
        return next(a for a in self.arms if a.arm == name)

    def figure_names(self, arm: Arm) -> list[str]:
        return [f"{f.format(number=self.number, arm=arm.arm)}.png" for f in self.figures]

    @property
    def reads_stage1(self) -> bool:
        """Its rule reads "stage 1 learns": notebook 12 draws that diagnostic through training."""
        return any(f.startswith("causes_stage1_") for f in self.figures)

    def seeds_of(self, arm: Arm, verdict: str = "pending") -> int:
        """The seeds registered for ``arm``'s rows, given the experiment's verdict so far."""
        if self.more_seeds is not None and verdict.startswith(self.more_seeds[0]):
            return max(arm.seeds, self.more_seeds[1])
        return arm.seeds

    def registered_runs(self, verdict: str = "pending") -> dict[str, int]:
        """``row -> seeds`` of every row its arms train (first arm naming a row wins)."""
        out: dict[str, int] = {}
        for arm in self.arms:
            for row in arm.cost_rows:
                out.setdefault(row, self.seeds_of(arm, verdict))
        return out
