"""Which code produced a run: the git commit and whether the tree had uncommitted changes.

A run's config fingerprint says *what* was trained; it cannot see a code change under an unchanged
config, so a cached run could look current after ``scrpn/`` changed. :func:`code_version` is
recorded when a training starts (:mod:`scrpn.engine.provenance`: ``training_parts`` in every
``metrics.json``, with ``code_commit`` / ``code_dirty`` the commit that finished the training and
whether any part was dirty), and :class:`CodeChanges` tells, per cached run, whether
``scrpn/`` has changed since its commit (the study then warns; the run is kept, since its
fingerprint is unchanged, and ``--retrain`` refreshes it). Modules that only read finished runs
(:data:`READ_ONLY_PATHS`: the tables, verdicts, prose, figures) cannot change a run's numbers, so
a change there does not count. The warning reads the commits that *trained* the run
(:func:`training_commits`), not the one that wrote its record. Nor does a change that leaves a module's code as it was: only
docstrings, comments or formatting edited, or an import of a name the module never uses added or
removed (:func:`code_signature`; a removed import that was used fails loudly, it cannot change a
number silently). Runs written before this existed have no commit: they are reported as
"unknown", never guessed.

Outside a git checkout (an installed package, a tarball) every answer is ``None``.
``tests/test_provenance.py`` pins the behaviour on a throw-away repository.
"""
from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Optional

from scrpn.engine.provenance import CODE_PATHS, code_version, git as _git

__all__ = ["CODE_PATHS", "READ_ONLY_PATHS", "CodeChanges", "code_signature", "code_version", "commits_line",
           "dirty_training", "training_commits"]

# parts of the package that read cached runs and never write a metrics.json: a change there is no
# reason to retrain (tests/test_provenance.py: test_reporting_changes_do_not_count)
READ_ONLY_PATHS = ("scrpn/viz", "scrpn/study/causes.py", "scrpn/study/verdicts.py", "scrpn/study/prose", "scrpn/study/report",
                   "scrpn/study/stats.py", "scrpn/study/experiments",
                   "scrpn/study/tables.py", "scrpn/study/notebooks.py", "scrpn/study/estimate.py",
                   "scrpn/study/provenance.py", "scrpn/study/verify.py")


def training_commits(record: Mapping) -> list[str]:
    """The commits that trained a run: every part's (``training_parts``, recorded when each
    training process started), else the record's ``code_commit`` for a record written before the
    parts existed (then the HEAD of the process that wrote the record, which for most runs also
    trained them); ``[]`` when none is known."""
    parts = record.get("training_parts")
    if parts:
        return list(dict.fromkeys(p["commit"] for p in parts if p.get("commit")))
    return [record["code_commit"]] if record.get("code_commit") else []


def dirty_training(record: Mapping) -> bool:
    """Whether a part of the run was trained from a tree with uncommitted changes under
    ``scrpn/`` or ``configs/``. A run with no provenance at all is not dirty: unknown is not dirty."""
    parts = record.get("training_parts")
    if parts:
        return any(p.get("dirty") is True for p in parts)
    return record.get("code_dirty") is True


def _strip_docstring(body: list) -> list:
    first = body[0] if body else None
    is_doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
              and isinstance(first.value.value, str))
    return body[1:] if is_doc else body


def code_signature(source: str) -> Optional[str]:
    """What a module *does*, for comparing two versions of it: its syntax tree without docstrings
    (comments and formatting are not in the tree) and without the imports of names it never uses
    (``__future__`` imports and names listed in ``__all__`` are kept). ``None`` when the source
    does not parse (then any change counts).

    Two versions with equal signatures run the same code, with one blind spot accepted here: an
    unused import's side effects. Nothing in ``scrpn/`` imports for side effects (re-exports are
    listed in ``__all__`` or used). ``tests/test_provenance.py:
    test_docstring_and_unused_import_changes_do_not_count`` pins it."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    used: set[str] = set()      # names read or bound anywhere, and the names ``__all__`` exports
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif (isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple))
              and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)):
            used |= {e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            node.body = _strip_docstring(node.body)
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if not isinstance(statements, list):
                continue
            kept = []
            for statement in statements:
                if isinstance(statement, (ast.Import, ast.ImportFrom)) and getattr(statement, "module", None) != "__future__":
                    statement.names = [a for a in statement.names
                                       if (a.asname or a.name.split(".")[0]) in used or a.name == "*"]
                    if not statement.names:
                        continue
                kept.append(statement)
            setattr(node, field, kept)
    return ast.dump(tree, annotate_fields=False)


class CodeChanges:
    """Files under ``scrpn/`` that can change a run's numbers (all but :data:`READ_ONLY_PATHS`)
    changed between a run's commit and HEAD: the names git reports, less the Python modules whose
    :func:`code_signature` is the same at both commits (a few git calls per commit, cached)."""

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
            self._cache[commit] = None if out is None else [
                path for path in out.splitlines() if path and not self._same_code(commit, path)]
        return self._cache[commit]

    def _same_code(self, commit: str, path: str) -> bool:
        """Whether a Python module runs the same code at ``commit`` and HEAD (both exist, both
        parse, equal :func:`code_signature`)."""
        if not path.endswith(".py"):
            return False
        old, new = _git(self.root, "show", f"{commit}:{path}"), _git(self.root, "show", f"HEAD:{path}")
        if old is None or new is None:
            return False
        signature = code_signature(old)
        return signature is not None and signature == code_signature(new)


def commits_line(records: Iterable[Mapping]) -> str:
    """"runs from <short sha> (n), ..., unknown (n)" for a table's runs, most runs first."""
    counts = Counter((r.get("code_commit") or "unknown")[:10] + ("+dirty" if r.get("code_dirty") else "")
                     for r in records)
    return ", ".join(f"{commit} ({n})" for commit, n in counts.most_common())
