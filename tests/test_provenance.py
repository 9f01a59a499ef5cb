"""Every run records the commit that trained it; the study warns when scrpn/ changed since."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scrpn.study import Study
from scrpn.study import provenance
from scrpn.study.provenance import CodeChanges, code_version, commits_line
from scrpn.study.runs import config_fingerprint

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    (tmp_path / "scrpn").mkdir()
    (tmp_path / "scrpn" / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.md").write_text("n\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "one")
    return tmp_path


def test_commit_and_dirtiness_of_the_package(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    assert code_version(repo) == {"code_commit": first, "code_dirty": False}
    (repo / "notes.md").write_text("edited\n")           # outside scrpn/ and configs/: clean
    assert code_version(repo)["code_dirty"] is False
    (repo / "scrpn" / "a.py").write_text("x = 2\n")
    assert code_version(repo)["code_dirty"] is True


def test_changes_since_a_commit(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    changes = CodeChanges(repo)
    assert changes.since(first) == []
    (repo / "scrpn" / "a.py").write_text("x = 2\n")
    git(repo, "commit", "-q", "-am", "two")
    assert CodeChanges(repo).since(first) == ["scrpn/a.py"]
    assert CodeChanges(repo).since("0" * 40) is None          # a commit this checkout lacks
    assert CodeChanges(repo).since(None) is None              # a run older than provenance


def test_reporting_changes_do_not_count(repo: Path) -> None:
    """A change to a module that only reads finished runs (a verdict rule, a figure) is no reason
    to retrain; a change next to it in the package is."""
    first = git(repo, "rev-parse", "HEAD")
    (repo / "scrpn" / "study").mkdir()
    (repo / "scrpn" / "viz").mkdir()
    (repo / "scrpn" / "study" / "verdicts.py").write_text("rule = 1\n")
    (repo / "scrpn" / "viz" / "figures.py").write_text("fig = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "reporting only")
    assert CodeChanges(repo).since(first) == []
    (repo / "scrpn" / "study" / "runs.py").write_text("train = 1\n")     # the runner does count
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "runner")
    assert CodeChanges(repo).since(first) == ["scrpn/study/runs.py"]
    assert all(Path(ROOT, path).exists() for path in provenance.READ_ONLY_PATHS)   # no stale names


def test_docstring_and_unused_import_changes_do_not_count(repo: Path) -> None:
    """A run stays current when its module's code did not change: docstrings, comments,
    formatting, an unused import removed. A changed constant, a changed import of a name the
    module uses, a new function and a module that does not parse do count."""
    a = repo / "scrpn" / "a.py"
    a.write_text('"""One."""\nimport math\nimport os\nfrom torch import nn\n\n\n'
                 'def f(x):\n    """Double."""\n    return math.floor(2 * x)\n')
    git(repo, "commit", "-q", "-am", "module")
    base = git(repo, "rev-parse", "HEAD")

    def counts(text: str) -> bool:
        a.write_text(text)
        git(repo, "commit", "-q", "--allow-empty", "-am", "edit")
        return CodeChanges(repo).since(base) == ["scrpn/a.py"]

    assert not counts('"""One, reworded."""\nimport math\n\n\ndef f(x):  # a comment\n'
                      '    """Twice x, floored."""\n    return math.floor(2*x)\n')   # os, nn unused: gone
    assert not counts('import math\nimport json as j\n\ndef f(x):\n    return math.floor(2 * x)\n')
    assert counts('import math\n\n\ndef f(x):\n    return math.floor(3 * x)\n')          # a constant
    assert counts('import numpy as math\n\n\ndef f(x):\n    return math.floor(2 * x)\n')  # a used name
    assert counts('import math\n\n\ndef f(x):\n    return math.floor(2 * x)\n\n\n'
                  'def g(x):\n    return x\n')                                            # a new function
    assert counts("def f(:\n")                                                         # does not parse


def test_code_signature_keeps_future_imports_and_exports() -> None:
    body = "def f(x):\n    return x\n"
    assert provenance.code_signature(body) == provenance.code_signature('"""Doc."""\nimport os\n' + body)
    assert provenance.code_signature(body) != provenance.code_signature("from __future__ import annotations\n" + body)
    exported = '__all__ = ["nn"]\nfrom torch import nn\n'
    assert provenance.code_signature(exported) != provenance.code_signature('__all__ = ["nn"]\n')
    assert provenance.code_signature("def f(:\n") is None


def test_outside_git_nothing_is_guessed(tmp_path: Path) -> None:
    assert code_version(tmp_path) == {"code_commit": None, "code_dirty": None}


def test_commits_line_counts_runs_per_commit() -> None:
    records = [{"code_commit": "a" * 40, "code_dirty": False}, {"code_commit": "a" * 40},
               {"code_commit": "b" * 40, "code_dirty": True}, {}]
    assert commits_line(records) == "aaaaaaaaaa (2), bbbbbbbbbb+dirty (1), unknown (1)"


def test_study_records_the_commit_and_warns_once_when_the_code_changed(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    messages: list[str] = []
    study = Study(profile="smoke", results_dir=tmp_path / "results", work_dir=tmp_path / "work",
                  config_root=ROOT / "configs", log=messages.append, overrides=["model.backbone.pretrained=false"])
    record = study.run("rpn", 0)
    assert set(record) >= {"code_commit", "code_dirty", "training_parts", "evaluated_by"}
    assert record == json.loads((study.run_dir("rpn", 0) / "metrics.json").read_text())
    # the same run, as if trained by an older commit whose scrpn/ differs from today's (the
    # training's commit is read, recorded when it started; not the commit that wrote the record)
    path = study.run_dir("rpn", 0) / "metrics.json"
    part = dict(record["training_parts"][0], commit="c" * 40)
    path.write_text(json.dumps(dict(record, training_parts=[part], evaluated_by={"code_commit": "e" * 40})))
    monkeypatch.setattr(provenance.CodeChanges, "since",
                        lambda self, commit: ["scrpn/losses.py"] if commit == "c" * 40 else [])
    again = Study(profile="smoke", results_dir=tmp_path / "results", work_dir=tmp_path / "work",
                  config_root=ROOT / "configs", log=messages.append, overrides=["model.backbone.pretrained=false"])
    messages.clear()
    assert again.run("rpn", 0)["config_fingerprint"] == config_fingerprint(again.config("rpn", 0))
    again.run("rpn", 0)
    warned = [m for m in messages if "has changed since" in m]
    assert len(warned) == 1 and "cccccccccc" in warned[0] and "scrpn/losses.py" in warned[0]
