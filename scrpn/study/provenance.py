"""Which code produced a run: the git commit and whether the tree had uncommitted changes.

A run's config fingerprint says *what* was trained; it cannot see a code change under an unchanged
config, so a cached run could look current after ``scrpn/`` changed. :func:`code_version` is
recorded in every ``metrics.json`` the study writes (``code_commit``, ``code_dirty``: uncommitted
changes under ``scrpn/`` or ``configs/``), and :class:`CodeChanges` tells, per cached run, whether
``scrpn/`` has changed since its commit (the study then warns; the run is kept, since its
fingerprint is unchanged, and ``--retrain`` refreshes it). Modules that only read finished runs
(:data:`READ_ONLY_PATHS`: the tables, verdicts, prose, figures) cannot change a run's numbers, so
a change there does not count. Runs written before this existed have no commit: they are
reported as "unknown", never guessed.

Outside a git checkout (an installed package, a tarball) every answer is ``None``.
``tests/test_provenance.py`` pins the behaviour on a throw-away repository.
"""
from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Optional

__all__ = ["CODE_PATHS", "READ_ONLY_PATHS", "CodeChanges", "code_version", "commits_line"]

CODE_PATHS = ("scrpn", "configs")  # what "the code that trained it" means for dirtiness
# parts of the package that read cached runs and never write a metrics.json: a change there is no
# reason to retrain (tests/test_provenance.py: test_reporting_changes_do_not_count)
READ_ONLY_PATHS = ("scrpn/viz", "scrpn/study/causes.py", "scrpn/study/verdicts.py", "scrpn/study/prose.py",
                   "scrpn/study/tables.py", "scrpn/study/notebooks.py", "scrpn/study/estimate.py",
                   "scrpn/study/provenance.py")


def _git(root: Path, *args: str) -> Optional[str]:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def code_version(root: str | Path) -> dict:
    """``{"code_commit": sha | None, "code_dirty": bool | None}`` of the checkout at ``root``."""
    root = Path(root)
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return {"code_commit": None, "code_dirty": None}
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return {"code_commit": head.strip(), "code_dirty": None if status is None else bool(status.strip())}


class CodeChanges:
    """Files under ``scrpn/`` that can change a run's numbers (all but :data:`READ_ONLY_PATHS`)
    changed between a run's commit and HEAD (one git call per commit)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._cache: dict[str, Optional[list[str]]] = {}

    def since(self, commit: Optional[str]) -> Optional[list[str]]:
        """The changed package files, ``[]`` when none, ``None`` when unknown (no commit recorded,
        no git, or a commit this checkout does not have)."""
        if not commit:
            return None
        if commit not in self._cache:
            out = _git(self.root, "diff", "--name-only", commit, "HEAD", "--", "scrpn",
                       *(f":(exclude){path}" for path in READ_ONLY_PATHS))
            self._cache[commit] = None if out is None else [line for line in out.splitlines() if line]
        return self._cache[commit]


def commits_line(records: Iterable[Mapping]) -> str:
    """"runs from <short sha> (n), ..., unknown (n)" for a table's runs, most runs first."""
    counts = Counter((r.get("code_commit") or "unknown")[:10] + ("+dirty" if r.get("code_dirty") else "")
                     for r in records)
    return ", ".join(f"{commit} ({n})" for commit, n in counts.most_common())
