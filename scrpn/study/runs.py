"""Train a study row or load its cached result: what every notebook calls instead of a loop.

A *row* is a config name (``rpn``, ``t5_k3``, ``det_faster_rcnn_sc_rpn`` ...) resolved in the
profile's config folder; a *run* is a row with one seed. A finished run leaves, under
``<results_dir>/runs/<row>/seed<k>/``: ``metrics.json`` (AR or box AP, time per image, train
seconds, the config fingerprint), ``log.jsonl`` (training curves) and, for proposal networks,
``proposal_stats.npz`` (:mod:`scrpn.evaluation.proposal_stats`, what Figs. 6-8 are drawn from).

Design choices:

* **Cache key = the config, not the file name.** ``metrics.json`` records a fingerprint of the
  whole resolved config (minus run-time knobs: threads, intervals, cache folders). A cached result
  whose fingerprint differs from today's config is stale and is recomputed, so editing a config
  can never leave an old number in a table.
* **Checkpoints are shared by training config.** Rows that differ only at test time (Tables VI
  and VII "tested without the IoU mask", ``model.test.*``) train once: checkpoints live in
  ``<work_dir>/study/<training fingerprint>/seed<k>/`` and each row only re-evaluates.
* **Resumable.** An interrupted run continues from its ``latest.pth`` on the next call (the
  trainer checkpoints every ``train.checkpoint_interval`` iterations and on SIGTERM). Its record
  then says what the earlier processes spent training (``earlier_wall_seconds`` /
  ``earlier_cpu_seconds``, from the checkpoint), so :func:`run_cost` counts the whole run, not
  only its last part.
* **Fast R-CNN rows** (``detector.type: fast_rcnn``) first train (or reuse) their proposal row and
  dump its top ``detector.num_proposals`` proposals on the train and val splits.
* **Profiles.** ``mini`` and ``full`` read ``configs/mini`` and ``configs/coco``; ``smoke`` reads
  the mini row and overlays ``configs/smoke/_base.yaml`` (tiny images, two iterations), so the
  notebooks run in seconds with every row of the mini profile. A ``dataset`` other than the row's
  own overlays ``configs/<profile>/datasets/<dataset>.yaml`` and prefixes the run name.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import torch

from scrpn.config import (LATER_KEYS_AT_FIRST_VALUE, Config, ConfigError, DetectorConfig, TestConfig, apply_overrides,
                          config_from_dict, load_raw_with_sources, merge_with_sources, Provenance,
                          _read_yaml)
from scrpn.engine.builders import build_eval_dataset, build_val_dataset
from scrpn.engine.checkpoint import load_checkpoint
from scrpn.engine.evaluator import evaluate_model, write_metrics
from scrpn.engine.seeding import configure_torch
from scrpn.engine.trainer import new_trainer
from scrpn.evaluation.proposal_stats import load_stats
from scrpn.outputs import RunLock, atomic_write, atomic_write_text

from .provenance import CodeChanges, code_version, dirty_training, training_commits

__all__ = ["CONVERGED", "LATER_KEYS_AT_FIRST_VALUE", "PROFILE_CONFIG_DIRS", "RUNTIME_KEYS", "SCHEDULE_RUNGS",
           "ScheduleNotChosen", "TEST_VARIANTS", "Study",
           "config_fingerprint", "row_folders", "run_cost", "training_config"]

# Schedule profiles (issue 38, experiment 10): the mini rows with only their schedule changed.
# Rung "<n>x" overlays configs/converged/<n>x.yaml (max_iters and the lr steps times n, warm-up
# unchanged) and names its runs "s<n>x_<row>"; "converged" is the rung that experiment 10's phase 1
# chose, named by configs/converged/_base.yaml (``_base_: <n>x.yaml``), so its runs are that rung's
# runs (same names, same cache). ``tests/test_schedule_profiles.py`` pins both.
SCHEDULE_RUNGS = ("2x", "4x", "8x", "16x")
CONVERGED = "converged"
PROFILE_CONFIG_DIRS = {"smoke": "mini", "mini": "mini", "full": "coco",
                       **{rung: "mini" for rung in SCHEDULE_RUNGS}, CONVERGED: "mini"}
# Test-time variants of a row: "<row>_<variant>" is <row> scored with these overrides. They are
# test-only settings (``training_config`` resets them), so a variant shares its row's training and
# only re-evaluates; Tables VI and VII score each IoU-mask row with and without the IoU-aware
# score this way. ``tests/test_study.py`` checks that every override here is test-only.
TEST_VARIANTS: dict[str, tuple[str, ...]] = {
    "notest": ("model.head.iou_mask.test_with=false",),
    # GA-RPN without its test-time location filter (issue 18, experiment 2, arm G0)
    "nofilter": ("model.head.ga.loc_filter_thr=0.0",),
    # The row itself, scored into its own run folder from the checkpoint work_dirs holds now. It
    # pairs a scoring variant with the *same* checkpoint when the row's committed run came from an
    # earlier training that a retraining does not reproduce bit for bit (issue 18, experiment 3,
    # arm M1: ``sc_rpn_rescored`` against ``sc_rpn_notest``).
    "rescored": (),
}
# Settings that change how fast a run goes or where it caches, never its numbers.
RUNTIME_KEYS = ("name", "train.num_threads", "train.memory_format", "train.cpu_deterministic_kernels",
                "train.log_interval", "train.checkpoint_interval", "data.num_workers", "data.root",
                "eval.timing_images")


def _get(tree: dict, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return _MISSING
        tree = tree[key]
    return tree


_MISSING = object()


def _drop(tree: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree.get(key, {})
    tree.pop(leaf, None)


def config_fingerprint(cfg: Config, extra_ignored: Sequence[str] = ()) -> str:
    """12 hex digits identifying what the config computes (run-time knobs excluded)."""
    tree = copy.deepcopy(cfg.to_dict())
    for key in (*RUNTIME_KEYS, *extra_ignored):
        _drop(tree, key)
    for key, first in LATER_KEYS_AT_FIRST_VALUE.items():
        if _get(tree, key) == first:
            _drop(tree, key)
    return hashlib.sha1(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:12]


def training_config(cfg: Config) -> Config:
    """``cfg`` with its test-only settings reset: rows that differ only there train once."""
    out = copy.deepcopy(cfg)
    out.model.test = TestConfig()
    out.model.head.iou_mask.test_with = True
    out.model.head.ga.loc_filter_thr = type(cfg.model.head.ga)().loc_filter_thr
    out.eval = type(cfg.eval)()
    out.data.val_limit = None
    # Fast R-CNN's proposal files are derived from the proposal row: not part of the identity.
    out.name = "train-" + config_fingerprint(out, ("detector.train_proposals", "detector.val_proposals"))
    return out


def row_folders(folder: Path) -> list[Path]:
    """Where a profile's rows live: ``folder`` itself (the paper's tables' rows), then its
    subfolders (``experiments/``, ``diagnostics/``, ``detectors/``; not ``datasets/``, which holds
    overlays). A row's name is unique across them (``tests/test_study.py``), so the folder is
    where it is filed, never part of what it computes."""
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "datasets") if folder.is_dir() else []
    return [folder, *subfolders]


PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the checkout whose scrpn/ trains the runs


class ScheduleNotChosen(ConfigError):
    """The ``converged`` profile before experiment 10's phase 1 has chosen its rung (no
    ``configs/converged/_base.yaml``): readers of cached runs show its runs as pending."""


@dataclass
class Study:
    """The study's rows for one profile / dataset / seed list (see the module docstring)."""

    profile: str = "mini"
    retrain: bool = False
    seeds: Sequence[int] = (0,)
    dataset: Optional[str] = None
    results_dir: str | Path = "results"
    work_dir: str | Path = "work_dirs"
    config_root: str | Path = "configs"
    device: str = "cpu"
    overrides: Sequence[str] = ()
    train_missing: bool = True
    log: Callable[[str], None] = print
    progress: bool = False          # bars for training, evaluation and proposal dumps (CLI: on)
    # False (``scrpn study`` without --allow-dirty): refuse a run trained, or about to be trained,
    # from a tree with uncommitted changes under scrpn/ or configs/ (provenance.dirty_training)
    allow_dirty: bool = True
    _done: set = field(default_factory=set, repr=False)
    _warned: set = field(default_factory=set, repr=False)
    _changes: Optional[CodeChanges] = field(default=None, repr=False)
    # checkpoint dir -> (wall, CPU) training seconds of the earlier processes this one resumed from
    _earlier: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.profile not in PROFILE_CONFIG_DIRS:
            raise ValueError(f"profile must be one of {sorted(PROFILE_CONFIG_DIRS)}, got {self.profile!r}")
        self.results_dir, self.work_dir = Path(self.results_dir), Path(self.work_dir)
        self.config_root = Path(self.config_root)

    # ------------------------------------------------------------------ configs and paths
    def run_name(self, row: str) -> str:
        name = row if self.dataset in (None, "synthshapes") else f"{self.dataset}_{row}"
        rung = self.schedule_rung()
        return name if rung is None else f"s{rung}_{name}"

    def schedule_rung(self) -> Optional[str]:
        """The schedule rung of this profile ("4x" ...), None for a profile without one.

        ``converged`` reads its rung from ``configs/converged/_base.yaml`` (per dataset:
        ``configs/converged/<dataset>.yaml`` when that file exists, since DeepForest's schedule is
        chosen by its own doubling rule); until experiment 10's phase 1 has chosen it the profile
        cannot be used, and says so in one line (a ``ConfigError``)."""
        if self.profile in SCHEDULE_RUNGS:
            return self.profile
        if self.profile != CONVERGED:
            return None
        folder = self.config_root / CONVERGED
        pointer = folder / f"{self.dataset}.yaml"
        if self.dataset in (None, "synthshapes") or not pointer.is_file():
            pointer = folder / "_base.yaml"
        if not pointer.is_file():
            raise ScheduleNotChosen(f"{pointer}: the converged schedule S* is not chosen yet (experiment 10, "
                              f"phase 1: train the rungs with --profile 2x, 4x, ... first)")
        target = _read_yaml(pointer).get("_base_")
        rung = Path(target).stem if isinstance(target, str) else None
        if rung not in SCHEDULE_RUNGS or set(_read_yaml(pointer)) != {"_base_"}:
            raise ConfigError(f"{pointer}: must hold exactly one line '_base_: <rung>.yaml' with a rung "
                              f"of {', '.join(SCHEDULE_RUNGS)}; got {_read_yaml(pointer)!r}")
        return rung

    def config(self, row: str, seed: int = 0) -> Config:
        """The resolved config of ``row`` in this profile (and dataset), with ``seed``."""
        return self.config_with_sources(row, seed)[0]

    def config_with_sources(self, row: str, seed: int = 0) -> tuple[Config, dict[str, str]]:
        """:meth:`config` and, for every key a file or override set, where it was set (a config
        file, an overlay, ``--set ...`` or ``seed``); keys absent from the map are the schema's
        defaults. What ``scrpn config show`` prints."""
        path, variant = self._row_file(row)
        merged = load_raw_with_sources(path)
        overlays = []
        if self.dataset not in (None, "synthshapes"):
            overlays.append(self.config_root / PROFILE_CONFIG_DIRS[self.profile] / "datasets"
                            / f"{self.dataset}.yaml")
        if self.profile == "smoke":
            overlays.append(self.config_root / "smoke" / "_base.yaml")
        rung = self.schedule_rung()
        if rung is not None:   # last: the schedule is the only thing a rung changes
            overlays.append(self.config_root / CONVERGED / f"{rung}.yaml")
        for overlay in overlays:
            layer = _read_yaml(overlay)
            layer.pop("_base_", None)  # an overlay's own values only
            merged = merge_with_sources(merged, layer, f"{overlay.resolve()} (overlay)")
        raw, sources = merged
        for item in TEST_VARIANTS.get(variant, ()):
            sources = merge_with_sources((raw, sources), apply_overrides({}, [item]),
                                         f"test variant _{variant}")[1]
            raw = apply_overrides(raw, [item])
        for item in [*self.overrides, f"train.seed={int(seed)}"]:  # --set semantics: replace
            sources = merge_with_sources((raw, sources), apply_overrides({}, [item]), f"--set {item}")[1]
            raw = apply_overrides(raw, [item])
        raw["name"] = self.run_name(row)
        sources["name"] = "the study row's name"
        # errors name the input that set the key: a --set item, an overlay or the file
        return config_from_dict(raw, Provenance(sources, str(path))), sources

    def _row_file(self, row: str) -> tuple[Path, Optional[str]]:
        """The config file of ``row`` and its test variant (None for a plain row), in the
        profile's folder or one of its row folders (:func:`row_folders`)."""
        folder = self.config_root / PROFILE_CONFIG_DIRS[self.profile]
        base, _, variant = row.rpartition("_")
        for name, test in ((row, None), (base, variant)):
            for where in row_folders(folder) if test is None or test in TEST_VARIANTS else ():
                if (where / f"{name}.yaml").is_file():
                    return where / f"{name}.yaml", test
        raise ConfigError(f"{folder / f'{row}.yaml'}: no such study row (profile {self.profile!r})")

    def run_dir(self, row: str, seed: int) -> Path:
        """Where the study's results of one run are committed."""
        return self.results_dir / "runs" / self.run_name(row) / f"seed{int(seed)}"

    def checkpoint_dir(self, cfg: Config) -> Path:
        return self.work_dir / "study" / training_config(cfg).name / f"seed{cfg.train.seed}"

    # ------------------------------------------------------------------ cached results
    def cached(self, row: str, seed: int) -> Optional[dict]:
        """The run's metrics if cached and computed from today's config, else ``None``."""
        path = self.run_dir(row, seed) / "metrics.json"
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}); delete it to recompute the run") from exc
        if record.get("config_fingerprint") != config_fingerprint(self.config(row, seed)):
            self.log(f"{path}: computed from another config; the run is recomputed")
            return None
        if not self.allow_dirty and dirty_training(record):
            raise ConfigError(f"{path}: {record.get('name', row)} seed {seed}: "
                              f"{record.get('trained_by') or 'trained from a tree with uncommitted changes'}; "
                              "a table or verdict reads only runs of committed code: retrain it from a "
                              "clean commit (--retrain) or pass --allow-dirty")
        self._warn_if_code_changed(path, record)
        return record

    def _warn_if_code_changed(self, path: Path, record: dict) -> None:
        """Once per run: the package changed since a commit that trained it (the parts' commits,
        recorded when each training process started; provenance.training_commits). The run is
        kept (its config is today's); ``retrain`` recomputes it."""
        commits = training_commits(record)
        if not commits or path in self._warned:
            return
        self._warned.add(path)
        if self._changes is None:
            self._changes = CodeChanges(PACKAGE_ROOT)
        for commit in commits:
            changed = self._changes.since(commit)
            if not changed:
                continue
            self.log(f"{path}: trained by the code of commit {commit[:10]}; scrpn/ has changed since "
                     f"({len(changed)} files, e.g. {changed[0]}). Kept: its config is today's; "
                     f"retrain it to refresh (--retrain)")
            return

    def available(self, row: str, seed: int = 0) -> bool:
        """Whether :meth:`run` can answer: cached, or allowed to train (``train_missing``)."""
        return self.train_missing or self.cached(row, seed) is not None

    def run(self, row: str, seed: int = 0) -> dict:
        """Metrics of one run: cached, or trained (resuming) and evaluated now.

        With ``train_missing=False`` a run without an up-to-date result is not trained: the
        answer is ``{"name", "seed", "missing": True}`` (tables leave it out and say so).
        """
        if not (self.retrain and (row, seed) not in self._done):
            record = self.cached(row, seed)
            if record is not None:
                return record
            if not self.train_missing:
                return {"name": self.run_name(row), "seed": int(seed), "missing": True}
        if not self.allow_dirty and code_version(PACKAGE_ROOT)["code_dirty"]:
            raise ConfigError(f"{self.run_dir(row, seed)}: {self.run_name(row)} seed {seed}: would be trained "
                              f"from a tree with uncommitted changes under scrpn/ or configs/ "
                              f"({PACKAGE_ROOT}); commit them first or pass --allow-dirty")
        record = self._compute(row, seed)
        self._done.add((row, seed))
        return record

    def runs(self, rows: Iterable[str], seeds: Optional[Sequence[int]] = None) -> list[dict]:
        """Metrics of every row x seed (seeds default to the study's)."""
        return [self.run(row, s) for row in rows for s in (seeds if seeds is not None else self.seeds)]

    def stats(self, row: str, seed: int = 0) -> dict:
        """The run's proposal statistics (``proposal_stats.npz``), computing the run if needed."""
        if self.run(row, seed).get("missing"):
            raise FileNotFoundError(f"{self.run_dir(row, seed)}: not computed yet (train_missing=False)")
        return load_stats(self.run_dir(row, seed) / "proposal_stats.npz")

    def training_log(self, row: str, seed: int = 0) -> list[dict]:
        if self.run(row, seed).get("missing"):
            raise FileNotFoundError(f"{self.run_dir(row, seed)}: not computed yet (train_missing=False)")
        path = self.run_dir(row, seed) / "log.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    # ------------------------------------------------------------------ training and evaluation
    def _compute(self, row: str, seed: int) -> dict:
        """Train (resuming) and evaluate one run, holding the lock on its checkpoint folder: a
        second ``scrpn study`` (another shell, another ``--jobs`` plan) that reaches the same
        training is refused in one line naming the pid that trains it (a ``LockedError``), never
        trains it twice into the same ``latest.pth`` (``tests/test_study_lock.py``)."""
        cfg = self.config(row, seed)
        with RunLock(self.checkpoint_dir(cfg), command=f"scrpn study {self.run_name(row)} seed {seed}",
                     note=self.log):
            return self._compute_locked(row, seed, cfg)

    def _compute_locked(self, row: str, seed: int, cfg: Config) -> dict:
        fingerprint = config_fingerprint(cfg)
        if cfg.detector.type == "fast_rcnn":
            self._attach_proposals(cfg)
        start, cpu_start = time.perf_counter(), time.process_time()
        model, ckpt = self._trained_model(cfg)
        out = self.run_dir(row, seed)
        out.mkdir(parents=True, exist_ok=True)
        is_detector = cfg.detector.type != "none"
        metrics = evaluate_model(model, build_val_dataset(cfg), cfg, self.device, progress=self.progress,
                                 stats_path=None if is_detector else out / "proposal_stats.npz")
        state = load_checkpoint(ckpt)
        # which code and settings trained it: the checkpoint's parts, recorded when each training
        # process started ([] for a checkpoint older than that: unknown, not this process's HEAD)
        write_metrics(out / "metrics.json", metrics, cfg, state.get("train_seconds"),
                      state.get("iteration"), train_log=ckpt.parent / "log.jsonl",
                      training_parts=state.get("provenance") or [])
        record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        # wall and CPU seconds of this process, and the training seconds of the earlier processes
        # it resumed from (0 when it trained from scratch or reused a finished checkpoint; CPU None
        # when the checkpoint predates its count): run_cost adds them up
        earlier_wall, earlier_cpu = self._earlier.pop(str(ckpt.parent), (0.0, 0.0))
        record.update(config_fingerprint=fingerprint, checkpoint=str(ckpt),
                      evaluated_by=code_version(PACKAGE_ROOT),
                      wall_seconds=time.perf_counter() - start,
                      cpu_seconds=time.process_time() - cpu_start, torch_threads=torch.get_num_threads(),
                      earlier_wall_seconds=earlier_wall, earlier_cpu_seconds=earlier_cpu)
        atomic_write_text(out / "metrics.json", json.dumps(record, indent=2) + "\n")
        log = ckpt.parent / "log.jsonl"
        if log.is_file():
            atomic_write(out / "log.jsonl", lambda stream, data=log.read_bytes(): stream.write(data))
        self.log(f"{self.run_name(row)} seed {seed}: " + ", ".join(
            f"{k} {record[k]:.1f}" for k in ("AR100", "AR1000", "AP", "AP50") if record.get(k) is not None))
        return record

    def _trained_model(self, cfg: Config) -> tuple[torch.nn.Module, Path]:
        """Train ``cfg`` (resuming; reusing a finished run of the same training config)."""
        from scrpn.build import build_model

        train_cfg = training_config(cfg)
        run_dir = self.checkpoint_dir(cfg)
        configure_torch(cfg.train.deterministic, cfg.train.num_threads, cfg.train.cpu_deterministic_kernels)
        final = run_dir / "final.pth"
        if final.is_file() and not (self.retrain and str(run_dir) not in self._done):
            model = build_model(_without_pretrained(cfg))
            model.load_state_dict(load_checkpoint(final)["model"])
            return model.to(self.device), final
        if self.retrain and run_dir.exists():
            for name in ("latest.pth", "final.pth", "log.jsonl"):
                (run_dir / name).unlink(missing_ok=True)
        trainer = new_trainer(train_cfg, run_dir, device=self.device, progress=self.progress)
        if (run_dir / "latest.pth").is_file():
            trainer.resume()
            self._earlier[str(run_dir)] = (trainer.train_seconds, trainer.train_cpu_seconds)
            self.log(f"{cfg.name}: resuming at iteration {trainer.iteration}/{trainer.max_iters}")
        else:
            self.log(f"{cfg.name} seed {cfg.train.seed}: training ({run_dir})")
        trainer.train()
        self._done.add(str(run_dir))
        model = build_model(_without_pretrained(cfg))  # the row's own test settings
        model.load_state_dict(trainer.model.state_dict())
        return model.to(self.device), final

    def _attach_proposals(self, cfg: Config) -> None:
        """Fast R-CNN: dump the proposal row's top-k proposals on train and val, point cfg at them."""
        proposal_cfg = copy.deepcopy(cfg)
        proposal_cfg.detector = DetectorConfig()
        k = cfg.detector.num_proposals
        proposal_cfg.model.test.max_per_img = k
        model, ckpt = self._trained_model(proposal_cfg)
        for split in ("train", "val"):
            path = ckpt.parent / f"proposals_{split}_top{k}.json"
            if not path.is_file():
                self.log(f"{cfg.name}: dumping the {split} proposals of {ckpt}")
                eval_cfg = copy.deepcopy(proposal_cfg)
                eval_cfg.data.val_limit = None
                tmp = path.with_name(path.name + ".tmp")
                evaluate_model(model, build_eval_dataset(eval_cfg, split), eval_cfg, self.device,
                               progress=self.progress,
                               proposals_path=tmp)
                tmp.replace(path)
            setattr(cfg.detector, f"{split}_proposals", str(path))

    def weights_path(self, row: str, seed: int = 0) -> Path:
        """Committed half-precision weights of a run (a few runs keep them for the figures)."""
        return self.results_dir / "weights" / f"{self.run_name(row)}_seed{int(seed)}.pt"

    def load_model(self, row: str, seed: int = 0) -> tuple[torch.nn.Module, Config]:
        """The trained model of a run, in eval mode: from the committed weights when they match
        today's config, else from the run's checkpoint (trained now if missing and ``train_missing``;
        otherwise ``FileNotFoundError``)."""
        from scrpn.build import build_model

        cfg = self.config(row, seed)
        path = self.weights_path(row, seed)
        if path.is_file() and not self.retrain:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("config_fingerprint") == config_fingerprint(cfg):
                model = build_model(_without_pretrained(cfg))
                model.load_state_dict({k: v.float() if v.is_floating_point() else v
                                       for k, v in saved["model"].items()})
                return model.eval(), cfg
            self.log(f"{path}: saved from another config; using the run's checkpoint")
        if self.run(row, seed).get("missing"):
            raise FileNotFoundError(f"{self.run_dir(row, seed)}: {row} seed {seed} is not trained yet and "
                                    f"train_missing=False (train it: scrpn study {row} --seeds {seed})")
        final = self.checkpoint_dir(cfg) / "final.pth"
        if not self.train_missing and not (final.is_file() and not self.retrain):
            # a cached result whose checkpoint is not on this machine (committed metrics, no weights):
            # with train_missing=False nothing trains, so say where the weights would have to be
            raise FileNotFoundError(f"{final}: {row} seed {seed} has a cached result but no weights here "
                                    f"(no {path.name} under {path.parent}, no checkpoint) and "
                                    f"train_missing=False (retrain it: scrpn study {row} --seeds {seed} --retrain)")
        model, _ = self._trained_model(cfg)
        return model.eval(), cfg

    def export_weights(self, row: str, seed: int = 0) -> Path:
        """Write the run's weights in half precision to :meth:`weights_path` (for committing)."""
        model, cfg = self.load_model(row, seed)
        path = self.weights_path(row, seed)
        state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
        payload = {"model": state, "config_fingerprint": config_fingerprint(cfg)}
        return atomic_write(path, lambda stream: torch.save(payload, stream))


def run_cost(record: dict) -> tuple[float, float]:
    """(machine seconds, CPU seconds) of one run record (``metrics.json``).

    The process that wrote the record counts its ``wall_seconds`` / ``cpu_seconds``; a run it
    resumed adds what the earlier, interrupted processes spent training (``earlier_*_seconds``,
    carried in the checkpoint). Where a part is unknown it counts as 0: records written before
    these fields (a resumed run then counts its last part only) and the CPU seconds of a
    checkpoint that predates the trainer's CPU count (``earlier_cpu_seconds`` None).
    ``tests/test_study.py::test_a_resumed_run_costs_all_its_parts`` pins it.
    """
    wall = float(record.get("wall_seconds") or 0.0) + float(record.get("earlier_wall_seconds") or 0.0)
    cpu = float(record.get("cpu_seconds") or 0.0) + float(record.get("earlier_cpu_seconds") or 0.0)
    return wall, cpu


def _without_pretrained(cfg: Config) -> Config:
    """The weights come from a checkpoint: skip loading ImageNet weights first."""
    out = copy.deepcopy(cfg)
    out.model.backbone.pretrained = False
    return out
