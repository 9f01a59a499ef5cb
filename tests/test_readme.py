"""README's two commands stay true: CI runs the test command verbatim, and the paths they name exist."""
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2
    main, tests = commands
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert tests in ci_lines
    assert "pytest" in tests and "scripts/setup.sh" in tests and "scripts/setup.sh" in main


def test_main_command_reproduces_the_notebooks():
    """The main job is `scrpn reproduce`: every numbered notebook, in order (issue: notebooks)."""
    from scrpn.cli import build_parser
    from scrpn.study.notebooks import list_notebooks

    main = _readme_commands()[0]
    assert main.endswith(".venv/bin/scrpn reproduce")
    args = build_parser().parse_args(["reproduce"])
    assert args.profile == "mini" and not args.retrain and not args.no_train
    assert args.seeds == [0, 1, 2]
    assert len(list_notebooks(ROOT / "notebooks")) >= 12


def test_every_config_named_in_the_readme_exists():
    text = (ROOT / "README.md").read_text()
    names = set(re.findall(r"`((?:rpn|sc_rpn|t\d_)[a-z0-9_]*)`", text))
    mini = {p.stem for p in (ROOT / "configs" / "mini").glob("*.yaml")}
    assert names and names <= mini, names - mini


def test_readme_stays_short():
    """At most 200 lines: the details live in results/REPORT.md and docs/ (issue 39)."""
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
