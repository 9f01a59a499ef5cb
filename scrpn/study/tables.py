"""The paper's tables rebuilt from the study's runs, our numbers beside the paper's.

Each :class:`TableSpec` names the paper's transcription (``results/paper/<name>.csv``, a copy of
``shared/paper/tables``), the columns that identify a row, the metric columns, and for each paper
row the study row (config name) that reproduces it, or ``None`` for rows the paper only cites.
:func:`build_table` returns, per paper row, the paper's identifying columns and for every metric
``<m>_paper``, ``<m>_mean`` and ``<m>_std`` over the seeds run, and ``<m>_diff`` (ours minus the
paper's), plus ``config``, ``seeds`` (runs averaged) and ``pending`` (runs not computed yet, with
``Study(train_missing=False)``); it is written to ``results/tables/<name>.csv``.

Which seeds: Tables I, III, IV and X use every seed of the study; Tables II, V-IX use the first
only (the issue's budget: one seed for the hyper-parameter sweeps and the detectors). The
standard deviation is the sample standard deviation (ddof = 1), NaN with one seed.
Our AR_S / AR_M / AR_L are at 100 proposals, the paper's definition (docs/interpretations.md).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from scrpn.outputs import atomic_write_text

from .runs import Study, run_cost

__all__ = ["TABLES", "TableSpec", "benchmark_times", "build_table", "make_table", "paper_table", "readable", "runs_summary",
           "study_rows", "write_table", "markdown_table"]

AR = ("AR100", "AR300", "AR1000")
# Tables IV, VI and VII's no-SADS reference: the point row at the mini lr 0.01, like every other row
# of those tables. Table III's and VIII's point row (t3_point) trains at the paper's lr 0.005 since
# issue 18's experiment 6 (interpretation 31); this is the first study's t3_point, same runs, kept
# as a diagnostic row (experiment 6 reads it as POINT_FIRST_STUDY).
NO_SADS_MINI_LR = "diag_t3_point_lr001"
AR_SIZES = ("AR_S", "AR_M", "AR_L")
AP = ("AP", "AP50", "AP75", "AP_S", "AP_M", "AP_L")
# our metric key for a paper column that is named differently
OUR_KEY = {"time_s": "seconds_per_image"}


@dataclass(frozen=True)
class TableSpec:
    name: str                                  # file stem in results/paper and results/tables
    title: str
    keys: tuple[str, ...]                      # paper columns identifying a row
    metrics: tuple[str, ...]
    rows: tuple[tuple[tuple, Optional[str]], ...]  # (values of ``keys``, our config or None)
    all_seeds: bool = False
    dataset: Optional[str] = None              # the study's dataset for this table
    timing_file: Optional[str] = None          # ``time_s`` from this benchmark (under results_dir)


def _det_rows(detector: str, prefix: str, methods: Sequence[tuple[str, str]], k: int) -> list:
    suffix = "" if k == 300 else f"_{k}"
    return [((detector, label, str(k)), f"{prefix}_{row}{suffix}") for label, row in methods]


_PEERS = (("RPN", "rpn"), ("Iterative RPN", "iterative_rpn"), ("GA-RPN", "ga_rpn"),
          ("Cascade RPN", "cascade_rpn"), ("SC-RPN", "sc_rpn"))
_AT_1000 = (("RPN", "rpn"), ("Cascade RPN", "cascade_rpn"), ("SC-RPN", "sc_rpn"))

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in [
    TableSpec("table01_proposals_coco", "Table I: region proposal methods", ("method",),
              (*AR, *AR_SIZES, "time_s"),
              tuple(((m,), None) for m in ("SharpMask", "GCN-NS", "AttractioNet", "ZIP"))
              + tuple(((label,), row) for label, row in _PEERS), all_seeds=True,
              timing_file="bench/speed.json"),
    TableSpec("table02_detection_coco", "Table II: detectors on the proposals",
              ("detector", "proposal_method", "num_proposals"), AP,
              tuple(_det_rows("Fast R-CNN", "det_fast_rcnn", _AT_1000, 1000)
                    + _det_rows("Fast R-CNN", "det_fast_rcnn", _PEERS, 300)
                    + _det_rows("Faster R-CNN", "det_faster_rcnn", _AT_1000, 1000)
                    + _det_rows("Faster R-CNN", "det_faster_rcnn", _PEERS, 300))),
    TableSpec("table03_components", "Table III: SC-RPN's components, added one at a time", ("row",), AR,
              ((("baseline RPN (3 anchors)",), "rpn"), (("+ one anchor",), "rpn_1anchor"),
               (("+ two-stage",), "t3_two_stage"), (("+ alignment",), "t3_alignment"),
               (("+ IoU loss",), "t3_iou_loss"), (("+ point-based representation",), "t3_point"),
               (("+ SADS",), "t3_sads"), (("+ IoU mask (full SC-RPN)",), "sc_rpn")), all_seeds=True),
    TableSpec("table04_sads_combinations", "Table IV: assigners of the two stages",
              ("stage1_assigner", "stage2_assigner"), AR,
              ((("Max IoU", "Max IoU"), NO_SADS_MINI_LR),
               (("Max IoU", "Size-Aware Threshold (SAT)"), "t4_maxiou_sat"),
               (("Positive Region (PosR)", "Size-Aware Threshold (SAT)"), "t3_sads")), all_seeds=True),
    TableSpec("table05_sads_hyperparameters", "Table V: SADS hyper-parameters", ("hyperparameter", "value"), AR,
              tuple(((h, v), r) for h, v, r in [
                  *[("sigma (center ratio of positive region)", v, r) for v, r in
                    (("0.1", "t5_sigma01"), ("0.2", "t3_sads"), ("0.3", "t5_sigma03"),
                     ("0.4", "t5_sigma04"), ("0.5", "t5_sigma05"))],
                  *[("k (closest samples per feature map)", v, "t3_sads" if v == "9" else f"t5_k{v}")
                    for v in ("3", "6", "9", "12", "15", "18")],
                  *[("N (feature maps used by SAT)", v, "t3_sads" if v == "2" else f"t5_n{v}")
                    for v in ("1", "2", "3", "4", "5")]])),
    TableSpec("table06_iou_mask_training_samples", "Table VI: samples the IoU mask is trained on",
              ("train_with_sads", "iou_mask_training_samples", "test_with_iou_mask"), AR,
              tuple(((w, s, t), r) for w, s, t, r in [
                  ("no", "without IoU mask", "no", NO_SADS_MINI_LR),
                  *[("no", s, t, f"t6_without_sads_{k}{'' if t == 'yes' else '_notest'}")
                    for s, k in (("regression samples", "reg"),
                                 ("regression samples and all negative samples", "regneg"),
                                 ("classification samples", "cls")) for t in ("no", "yes")],
                  ("yes", "without IoU mask", "no", "t3_sads"),
                  *[("yes", s, t, f"t6_with_sads_{k}{'' if t == 'yes' else '_notest'}")
                    for s, k in (("regression samples", "reg"),
                                 ("regression samples and all negative samples", "regneg"),
                                 ("classification samples", "cls")) for t in ("no", "yes")]])),
    TableSpec("table07_iou_mask_feature_map", "Table VII: feature map the IoU mask reads",
              ("train_with_sads", "iou_mask_feature_map", "test_with_iou_mask"), AR,
              tuple(((w, f, t), r) for w, f, t, r in [
                  ("no", "without IoU mask", "no", NO_SADS_MINI_LR),
                  *[("no", f"{k} feature map", t, f"t7_without_sads_{k}{'' if t == 'yes' else '_notest'}")
                    for k in ("fused", "cls", "reg") for t in ("no", "yes")],
                  ("yes", "without IoU mask", "no", "t3_sads"),
                  *[("yes", f"{k} feature map", t, f"t7_with_sads_{k}{'' if t == 'yes' else '_notest'}")
                    for k in ("fused", "cls", "reg") for t in ("no", "yes")]])),
    TableSpec("table08_point_representation", "Table VIII: point-based representation",
              ("representation", "point_alignment", "point_description"), AR,
              ((("anchor-based", "no", "no"), "t3_iou_loss"),
               (("point-based", "no", "yes"), "t8_point_description"),
               (("point-based", "yes", "yes"), "t3_point"))),
    TableSpec("table09_more_detectors", "Table IX: more detectors",
              ("detector", "proposal_method", "num_proposals"), AP,
              ((("Double-Head R-CNN", "RPN", "1000"), "det_double_head_rpn"),
               (("Double-Head R-CNN", "SC-RPN", "1000"), "det_double_head_sc_rpn"),
               (("Cascade R-CNN", "RPN", "1000"), "det_cascade_rcnn_rpn"),
               (("Cascade R-CNN", "SC-RPN", "1000"), "det_cascade_rcnn_sc_rpn"))),
    TableSpec("table10_proposals_imagenet_det", "Table X's role: a second dataset (DeepForest trees)",
              ("method",), (*AR, *AR_SIZES),
              ((("RPN",), "rpn"), (("GA-RPN",), None), (("Cascade RPN",), "cascade_rpn"),
               (("SC-RPN",), "sc_rpn")), all_seeds=True, dataset="deepforest"),
]}


def paper_table(name: str, paper_dir: str | Path = "results/paper") -> pd.DataFrame:
    """The paper's transcription, every column read as text (numbers converted on use)."""
    path = Path(paper_dir) / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the paper's table is missing (copy shared/paper/tables)")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def study_rows(spec: TableSpec) -> list[str]:
    """The distinct configs a table needs, in table order."""
    return list(dict.fromkeys(row for _, row in spec.rows if row is not None))


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _seeds_for(spec: TableSpec, study: Study) -> list[int]:
    seeds = list(study.seeds)
    return seeds if spec.all_seeds else seeds[:1]


def benchmark_times(spec: TableSpec, study: Study) -> dict[str, float]:
    """Inference seconds per image by config name, from the one-process benchmark
    (``scrpn bench``) named by ``spec.timing_file``; empty where the table has none or the file
    is missing. Times of separate training runs are taken at different moments on a shared
    machine, so a time column compares methods only when they were timed in one run (issue 4)."""
    if spec.timing_file is None:
        return {}
    path = Path(study.results_dir) / spec.timing_file
    if not path.is_file():
        return {}
    try:
        methods = json.loads(path.read_text(encoding="utf-8"))["methods"]
        return {name: float(m["infer_seconds_per_image"]) for name, m in methods.items()}
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a `scrpn bench` result ({err})") from err


def _ours(metric: str, row: Optional[str], records: list[dict], times: dict[str, float]) -> np.ndarray:
    if metric == "time_s" and times:
        return np.array([times[row]] if row in times else [], dtype=float)
    return np.array([_number(r.get(OUR_KEY.get(metric, metric))) for r in records], dtype=float)


def build_table(spec: TableSpec, study: Study, paper_dir: str | Path = "results/paper") -> pd.DataFrame:
    """Our numbers (training missing runs) beside the paper's, one line per paper row. With a
    ``timing_file`` the time column is that benchmark's single measurement (no spread)."""
    paper = paper_table(spec.name, paper_dir)
    times = benchmark_times(spec, study)
    if spec.dataset is not None and study.dataset != spec.dataset:
        study = dataclasses.replace(study, dataset=spec.dataset)
    seeds = _seeds_for(spec, study)
    lines = []
    for values, row in spec.rows:
        match = paper
        for key, value in zip(spec.keys, values):
            match = match[match[key] == value]
        if len(match) != 1:
            raise KeyError(f"{spec.name}: paper row {values} found {len(match)} times")
        records = study.runs([row], seeds) if row is not None else []
        pending = sum(1 for r in records if r.get("missing"))
        records = [r for r in records if not r.get("missing")]
        line = {key: value for key, value in zip(spec.keys, values)}
        line.update(config=row or "", seeds=len(records), pending=pending)
        for metric in spec.metrics:
            ours = _ours(metric, row, records, times)
            paper_value = _number(match.iloc[0][metric])
            mean = float(np.mean(ours)) if len(ours) else math.nan
            line[f"{metric}_paper"] = paper_value
            line[f"{metric}_mean"] = mean
            line[f"{metric}_std"] = float(np.std(ours, ddof=1)) if len(ours) > 1 else math.nan
            line[f"{metric}_diff"] = mean - paper_value
        lines.append(line)
    return pd.DataFrame(lines)


def write_table(frame: pd.DataFrame, spec: TableSpec, tables_dir: str | Path) -> Path:
    """Write ``<tables_dir>/<name>.csv`` (numbers to 3 decimals; atomic)."""
    path = Path(tables_dir) / f"{spec.name}.csv"
    return atomic_write_text(path, frame.to_csv(index=False, float_format="%.3f"))


def readable(frame: pd.DataFrame, spec: TableSpec, digits: int = 1) -> pd.DataFrame:
    """A compact view for notebooks: per metric ``paper``, ``ours`` ("mean ± std") and ``diff``."""
    out = frame[list(spec.keys)].copy()
    for metric in spec.metrics:
        mean, std = frame[f"{metric}_mean"], frame[f"{metric}_std"]
        scale = 1000.0 if metric == "time_s" else 1.0  # seconds per image shown in ms
        unit = " (ms)" if metric == "time_s" else ""
        out[f"{metric}{unit} paper"] = (frame[f"{metric}_paper"] * scale).round(digits)
        out[f"{metric}{unit} ours"] = [
            "" if math.isnan(m) else (f"{m * scale:.{digits}f}" if math.isnan(s)
                                      else f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}")
            for m, s in zip(mean, std)]
        if metric != "time_s":  # a CPU millisecond minus a GPU second means nothing
            out[f"{metric} diff"] = frame[f"{metric}_diff"].round(digits)
    out["seeds"] = frame["seeds"]
    if frame["pending"].any():
        out["pending"] = frame["pending"]
    return out


def make_table(name: str, study: Study, tables_dir: str | Path,
               paper_dir: str | Path = "results/paper") -> tuple[pd.DataFrame, Path]:
    """Build table ``name`` (training missing runs), write it, return (readable view, path)."""
    spec = TABLES[name]
    frame = build_table(spec, study, paper_dir)
    return readable(frame, spec), write_table(frame, spec, tables_dir)


def runs_summary(results_dir: str | Path = "results") -> pd.DataFrame:
    """Every committed run (``<results_dir>/runs/<name>/seed<k>/metrics.json``), one line each:
    name, seed, AR or AP, seconds of training and of the whole run, the process's CPU seconds and
    torch threads (older runs lack the last two: NaN), and the run's cost in machine and CPU
    seconds with the interrupted parts of a resumed run (:func:`scrpn.study.runs.run_cost`)."""
    keys = ("AR100", "AR300", "AR1000", "AR_S", "AR_M", "AR_L", "AP", "AP50", "AP75",
            "seconds_per_image", "train_seconds", "wall_seconds", "cpu_seconds", "torch_threads")
    lines = []
    for path in sorted(Path(results_dir, "runs").glob("*/seed*/metrics.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        cost_seconds, cost_cpu_seconds = run_cost(record)
        lines.append({"name": record.get("name", path.parent.parent.name), "seed": record.get("seed"),
                      **{k: record.get(k) for k in keys}, "cost_seconds": cost_seconds,
                      "cost_cpu_seconds": cost_cpu_seconds})
    return pd.DataFrame(lines, columns=["name", "seed", *keys, "cost_seconds", "cost_cpu_seconds"])


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (no index): the same bytes on every run, unlike a styled
    HTML table, whose ids are random."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
