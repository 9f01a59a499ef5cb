"""One 2-thread training at a time, or two 1-thread trainings side by side? (issue 37)

``scrpn study --jobs 2`` trains two runs side by side with one thread each. It pays when the two
finish more runs per hour than one run at a time with both threads: a training step does not keep
two threads busy all the time (data loading, Python between kernels, small kernels), so two
processes may fill the gaps. The issue's decision rule: ``--jobs 2`` is the study's way to run
when it finishes at least 1.15x the runs per hour.

Arms, on the same pair of runs (ROW seeds 0 and 1, ``--iters`` training iterations each, no
evaluation), alternated round by round (A, B, A, B, ...) so that a drifting machine load hits both:

* **A**: the two runs one after the other, ``SCRPN_NUM_THREADS=2`` each;
* **B**: the two runs at once, ``SCRPN_NUM_THREADS=1`` each.

Runs per hour = 2 runs / the arm's wall seconds x 3600; the ratio B / A is what ``scrpn study
--estimate --jobs 2`` reads (``runs_per_hour_ratio``). **Bits**: the same seed trained in A and in
B differs only in its thread count; the script compares the final weights (identical or the
largest difference relative to each tensor's scale) and the logged losses. The measurement needs a
quiet machine, and a result taken under load says so: ``quiet`` when, in every arm, the CPU time
spent by anything other than the arm's own trainings (``/proc/stat``'s busy time minus the
children's CPU time) stays below 10 % of the arm's wall time x the CPUs (``foreign_cpu_share``).
The load average is recorded too, but cannot decide it: its 1-minute mean still carries the
previous arm's own two processes.

Usage::

    python benchmarks/bench_jobs.py [OUTPUT_JSON] [--row rpn] [--iters 60] [--rounds 2]

Default output: ``results/bench/jobs.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._bench_io import machine_record, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DECISION_RATIO = 1.15   # the rule: --jobs 2 when it finishes >= 1.15x the runs per hour
QUIET_FOREIGN_SHARE = 0.10   # quiet: other processes used < 10 % of the CPUs during every arm


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy since boot (``/proc/stat``: all but idle and
    iowait); NaN where there is no /proc."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_seconds() -> float:
    t = os.times()
    return t.children_user + t.children_system


def _child(row: str, seed: int, iters: int, out: str) -> None:
    """Train one run (no evaluation) and save its final weights and losses to ``out``."""
    import torch

    from scrpn.engine.logging import read_jsonl
    from scrpn.engine.trainer import new_trainer
    from scrpn.study.runs import Study

    study = Study(profile="mini", config_root=ROOT / "configs",
                  overrides=[f"train.max_iters={iters}", "train.log_interval=1"])
    trainer = new_trainer(study.config(row, seed), Path(out) / "run", progress=False)
    trainer.train()
    losses = [r["loss"] for r in read_jsonl(Path(out) / "run" / "log.jsonl") if r.get("type") == "train"]
    torch.save({"model": trainer.model.state_dict(), "losses": losses,
                "threads": torch.get_num_threads()}, Path(out) / "result.pt")


def _launch(row: str, seed: int, iters: int, out: Path, threads: int) -> subprocess.Popen:
    env = {**os.environ, "SCRPN_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, __file__, "--child", row, str(seed), str(iters), str(out)],
                            env=env, stdout=subprocess.DEVNULL)


def _arm(name: str, row: str, iters: int, tmp: Path, round_: int) -> tuple[float, float]:
    """Wall seconds of one arm's two runs (see the module docstring), and the share of the CPUs
    that other processes used meanwhile."""
    busy, own = _busy_seconds(), _children_seconds()
    start = time.perf_counter()
    if name == "A":
        for seed in (0, 1):
            proc = _launch(row, seed, iters, tmp / f"A{round_}" / f"seed{seed}", threads=2)
            if proc.wait() != 0:
                raise SystemExit(f"arm A seed {seed} failed ({proc.returncode})")
    else:
        procs = [_launch(row, seed, iters, tmp / f"B{round_}" / f"seed{seed}", threads=1) for seed in (0, 1)]
        for seed, proc in enumerate(procs):
            if proc.wait() != 0:
                raise SystemExit(f"arm B seed {seed} failed ({proc.returncode})")
    wall = time.perf_counter() - start
    foreign = (_busy_seconds() - busy) - (_children_seconds() - own)
    return wall, max(0.0, foreign) / (wall * (os.cpu_count() or 1))


def _compare(a: Path, b: Path) -> dict:
    """The same seed trained with 2 threads (A) and with 1 (B): identical weights, or how far apart."""
    import torch

    ra, rb = torch.load(a, weights_only=False), torch.load(b, weights_only=False)
    worst = 0.0
    for key, ref in ra["model"].items():
        if ref.is_floating_point() and ref.numel():
            scale = float(ref.abs().max().clamp_min(1e-12))
            worst = max(worst, float((rb["model"][key] - ref).abs().max()) / scale)
    losses = [abs(x - y) / abs(x) for x, y in zip(ra["losses"], rb["losses"]) if x]
    return {"weights_identical": worst == 0.0, "max_weight_diff_rel_to_scale": worst,
            "max_loss_rel_diff": max(losses) if losses else 0.0,
            "threads": [ra["threads"], rb["threads"]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default=str(ROOT / "results" / "bench" / "jobs.json"))
    parser.add_argument("--row", default="rpn", help="mini row to train (default rpn)")
    parser.add_argument("--iters", type=int, default=60, help="training iterations per run")
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds (median)")
    parser.add_argument("--child", nargs=4, metavar=("ROW", "SEED", "ITERS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        row, seed, iters, out = args.child
        _child(row, int(seed), int(iters), out)
        return 0
    load_before = os.getloadavg()[0]
    walls: dict[str, list[float]] = {"A": [], "B": []}
    loads: list[list[float]] = []
    foreign: dict[str, list[float]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for arm in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                loads.append([round(v, 2) for v in os.getloadavg()])
                wall, share = _arm(arm, args.row, args.iters, Path(tmp), round_)
                walls[arm].append(wall)
                foreign[arm].append(round(share, 4))
                print(f"round {round_ + 1} arm {arm}: {wall:.1f} s (other processes {100 * share:.1f} % "
                      f"of the CPUs; load {loads[-1]})", flush=True)
        bits = {f"seed{s}": _compare(Path(tmp) / "A0" / f"seed{s}" / "result.pt",
                                     Path(tmp) / "B0" / f"seed{s}" / "result.pt") for s in (0, 1)}
    wall_a, wall_b = statistics.median(walls["A"]), statistics.median(walls["B"])
    per_hour_a, per_hour_b = 2 * 3600 / wall_a, 2 * 3600 / wall_b
    ratio = per_hour_b / per_hour_a
    shares = [v for arm in foreign.values() for v in arm]
    quiet = all(v < QUIET_FOREIGN_SHARE for v in shares)  # NaN (no /proc) is not quiet
    result = {"row": args.row, "iters_per_run": args.iters, "rounds": args.rounds,
              "arm_A": "two runs one after the other, 2 threads each",
              "arm_B": "two runs side by side, 1 thread each",
              "wall_seconds": walls, "runs_per_hour": {"1": per_hour_a, "2": per_hour_b},
              "runs_per_hour_ratio": {"2": ratio}, "decision_ratio": DECISION_RATIO,
              "jobs_2_pays": ratio >= DECISION_RATIO, "bits_2_threads_vs_1": bits,
              "load_average_before_each_arm": loads, "foreign_cpu_share": foreign,
              "quiet": quiet, "quiet_rule": f"other processes < {QUIET_FOREIGN_SHARE:.0%} of the CPUs in every arm",
              **machine_record(load_before)}
    print(f"runs per hour: one at a time (2 threads) {per_hour_a:.1f}, two side by side (1 thread) "
          f"{per_hour_b:.1f}: x{ratio:.2f} ({'>=' if ratio >= DECISION_RATIO else '<'} {DECISION_RATIO}); "
          f"{'quiet machine' if quiet else 'MEASURED UNDER LOAD'}")
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
