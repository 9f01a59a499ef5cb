"""``scrpn study verify ROW``: retrain a committed run from its recorded code and settings and compare
the bits.

What it does, for run ``ROW`` seed ``K`` under ``<results>/runs/``:

1. reads the run's record (``metrics.json``) and training log (``log.jsonl``), and from the record
   the commit and settings that trained it (:mod:`scrpn.engine.provenance`: ``training_parts``).
   A record older than the parts has at most ``code_commit`` (the HEAD of the process that wrote
   the record) and ``torch_threads``; it is rebuilt at that commit with the commit's own defaults,
   and the output says which settings were not recorded;
2. checks out that commit in a temporary ``git worktree`` (removed afterwards);
3. retrains the run in a subprocess whose ``PYTHONPATH`` is that worktree, with the recorded
   threads (``$SCRPN_NUM_THREADS`` and ``train.num_threads``), memory format, CPU deterministic
   mode and precision applied; a setting the commit cannot take (a key its schema lacks, set to
   anything but the value that commit always used) makes the run unverifiable (exit 2, with the
   reason). ``--iterations N`` stops after ``N`` iterations (the learning-rate schedule does not
   depend on the run length); without it the whole run is retrained and evaluated;
4. compares every logged loss (``loss*`` of every ``log.jsonl`` record both logs have, up to ``N``)
   and, for a complete run, every metric, with ``==`` on the floats: the log stores Python's
   shortest round-trip repr of each double, so equal text is equal bits.

It prints ``identical`` or the first iteration and key that differ, both values and the absolute and
relative difference, and the recorded settings that differ from this machine's (software versions,
CPU capability and model). Exit status: 0 identical, 1 different, 2 cannot verify (also when
nothing was compared: an ``--iterations`` below the log's first logged iteration). A run that
records no commit exits 2 after saying so; it is then retrained at HEAD (with ``--set`` settings, if
given) and its logged losses are compared with the spread of the committed seeds of the same row
at each iteration (:func:`spread_comparison`), which tells a retraining that agrees to noise from
one that does not.

**Every profile.** A schedule rung's run (experiment 10: ``s4x_t3_sads`` is ``t3_sads`` at
``--profile 4x``) is verified like a mini one; its record names the profile of its *config*
(``mini``: a rung only overlays the schedule), which is what the record is checked against. The
``converged`` profile is verified at the rung it points to today (the run's commit may point
elsewhere, or nowhere yet). A run trained in several parts at one commit is retrained in one
piece: resuming is bit-exact (``tests/test_trainer.py``: ``test_interrupt_then_resume_equals_straight_run``).
The command line also takes the run's own name (``scrpn study verify s4x_t3_sads``,
``deepforest_rpn``), as the REPORT and ``results/runs/`` spell it.

``tests/test_verify.py`` pins it on a smoke row in a throw-away repository: identical, a one-ulp
change reported at its iteration, a run without a commit, a rung's run read by its name.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from scrpn.engine.provenance import CHECKOUT, environment, git
from scrpn.study.runs import CONVERGED

__all__ = ["IMPLICIT_SETTINGS", "VerifyResult", "compare_logs", "compare_metrics", "setting_differences",
           "spread_comparison", "verify_run"]

# the config key of each recorded run-time setting, and the value a commit without that key always
# used (so a run recorded with it can still be rebuilt there)
IMPLICIT_SETTINGS = {"memory_format": ("train.memory_format", "contiguous"),
                     "cpu_deterministic_kernels": ("train.cpu_deterministic_kernels", True),
                     "precision": ("train.precision", "fp32")}
# what is compared with this machine (the applied settings above and the threads are set, not compared)
MACHINE_FIELDS = ("python", "torch", "torchvision", "numpy", "cpu_capability", "cpu_model", "isa_env")
# a recorded instruction set below this machine's is applied to the retraining: ATen's dispatch
# and oneDNN's (oneDNN's decided the bits of experiment 3's retraining: docs/reproducibility.md)
_ONEDNN_ISA = {"DEFAULT": "SSE41", "AVX2": "AVX2", "AVX512": "AVX512_CORE"}
_ISA_ORDER = ("DEFAULT", "AVX2", "AVX512")
METRIC_PREFIXES = ("AR", "AP")

# The subprocess, run with PYTHONPATH at the recorded commit: resolve the row there, apply the
# settings that the commit's schema has, train (N iterations, or the whole run and its evaluation)
# and print one JSON line {"log": ..., "metrics": ...}; {"cannot": reason} when the commit cannot.
_CHILD = r'''
import json, sys
spec = json.loads(sys.argv[1])
def cannot(reason):
    print(json.dumps({"cannot": reason}), flush=True)
    sys.exit(3)
try:
    from scrpn.study import Study
except Exception as exc:
    cannot(f"this commit has no scrpn.study.Study ({type(exc).__name__}: {exc})")
def has_key(tree, dotted):
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True
def note(message):
    print(message, file=sys.stderr, flush=True)
try:
    probe = Study(profile=spec["profile"], dataset=spec["dataset"], config_root=spec["config_root"], log=note)
    tree = probe.config(spec["row"], spec["seed"]).to_dict()
except Exception as exc:
    cannot(f"the row does not resolve at this commit ({type(exc).__name__}: {exc})")
overrides = []
for key, value, implicit in spec["settings"]:
    if has_key(tree, key):
        overrides.append(f"{key}={json.dumps(value)}")
    elif value != implicit:
        cannot(f"this commit has no setting {key} (recorded: {value!r})")
overrides += spec["overrides"]
if spec["iterations"] is not None:  # the schedule does not depend on the run length
    overrides.append(f"train.max_iters={int(spec['iterations'])}")
try:
    study = Study(profile=spec["profile"], dataset=spec["dataset"], seeds=[spec["seed"]],
                  results_dir=spec["out"] + "/results", work_dir=spec["out"] + "/work",
                  config_root=spec["config_root"], overrides=overrides, log=note)
    study.progress = spec["progress"]
    cfg = study.config(spec["row"], spec["seed"])
except Exception as exc:
    cannot(f"the recorded settings do not apply at this commit ({type(exc).__name__}: {exc})")
if spec["iterations"] is None:
    study.run(spec["row"], spec["seed"])
    run_dir = study.run_dir(spec["row"], spec["seed"])
    print(json.dumps({"log": str(run_dir / "log.jsonl"), "metrics": str(run_dir / "metrics.json")}), flush=True)
else:
    if cfg.detector.type == "fast_rcnn":
        cannot("--iterations on a Fast R-CNN row would train its proposal row short too: verify that row")
    try:
        trained = study._trained_model
    except AttributeError as exc:
        cannot(f"this commit's Study cannot train without evaluating ({exc})")
    model, ckpt = trained(cfg)
    print(json.dumps({"log": str(ckpt.parent / "log.jsonl"), "metrics": None}), flush=True)
'''


@dataclass
class VerifyResult:
    """What :func:`verify_run` found: ``status`` 0 identical, 1 different, 2 cannot verify."""

    status: int
    lines: list[str] = field(default_factory=list)
    first_difference: Optional[dict] = None


def _train_records(lines: Sequence[Mapping]) -> dict[int, Mapping]:
    return {int(r["iter"]): r for r in lines if r.get("type") == "train" and "iter" in r}


def _read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _difference(iteration: Any, key: str, committed: Any, again: Any) -> dict:
    out = {"iter": iteration, "key": key, "committed": committed, "reproduced": again}
    if isinstance(committed, (int, float)) and isinstance(again, (int, float)):
        out["abs"] = abs(again - committed)
        out["rel"] = out["abs"] / abs(committed) if committed else math.inf
    return out


def compare_logs(committed: Sequence[Mapping], again: Sequence[Mapping],
                 up_to: Optional[int] = None) -> tuple[Optional[dict], int]:
    """The first logged loss that differs between two training logs (iterations in order, keys
    ``loss*`` in the committed record's order), and how many values were compared. Only records of
    iterations ``<= up_to`` that the committed log has are read; a record or key the retraining
    lacks is a difference (``reproduced`` None)."""
    ours, theirs = _train_records(committed), _train_records(again)
    compared = 0
    for iteration in sorted(ours):
        if up_to is not None and iteration > up_to:
            break
        if iteration not in theirs:
            return _difference(iteration, "(record)", "logged", None), compared
        for key, value in ours[iteration].items():
            if not key.startswith("loss"):
                continue
            other = theirs[iteration].get(key)
            if other != value or type(other) is not type(value):
                return _difference(iteration, key, value, other), compared
            compared += 1
    return None, compared


def compare_metrics(committed: Mapping, again: Mapping) -> tuple[Optional[dict], int]:
    """The first metric (``AR*`` / ``AP*``) whose value differs, and how many were compared."""
    compared = 0
    for key, value in committed.items():
        if not key.startswith(METRIC_PREFIXES) or not isinstance(value, (int, float, type(None))):
            continue
        if again.get(key) != value:
            return _difference("metrics", key, value, again.get(key)), compared
        compared += 1
    return None, compared


def setting_differences(part: Mapping, here: Optional[Mapping] = None) -> list[str]:
    """``"<field> <recorded> (here <value>)"`` for each recorded software / machine field that differs
    from this machine's (:data:`MACHINE_FIELDS`); fields the part does not record are skipped."""
    here = environment() if here is None else here
    return [f"{key} {part[key]} (here {here.get(key)})" for key in MACHINE_FIELDS
            if key in part and part[key] != here.get(key)]


def spread_comparison(again: Sequence[Mapping], seeds: Mapping[int, Sequence[Mapping]], seed: int,
                      up_to: Optional[int] = None) -> Optional[dict]:
    """For a run without a recorded commit: the logged loss of the retraining farthest from the
    committed run's, in standard deviations of the committed seeds at that iteration. ``None``
    when fewer than two seeds are committed (no spread) or nothing was compared."""
    if seed not in seeds or len(seeds) < 2:
        return None
    own, retrained = _train_records(seeds[seed]), _train_records(again)
    others = {k: _train_records(v) for k, v in seeds.items()}
    worst = None
    for iteration, record in sorted(own.items()):
        if (up_to is not None and iteration > up_to) or iteration not in retrained:
            continue
        for key, value in record.items():
            if not key.startswith("loss") or not isinstance(retrained[iteration].get(key), (int, float)):
                continue
            values = [r[iteration][key] for r in others.values() if iteration in r and
                      isinstance(r[iteration].get(key), (int, float))]
            if len(values) < 2:
                continue
            spread = statistics.stdev(values)
            diff = abs(retrained[iteration][key] - value)
            ratio = diff / spread if spread else (0.0 if diff == 0 else math.inf)
            if worst is None or ratio > worst["ratio"]:
                worst = {"iter": iteration, "key": key, "abs": diff, "spread": spread, "ratio": ratio,
                         "seeds": len(values)}
    return worst


def _describe(difference: Mapping) -> str:
    if difference.get("reproduced") is None:
        return (f"differs at {'the metrics' if difference['iter'] == 'metrics' else 'iteration ' + str(difference['iter'])}: "
                f"{difference['key']} is missing from the retraining")
    where = "the metrics" if difference["iter"] == "metrics" else f"iteration {difference['iter']}"
    return (f"differs first at {where}: {difference['key']} {difference['committed']!r} committed, "
            f"{difference['reproduced']!r} now (abs {difference.get('abs', math.nan):.3g}, "
            f"rel {difference.get('rel', math.nan):.3g})")


class _Worktree:
    """``git worktree add --detach`` of ``commit`` in a temporary folder; removed on exit."""

    def __init__(self, repo: Path, commit: str, parent: Path) -> None:
        self.repo, self.commit, self.path = repo, commit, parent / "code"

    def __enter__(self) -> Path:
        done = subprocess.run(["git", "-C", str(self.repo), "worktree", "add", "--detach", "--quiet",
                               str(self.path), self.commit], capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git worktree add failed")
        return self.path

    def __exit__(self, *exc: Any) -> None:
        subprocess.run(["git", "-C", str(self.repo), "worktree", "remove", "--force", str(self.path)],
                       capture_output=True, text=True)
        subprocess.run(["git", "-C", str(self.repo), "worktree", "prune"], capture_output=True, text=True)


def isa_environment(recorded: Optional[str], here: Optional[str]) -> dict[str, str]:
    """The variables that make this machine dispatch to a recorded instruction set below its own
    (``{}`` when they are the same, unknown, or the recorded one is not below this machine's)."""
    if not recorded or recorded == here or recorded not in _ISA_ORDER or here not in _ISA_ORDER:
        return {}
    if _ISA_ORDER.index(recorded) > _ISA_ORDER.index(here):
        return {}
    return {"ATEN_CPU_CAPABILITY": recorded.lower(), "ONEDNN_MAX_CPU_ISA": _ONEDNN_ISA[recorded]}


def _retrain(code: Path, spec: dict, threads: Optional[int], out: Path,
             log: Callable[[str], None], extra_env: Optional[Mapping[str, str]] = None
             ) -> tuple[Optional[dict], Optional[str]]:
    """Run :data:`_CHILD` with ``PYTHONPATH=code``; (its JSON answer, None) or (None, reason)."""
    env = dict(os.environ, PYTHONPATH=str(code), **(extra_env or {}))
    env.setdefault("SCRPN_DATA", str(CHECKOUT / "data"))  # reuse this checkout's rendered val split
    if threads:
        env["SCRPN_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(int(threads))
    else:
        env.pop("SCRPN_NUM_THREADS", None)
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec)], cwd=str(out), env=env,
                          stdout=subprocess.PIPE, stderr=None, text=True)
    answers = [line for line in done.stdout.splitlines() if line.startswith("{")]
    answer = json.loads(answers[-1]) if answers else {}
    if "cannot" in answer:
        return None, answer["cannot"]
    if done.returncode != 0 or "log" not in answer:
        return None, f"the retraining failed (exit {done.returncode}; its error is printed above)"
    return answer, None


def verify_run(study: Any, row: str, seed: int = 0, iterations: Optional[int] = None,
               overrides: Sequence[str] = (), commit: Optional[str] = None, repo: Path = CHECKOUT,
               progress: bool = False, log: Callable[[str], None] = print,
               keep: Optional[Path] = None) -> VerifyResult:
    """Verify one committed run of ``study`` (a :class:`scrpn.study.Study` that names the profile,
    dataset and results folder). ``overrides``: extra ``--set`` items for the retraining (they
    replace recorded settings); ``commit``: rebuild at this commit instead of the recorded one (for
    a run that records none: a candidate); ``keep``: a folder to copy the retraining's
    ``log.jsonl`` (and ``metrics.json``) to."""
    if study.profile == CONVERGED:      # the rung S* names today, not what the run's commit named
        study = replace(study, profile=study.schedule_rung())
    run_dir = study.run_dir(row, seed)
    metrics_path, log_path = run_dir / "metrics.json", run_dir / "log.jsonl"
    name = f"{study.run_name(row)} seed {seed}"
    if not metrics_path.is_file() or not log_path.is_file():
        return VerifyResult(2, [f"{run_dir}: {name}: no committed metrics.json and log.jsonl to compare with"])
    record = json.loads(metrics_path.read_text(encoding="utf-8"))
    expected = study.config(row, seed).profile      # a rung's run records its config's profile
    if record.get("profile") not in (None, expected):
        return VerifyResult(2, [f"{metrics_path}: {name}: a run of profile {record.get('profile')!r}, "
                                f"not {expected!r} (pass --profile {record.get('profile')})"])
    committed_log = _read_log(log_path)
    recorded_iters = record.get("iterations")
    if iterations is not None and recorded_iters is not None and iterations >= int(recorded_iters):
        iterations = None  # the whole run
    parts = record.get("training_parts") or []
    lines: list[str] = []
    settings: list[tuple[str, Any, Any]] = []
    threads = record.get("torch_threads")
    part: Mapping[str, Any] = {}
    if parts:
        commits = {p.get("commit") for p in parts}
        if len(commits) > 1 and commit is None:
            return VerifyResult(2, [f"{metrics_path}: {name}: {record.get('trained_by')}; one retraining "
                                    "cannot rebuild parts trained by different code"])
        part = parts[0]
        recorded_commit = part.get("commit")
        threads = part.get("threads", threads)
        settings = [(key, part[name_], implicit) for name_, (key, implicit) in IMPLICIT_SETTINGS.items()
                    if name_ in part]
        lines.append(f"{name}: {record.get('trained_by')}")
    else:
        recorded_commit = record.get("code_commit")
        if recorded_commit:
            lines.append(f"{name}: commit {recorded_commit[:10]} recorded when its record was written (the "
                         f"training's own commit and settings were not recorded: memory format, "
                         f"deterministic mode, precision and versions are that commit's defaults; "
                         f"threads {threads or 'default'})")
    target = commit or recorded_commit
    cannot_note = None
    if not target:
        cannot_note = (f"{metrics_path}: {name} records no commit: it cannot be verified bit for bit; "
                       f"retrained at HEAD instead and compared with the spread of the committed seeds")
        target = None
    elif git(repo, "cat-file", "-e", f"{target}^{{commit}}") is None:
        return VerifyResult(2, lines + [f"{metrics_path}: {name}: commit {target[:10]} is not in {repo}"])
    if cannot_note:
        lines.append(cannot_note)
    if threads:
        settings.insert(0, ("train.num_threads", int(threads), int(threads)))
    isa = {**dict(part.get("isa_env") or {}),
           **isa_environment(part.get("cpu_capability"), environment()["cpu_capability"])}
    if isa:
        lines.append("instruction set applied: " + " ".join(f"{k}={v}" for k, v in isa.items()))
    spec = {"row": row, "seed": int(seed), "profile": study.profile, "dataset": study.dataset,
            "iterations": iterations, "settings": settings, "overrides": list(overrides), "progress": progress}
    with tempfile.TemporaryDirectory(prefix="scrpn-verify-") as tmp:
        tmp_path = Path(tmp)
        out = tmp_path / "out"
        out.mkdir()
        spec["out"] = str(out)
        if target is None:
            spec["config_root"] = str(Path(study.config_root).resolve())
            log(f"retraining {name} at HEAD ({'all' if iterations is None else iterations} iterations)")
            answer, reason = _retrain(CHECKOUT, spec, threads, out, log)
            again = None if answer is None else _read_log(Path(answer["log"]))
        else:
            try:
                with _Worktree(Path(repo), target, tmp_path) as code:
                    spec["config_root"] = str(code / "configs")
                    log(f"retraining {name} at {target[:10]} ({'all ' + str(recorded_iters) if iterations is None else iterations} "
                        f"iterations, {threads or 'default'} threads"
                        + "".join(f", {k} {v}" for k, v, _ in settings) + ")")
                    answer, reason = _retrain(code, spec, threads, out, log, isa)
                    again = None if answer is None else _read_log(Path(answer["log"]))
                    again_metrics = (json.loads(Path(answer["metrics"]).read_text(encoding="utf-8"))
                                     if answer and answer.get("metrics") else None)
            except OSError as exc:
                return VerifyResult(2, lines + [f"{metrics_path}: {name}: cannot check out {target[:10]}: {exc}"])
        if keep is not None and answer is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for key in ("log", "metrics"):
                if answer.get(key) and Path(answer[key]).is_file():
                    (keep / Path(answer[key]).name).write_bytes(Path(answer[key]).read_bytes())
        if again is None:
            return VerifyResult(2, lines + [f"{metrics_path}: {name}: cannot verify at "
                                            f"{(target or 'HEAD')[:10]}: {reason}"])
        if target is None:
            seeds = {}
            for folder in sorted(run_dir.parent.glob("seed*")):
                if folder.name[4:].isdigit() and (folder / "log.jsonl").is_file():
                    seeds[int(folder.name[4:])] = _read_log(folder / "log.jsonl")
            worst = spread_comparison(again, seeds, seed, iterations)
            exact, _ = compare_logs(committed_log, again, iterations)
            if worst is None:
                summary = ("fewer than two committed seeds: no spread to compare with; "
                           + ("identical at HEAD" if exact is None else _describe(exact)))
            else:
                summary = (f"at HEAD its logged losses are {'identical' if exact is None else 'not identical'}; "
                           f"the farthest is {worst['key']} at iteration {worst['iter']}, {worst['abs']:.3g} "
                           f"from the committed value, {worst['ratio']:.2f} standard deviations of the "
                           f"{worst['seeds']} committed seeds")
            return VerifyResult(2, lines + [summary], exact)
        difference, compared = compare_logs(committed_log, again, iterations)
        if difference is None and iterations is None and again_metrics is not None:
            difference, more = compare_metrics(record, again_metrics)
            compared += more
    if difference is None and compared == 0:      # "identical" must have compared something
        first = min(_train_records(committed_log), default=None)
        return VerifyResult(2, lines + [
            f"{log_path}: {name}: nothing compared: " + ("its log has no training record" if first is None else
                                                         f"its first logged iteration is {first}; pass "
                                                         f"--iterations {first} or more")])
    if difference is None:
        return VerifyResult(0, lines + [f"identical ({compared} values compared"
                                        + (f", iterations up to {iterations})" if iterations else ", the whole run)")])
    differs = setting_differences(part) if part else []
    tail = ("recorded settings that differ from this machine: " + ", ".join(differs) if differs
            else "no recorded setting differs from this machine's" if part
            else "its settings were not recorded")
    return VerifyResult(1, lines + [_describe(difference), tail], difference)
