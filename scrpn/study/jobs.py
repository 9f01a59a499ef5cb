"""``scrpn study --jobs N``: train N study runs side by side, each in its own process (issue 37).

On a machine with few cores, two 1-thread trainings side by side can finish more runs per hour
than one 2-thread training at a time (a training step does not use two threads fully):
``benchmarks/bench_jobs.py`` measures it on this machine (``results/bench/jobs.json``).

Design choices:

* **One process per run.** A job runs ``python -m scrpn study ROW --seeds K`` (the same command a
  single run would be, so it caches, resumes from ``latest.pth`` and writes its record exactly as
  ``--jobs 1`` does), with ``SCRPN_NUM_THREADS`` set to the job's threads (default: the CPUs
  divided by the jobs, at least 1). The threads are part of a run's arithmetic: a run trained
  with 1 thread agrees with a 2-thread run to noise, not to the bit (as ``train.num_threads``
  always did); its record says which (``torch_threads``, provenance).
* **Runs that share a checkpoint never run at once.** Rows that share a training config (test
  variants, Fast R-CNN rows and their proposal row) write the same ``work_dirs`` folder: such
  runs form one group (:func:`plan_groups`) and a group runs in one job slot, in order.
* **Output.** The children's lines are relayed whole, each prefixed with its run
  (``[bf16_rpn seed 0] ...``): no interleaved halves. One progress bar per job slot, fed by the
  run's own training log (``log.jsonl``'s last iteration) while it trains; the children draw
  no bars of their own.
* **Interrupted.** SIGINT / SIGTERM is passed on to every child, which saves ``latest.pth`` and
  exits; the next ``scrpn study ... --jobs N`` resumes each run where it stopped.

``tests/test_study_jobs.py`` trains two smoke rows with ``--jobs 2`` and with ``--jobs 1`` (the
same threads) and requires equal records.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from tqdm import tqdm

from .runs import PACKAGE_ROOT, Study

__all__ = ["Job", "default_threads", "plan_groups", "run_jobs"]


def default_threads(jobs: int, cpus: Optional[int] = None) -> int:
    """Threads per job: the CPUs shared out, at least 1 (2 CPUs, 2 jobs: 1 each)."""
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    return max(1, cpus // max(1, jobs))


def _checkpoint_dirs(study: Study, row: str, seed: int) -> set[str]:
    """The ``work_dirs`` folders a run trains into or reads: its own, and a Fast R-CNN row's
    proposal row's (whose proposals it dumps)."""
    import copy

    from ..config import DetectorConfig

    cfg = study.config(row, seed)
    dirs = {str(study.checkpoint_dir(cfg))}
    if cfg.detector.type == "fast_rcnn":
        proposal_cfg = copy.deepcopy(cfg)
        proposal_cfg.detector = DetectorConfig()
        dirs.add(str(study.checkpoint_dir(proposal_cfg)))
    return dirs


def plan_groups(study: Study, runs: Sequence[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """``runs`` (row, seed) in groups that touch disjoint checkpoint folders, in plan order: runs
    that share a folder (directly or through another run) are one group, run one after the other."""
    groups: list[tuple[set[str], list[tuple[str, int]]]] = []
    for run in runs:
        dirs = _checkpoint_dirs(study, *run)
        joined = [g for g in groups if g[0] & dirs]
        merged_dirs, merged_runs = set(dirs), []
        for g in joined:
            merged_dirs |= g[0]
            merged_runs += g[1]
            groups.remove(g)
        groups.append((merged_dirs, merged_runs + [run]))
    order = {run: i for i, run in enumerate(runs)}
    out = [sorted(g[1], key=order.__getitem__) for g in groups]
    return sorted(out, key=lambda g: order[g[0]])


@dataclass
class Job:
    """One run in a child process (see the module docstring)."""
    row: str
    seed: int
    command: list[str]
    log_path: Path                      # the training log the progress bar follows
    total_iters: int
    process: Optional[subprocess.Popen] = None
    lines: list[str] = field(default_factory=list)
    returncode: Optional[int] = None

    @property
    def label(self) -> str:
        return f"{self.row} seed {self.seed}"


def _last_iter(path: Path) -> int:
    """The last ``iter`` of a training log (0 when there is none yet)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line).get("iter", 0))
        except (ValueError, AttributeError):
            continue
    return 0


def _relay(job: Job, stream, emit: Callable[[str], None], lock: threading.Lock) -> None:
    """Pass the child's lines on whole, prefixed with its run."""
    for raw in iter(stream.readline, ""):
        line = raw.rstrip("\n")
        if not line:
            continue
        with lock:
            job.lines.append(line)
            emit(f"[{job.label}] {line}")


def _study_args(study: Study, extra: Sequence[str]) -> list[str]:
    args = ["--profile", study.profile, "--results-dir", str(study.results_dir)]
    if study.dataset:
        args += ["--dataset", study.dataset]
    if study.retrain:
        args.append("--retrain")
    return args + list(extra)


def run_jobs(study: Study, runs: Sequence[tuple[str, int]], jobs: int, threads: Optional[int] = None,
             extra_args: Sequence[str] = (), progress: bool = True,
             emit: Callable[[str], None] = print,
             python: str = sys.executable) -> list[Job]:
    """Run ``runs`` (row, seed) ``jobs`` at a time (see the module docstring); return the jobs in
    plan order, each with its return code and output lines. Runs already cached are skipped by
    their child (it only prints the cached record)."""
    threads = default_threads(jobs) if threads is None else threads
    env = {**os.environ, "SCRPN_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    # OpenMP threads that sleep, not spin, while they wait: a 2-thread job beside other work ran
    # 1.4-2.0 s/iter spinning and 0.6-0.8 passive (s4x_sc_rpn, 2026-12-05); the sums are the same
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["SCRPN_WORK_DIR"] = str(study.work_dir)
    # the children import this process's scrpn, whatever their working directory holds
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    groups = plan_groups(study, runs)
    queue = [list(g) for g in groups]
    slots: list[Optional[Job]] = [None] * jobs
    pending_in_slot: list[list[tuple[str, int]]] = [[] for _ in range(jobs)]
    bars = [tqdm(total=1, position=i, desc=f"job {i + 1}", disable=not progress, leave=False,
                 dynamic_ncols=True) for i in range(jobs)]
    lock = threading.Lock()
    write = (lambda line: tqdm.write(line, file=sys.stderr)) if progress else emit
    done: list[Job] = []
    relays: list[threading.Thread] = []
    stop = {"signum": None}

    def forward(signum, frame):  # pass SIGINT / SIGTERM on; each child saves latest.pth
        stop["signum"] = signum
        for job in slots:
            if job is not None and job.process is not None and job.process.poll() is None:
                job.process.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, forward)

    def start(slot: int, row: str, seed: int) -> Job:
        cfg = study.config(row, seed)
        log = study.checkpoint_dir(cfg) / "log.jsonl"
        command = [python, "-m", "scrpn", "study", row, "--seeds", str(seed), *_study_args(study, extra_args)]
        job = Job(row, seed, command, log, cfg.train.max_iters)
        job.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, bufsize=1, env=env)
        thread = threading.Thread(target=_relay, args=(job, job.process.stdout, write, lock), daemon=True)
        thread.start()
        relays.append(thread)
        bars[slot].reset(total=job.total_iters)
        bars[slot].set_description(f"job {slot + 1}: {job.label}")
        return job

    try:
        while True:
            for slot in range(jobs):
                job = slots[slot]
                if job is not None and job.process.poll() is not None:
                    job.returncode = job.process.returncode
                    done.append(job)
                    slots[slot] = job = None
                if job is None and stop["signum"] is None:
                    if not pending_in_slot[slot] and queue:
                        pending_in_slot[slot] = queue.pop(0)
                    if pending_in_slot[slot]:
                        row, seed = pending_in_slot[slot].pop(0)
                        slots[slot] = start(slot, row, seed)
                if slots[slot] is not None:
                    bars[slot].n = min(_last_iter(slots[slot].log_path), slots[slot].total_iters)
                    bars[slot].refresh()
            if all(s is None for s in slots) and (stop["signum"] is not None
                                                  or (not queue and not any(pending_in_slot))):
                break
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for thread in relays:
            thread.join(timeout=5)
        for bar in bars:
            bar.close()
    order = {run: i for i, run in enumerate(runs)}
    return sorted(done, key=lambda j: order.get((j.row, j.seed), len(order)))
