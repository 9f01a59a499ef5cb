"""The package's shape: no import cycle (late imports included), every module importable first,
``models/`` and ``detectors/`` holding classes while ``scrpn.build`` wires them from a config."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scrpn"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imported(name: str, path: Path) -> set[str]:
    """Package modules that ``name`` imports anywhere in its file (late imports included)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names if a.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
    return {t for t in targets if t in MODULES and t != name}


def import_graph() -> dict[str, set[str]]:
    return {name: _imported(name, path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``[]``."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return []


def test_find_cycle_finds_a_hand_made_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "scrpn.build" in graph and "scrpn.detectors" in graph["scrpn.build"]
    assert find_cycle(graph) == []


def test_models_and_detectors_do_not_build_from_configs():
    graph = import_graph()
    for name, imports in graph.items():
        if name.startswith(("scrpn.models", "scrpn.detectors")):
            assert "scrpn.build" not in imports, name
        if name.startswith("scrpn.detectors"):  # proposal files are read through scrpn.data
            assert not any(t.startswith("scrpn.evaluation") for t in imports), name
    assert "scrpn.detectors" not in {t.rsplit(".", 1)[0] for t in graph["scrpn.models.proposal_network"]}


def test_models_and_detectors_do_not_read_the_config():
    """Issue 35: ``scrpn.build`` reads the config once and hands the classes plain values and
    parts (layouts, assigners, samplers, coders, resolved losses); no class imports the schema."""
    graph = import_graph()
    readers = sorted(name for name, imports in graph.items()
                     if name.startswith(("scrpn.models", "scrpn.detectors")) and "scrpn.config" in imports)
    assert readers == []
    assert "scrpn.config" in graph["scrpn.build"]   # the rule reads real edges: build has this one


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others (late imports included)."""
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_reachable_follows_imports_by_hand():
    assert reachable({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a"}}, "a") == {"b", "c"}


# Issue 35: the study's core (runs, caching, statistics, the paper's tables) stands apart from the
# cause experiments (their registry, rules, causes table), which build on it and never the reverse.
STUDY_CORE = ("scrpn.study", "scrpn.study.runs", "scrpn.study.stats", "scrpn.study.tables",
              "scrpn.study.provenance", "scrpn.study.estimate", "scrpn.study.schedules")
CAUSE_EXPERIMENTS = ("scrpn.study.experiments", "scrpn.study.causes", "scrpn.study.verdicts")


def test_the_study_core_imports_no_cause_experiment():
    graph = import_graph()
    assert "scrpn.study.experiments.e1_cascade_rpn" in graph["scrpn.study.experiments"]
    for core in STUDY_CORE:
        assert core in graph, core
        found = sorted(m for m in reachable(graph, core) if m.startswith(CAUSE_EXPERIMENTS))
        assert not found, (core, found)


FIRST_IMPORT = """
import importlib, os, sys
import numpy, PIL.Image, pycocotools.coco, torch, torchvision, yaml  # third-party, loaded once
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:  # a child with no scrpn module loaded yet
        try:
            importlib.import_module(name)
        except BaseException as exc:
            sys.stderr.write(f"{name}: {type(exc).__name__}: {exc}\\n")
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        failed.append(name)
print(" ".join(failed))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_every_module_imports_first():
    """Each module imported first, in a fresh child with no other scrpn module loaded."""
    names = sorted(n for n in MODULES if not n.endswith("__main__"))
    done = subprocess.run([sys.executable, "-c", FIRST_IMPORT, *names], capture_output=True,
                          text=True, timeout=600, cwd=PACKAGE.parent)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stderr[-3000:]


def test_the_mini_anchor_scale_constant_is_the_mini_profiles():
    """``scrpn data stats`` without a config uses the mini profile's level base scale."""
    from scrpn.config import load_config
    from scrpn.pyramid import MINI_ANCHOR_SCALE
    root = Path(__file__).resolve().parents[1]
    assert load_config(root / "configs" / "mini" / "_base.yaml").model.head.anchor_scale == MINI_ANCHOR_SCALE
