"""Shared by the REPORT's field tests (tests/test_report*.py): rendering a text against hand-made
records, and committing those records to a throw-away git repository (for the ``at`` fields)."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

from scrpn.study.report.fields import Results
from scrpn.study.report.template import render_text

_GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}


def render(root: Path, text: str, results: Optional[Results] = None) -> str:
    """``text`` rendered with the fields reading ``root`` (errors name ``src.md``)."""
    return render_text(text, (results or Results(root)).fields(), "src.md")


def commit_results(repo: Path, message: str) -> str:
    """Commit ``repo/results`` (a git repository is made on first use); the new commit's id."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                              env=_GIT_ENV).stdout.strip()

    if not (repo / ".git").exists():
        git("init", "-q")
    git("add", "results")
    git("commit", "-q", "-m", message)
    return git("rev-parse", "HEAD")
