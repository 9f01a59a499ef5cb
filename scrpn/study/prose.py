"""The notebooks' "what we see" paragraphs, written from the numbers of the table they follow.

A notebook that hard-codes "alignment costs 2.9 AR1000" goes stale the day a run changes. Here
every sentence is computed from the table frame that :func:`scrpn.study.tables.build_table`
returns (our seed means and sample sds beside the paper's values), so a re-run with other results
rewrites the sentences.

What is compared (:data:`COMPARISONS`): each table has a question shape. Table I and X compare
every method with RPN; Table III and IV add one component per row, so each row is compared with
the row before it; Table V compares each setting with the default; Tables VI and VII compare
scoring with the IoU mask against scoring without it (the same checkpoint), and each mask variant
against the network without a mask; Table VIII compares with the anchor-based row; the detector
tables compare SC-RPN with RPN under the same detector and number of proposals.

How a comparison is classified (:func:`classify`), the REPORT's conventions
(``scrpn.study.stats``): Δ is the difference of the two rows' seed means, se its standard error
sqrt(s_a²/n_a + s_b²/n_b); resolved when |Δ| >= 2.5 se.

* **reproduces**: resolved, same sign as the paper's Δ;
* **does not reproduce**: resolved, opposite sign; or the paper's Δ is 0 and ours is resolved;
* **no resolved change**: |Δ| < 2.5 se while the paper reports a change (the paper's claim is not
  confirmed; nor is its opposite);
* **one seed**: a side has one seed, so there is no se; only the signs are compared.

Where the REPORT pre-registered an experiment on a non-reproduction (:data:`CAUSES`, issue 18),
the paragraph names it and counts the experiment's runs that exist so far.
``tests/test_prose.py`` pins the classification on hand-made tables.

README's rendered blocks (:data:`README_BLOCKS`) and the REPORT's (:data:`REPORT_BLOCKS`: the "CPU
time" table, every committed run's machine and CPU hours per group of runs) are written by
``python -m scrpn.study.prose --readme``; ``tests/test_prose_numbers.py`` re-renders and compares.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import pandas as pd

from .experiments import REGISTRY
from .report import write_report
from .runs import CONVERGED, Study
from .stats import RESOLVED_SE, difference_se
from .tables import TABLES, TableSpec, build_table

__all__ = ["CAUSES", "COMPARISONS", "COST_GROUPS", "README_BLOCKS", "REPORT_BLOCKS", "Cause", "Comparison", "classify", "compact_table",
           "comparisons", "cost_group", "markdown_table", "pair_label", "readme_block", "report_block",
           "row_label", "what_we_see", "write_readme_blocks", "write_report_blocks"]


@dataclass(frozen=True)
class Comparison:
    label: str        # e.g. "+ alignment vs + two-stage"
    row: str          # our config of the row compared
    delta: float      # ours: mean(a) - mean(b)
    se: float         # NaN with one seed on a side
    paper: float      # the paper's Δ
    verdict: str      # see classify()

    def sentence(self, metric: str) -> str:
        se = "" if not math.isfinite(self.se) else f" [se {self.se:.1f}]"
        return (f"{self.label}: {metric} {self.delta:+.1f}{se} ours, {self.paper:+.1f} paper "
                f"-> **{self.verdict}**")


def classify(delta: float, se: float, paper: float) -> str:
    """The verdict of one comparison (module docstring); ``pending`` when ours is missing."""
    if not math.isfinite(delta):
        return "pending"
    if not math.isfinite(se):
        if paper == 0 or delta == 0:
            return "one seed"
        return "one seed, same sign as the paper" if (delta > 0) == (paper > 0) else \
            "one seed, opposite sign to the paper"
    resolved = abs(delta) >= RESOLVED_SE * se
    if not resolved:
        return "no resolved change" if paper != 0 else "reproduces"
    if paper == 0 or (delta > 0) != (paper > 0):
        return "does not reproduce"
    return "reproduces"


# How each table's rows are paired: (index of the row compared, index of its reference row).
Pairs = Callable[[TableSpec], list[tuple[int, int]]]


def _vs_first(spec: TableSpec) -> list[tuple[int, int]]:
    ours = [i for i, (_, row) in enumerate(spec.rows) if row is not None]
    return [(i, ours[0]) for i in ours[1:]]


def _steps(spec: TableSpec) -> list[tuple[int, int]]:
    return [(i, i - 1) for i in range(1, len(spec.rows))]


def _vs_row(config: str) -> Pairs:
    def pairs(spec: TableSpec) -> list[tuple[int, int]]:
        ref = next(i for i, (_, row) in enumerate(spec.rows) if row == config)
        return [(i, ref) for i, (_, row) in enumerate(spec.rows) if row is not None and i != ref]
    return pairs


def _sc_rpn_vs_rpn(spec: TableSpec) -> list[tuple[int, int]]:
    """Detector tables: SC-RPN against RPN under the same detector and number of proposals."""
    where = {(values[0], values[2]): i for i, (values, _) in enumerate(spec.rows) if values[1] == "RPN"}
    return [(i, where[(values[0], values[2])]) for i, (values, _) in enumerate(spec.rows)
            if values[1] == "SC-RPN" and (values[0], values[2]) in where]


def _iou_mask(spec: TableSpec) -> list[tuple[int, int]]:
    """Tables VI / VII: scored with the mask vs without it (same checkpoint), and each variant
    scored without the mask vs the network trained without a mask (same SADS setting)."""
    pairs, base = [], {}
    for i, (values, _) in enumerate(spec.rows):
        sads, variant, test = values
        if variant == "without IoU mask":
            base[sads] = i
        elif test == "yes":
            pairs.append((i, i - 1))
        else:
            pairs.append((i, base[sads]))
    return pairs


COMPARISONS: dict[str, Pairs] = {
    "table01_proposals_coco": _vs_first,
    "table02_detection_coco": _sc_rpn_vs_rpn,
    "table03_components": _steps,
    "table04_sads_combinations": _steps,
    "table05_sads_hyperparameters": _vs_row("t3_sads"),
    "table06_iou_mask_training_samples": _iou_mask,
    "table07_iou_mask_feature_map": _iou_mask,
    "table08_point_representation": _vs_first,
    "table09_more_detectors": _sc_rpn_vs_rpn,
    "table10_proposals_imagenet_det": _vs_first,
}


@dataclass(frozen=True)
class Cause:
    experiment: int               # the experiment's number in results/REPORT.md
    question: str

    @property
    def arms(self) -> tuple[str, ...]:
        """The rows the experiment trains or scores (its arms' ``cost_rows``, from the registry)."""
        return tuple(REGISTRY[self.experiment].registered_runs())


# The non-reproductions of the first study and the pre-registered experiment on each
# (results/REPORT.md, "Pre-registered: tracing each non-reproduction to a cause"), by table and row:
# each experiment's record names the (table, row) it traces (``Experiment.table_row``).
CAUSES: dict[tuple[str, str], Cause] = {e.table_row: Cause(n, e.question) for n, e in sorted(REGISTRY.items())
                                        if e.table_row is not None}


# How a row's key value reads in a sentence: a format, or a map from the table's value.
_KEY_WORDS: dict[str, object] = {
    "num_proposals": "{} proposals",
    "stage1_assigner": "{} in stage 1", "stage2_assigner": "{} in stage 2",
    "train_with_sads": {"yes": "with SADS", "no": "without SADS"},
    "iou_mask_training_samples": "IoU mask trained on {}",
    "iou_mask_feature_map": "IoU mask on the {}",
    "test_with_iou_mask": {"yes": "scored with the IoU mask", "no": "scored without it"},
    "point_alignment": {"yes": "point alignment", "no": "no point alignment"},
    "point_description": {"yes": "point description", "no": "no point description"},
}
_DEFAULTS = {"sigma": "0.2", "k": "9", "N": "2"}   # Table V: the paper's defaults (t3_sads)


def _word(key: str, value: str) -> str:
    rule = _KEY_WORDS.get(key)
    if value == "without IoU mask" or rule is None:
        return str(value)
    return rule.get(value, str(value)) if isinstance(rule, dict) else rule.format(value)


def row_label(spec: TableSpec, values: Sequence[str]) -> str:
    """One row of ``spec`` in words, e.g. "without SADS, IoU mask trained on regression samples,
    scored with the IoU mask" (Table VI); Table V: "k = 3"."""
    if spec.name == "table05_sads_hyperparameters":
        return f"{str(values[0]).split()[0]} = {values[1]}"
    return ", ".join(_word(k, v) for k, v in zip(spec.keys, values))


def pair_label(spec: TableSpec, a: Sequence[str], b: Sequence[str]) -> str:
    """A comparison in words: what differs ("A vs B"), then what the two rows share, in brackets,
    e.g. "SC-RPN vs RPN (Fast R-CNN, 1000 proposals)", "k = 3 vs k = 9 (the default)".
    ``tests/test_prose.py: test_comparison_labels_read_as_words`` pins them."""
    if spec.name == "table05_sads_hyperparameters":
        name = str(a[0]).split()[0]
        return f"{name} = {a[1]} vs {name} = {_DEFAULTS.get(name, b[1])} (the default)"
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    same = [i for i in range(len(a)) if i not in differ]
    first = ", ".join(_word(spec.keys[i], a[i]) for i in differ)
    second = ", ".join(_word(spec.keys[i], b[i]) for i in differ)
    shared = ", ".join(_word(spec.keys[i], a[i]) for i in same)
    return f"{first} vs {second}" + (f" ({shared})" if shared else "")


def comparisons(frame: pd.DataFrame, spec: TableSpec, metric: Optional[str] = None) -> list[Comparison]:
    """Every comparison of ``spec``'s table (``frame`` as ``build_table`` returns it)."""
    metric = metric or ("AP" if "AP" in spec.metrics else "AR1000")
    out = []
    for i, j in COMPARISONS[spec.name](spec):
        if spec.rows[i][1] == spec.rows[j][1]:
            continue   # Table V lists the default once per hyper-parameter: the same run
        a, b = frame.iloc[i], frame.iloc[j]
        delta = float(a[f"{metric}_mean"]) - float(b[f"{metric}_mean"])
        se = difference_se(float(a[f"{metric}_std"]), int(a["seeds"]),
                           float(b[f"{metric}_std"]), int(b["seeds"]))
        paper = float(a[f"{metric}_paper"]) - float(b[f"{metric}_paper"])
        if not math.isfinite(paper):
            continue  # the paper gives no number for one side
        paper = round(paper, 6)
        label = pair_label(spec, spec.rows[i][0], spec.rows[j][0])
        out.append(Comparison(label, spec.rows[i][1] or "", delta, se, paper,
                              classify(delta, se, paper)))
    return out


def what_we_see(frame: pd.DataFrame, name: str, cause_runs: Optional[Callable[[str], int]] = None,
                seeds: int = 3, cause_verdicts: Optional[Callable[[], Mapping[int, str]]] = None) -> str:
    """Markdown: one bullet per comparison, grouped by verdict, then the causes under test.

    ``cause_runs(row)`` counts the cached seeds of a row (the notebook passes the study's); a
    cause's progress line is left out without it. ``cause_verdicts()`` maps an experiment's number
    to its verdict (``scrpn.study.experiments.experiment_verdicts``); it is called only when the
    table has a cause to show, and a verdict other than "pending" is written after the
    experiment's progress.
    """
    spec = TABLES[name]
    found = comparisons(frame, spec)
    metric = "AP" if "AP" in spec.metrics else "AR1000"
    lines = [f"#### What we see ({metric}; Δ of seed means, se of the difference, "
             f"resolved at {RESOLVED_SE:g} se)", ""]
    if not found:
        return "\n".join(lines + ["No comparison has results yet."])
    order = ("reproduces", "does not reproduce", "no resolved change", "one seed, same sign as the paper",
             "one seed, opposite sign to the paper", "one seed", "pending")
    counts = {v: sum(c.verdict == v for c in found) for v in order}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    lines += [f"{len(found)} comparisons: {summary}.", ""]
    for verdict in order:
        for c in (c for c in found if c.verdict == verdict):
            lines.append(f"- {c.sentence(metric)}")
    failed = [c for c in found if c.verdict in ("does not reproduce", "no resolved change")]
    causes = [(c, CAUSES[(name, c.row)]) for c in failed if (name, c.row) in CAUSES]
    if causes:
        verdicts = cause_verdicts() if cause_verdicts is not None else {}
        lines += ["", "**Why, under test.** Each non-reproduction below has a pre-registered experiment "
                      "in `results/REPORT.md` (\"Pre-registered: tracing each non-reproduction to a "
                      "cause\"); its verdict is read off the registered rule once its runs exist.", ""]
        for c, cause in causes:
            verdict = verdicts.get(cause.experiment, "pending")
            progress = ""
            if cause_runs is not None and cause.arms:
                registered = REGISTRY[cause.experiment].registered_runs(verdict)
                wanted = {row: min(n, seeds) for row, n in registered.items()}
                done = sum(min(cause_runs(row), n) for row, n in wanted.items())
                progress = (f" Runs so far: {done} of the {sum(wanted.values())} (row, seed) pairs "
                            f"it registered.")
            if verdict != "pending":
                progress += f" Verdict, read off the registered rule: **{verdict}**."
            lines.append(f"- `{c.row}`: experiment {cause.experiment}, {cause.question}.{progress}")
    return "\n".join(lines)


HEADLINE = {"AR": ("AR100", "AR1000", "AR_S"), "AP": ("AP", "AP50", "AP_S")}


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (no index): the same bytes on every run, unlike a styled
    HTML table, whose ids are random."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def compact_table(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The table a reader needs, from the frame ``build_table`` returns: one line per row with a
    config of ours: the row in words, our headline metrics ("mean ± sd", AR100 / AR1000 / AR_S or
    AP / AP50 / AP_S, those the table has), the paper's value of the main metric, and the change
    against the row it is compared with (:data:`COMPARISONS`), ours with its standard error in
    brackets beside the paper's. The full table (every metric, paper, diff) is the CSV."""
    spec = TABLES[name]
    main = "AP" if "AP" in spec.metrics else "AR1000"
    shown = [m for m in HEADLINE["AP" if main == "AP" else "AR"] if m in spec.metrics]
    against = {i: j for i, j in COMPARISONS[name](spec)}
    found = {c.label: c for c in comparisons(frame, spec)}
    lines = []
    for i, (values, config) in enumerate(spec.rows):
        if config is None:
            continue
        row = frame.iloc[i]
        line = {"row": row_label(spec, values), "config": config, "seeds": int(row["seeds"])}
        for metric in shown:
            mean, std = float(row[f"{metric}_mean"]), float(row[f"{metric}_std"])
            line[metric] = ("pending" if not math.isfinite(mean) else
                            f"{mean:.1f}" + (f" ± {std:.1f}" if math.isfinite(std) else ""))
        paper = float(row[f"{main}_paper"])
        line[f"{main} paper"] = f"{paper:.1f}" if math.isfinite(paper) else ""
        j = against.get(i)
        c = None if j is None else found.get(pair_label(spec, values, spec.rows[j][0]))
        if c is None or not math.isfinite(c.delta):
            line[f"Δ {main} ours [se]"], line["Δ paper"], line["compared with"] = "", "", ""
        else:
            se = f" [{c.se:.1f}]" if math.isfinite(c.se) else ""
            line[f"Δ {main} ours [se]"] = f"{c.delta:+.1f}{se}"
            line["Δ paper"] = f"{c.paper:+.1f}"
            line["compared with"] = c.label.split(" vs ", 1)[1]
        lines.append(line)
    return pd.DataFrame(lines)


# ---------------------------------------------------------------------------------- README
README_BLOCKS = ("found", "results-mini", "cost")
NOTEBOOK_OF = {"table01_proposals_coco": "01", "table02_detection_coco": "02", "table03_components": "03",
               "table04_sads_combinations": "04", "table05_sads_hyperparameters": "05",
               "table06_iou_mask_training_samples": "06", "table07_iou_mask_feature_map": "06",
               "table08_point_representation": "07", "table09_more_detectors": "02",
               "table10_proposals_imagenet_det": "08"}
_ORDER = ("reproduces", "does not reproduce", "no resolved change", "one seed, same sign as the paper",
          "one seed, opposite sign to the paper", "one seed", "pending")


def _found(tables_dir: Path) -> dict[str, list[Comparison]]:
    out = {}
    for name, spec in TABLES.items():
        path = Path(tables_dir) / f"{name}.csv"
        if path.is_file():
            out[name] = comparisons(pd.read_csv(path), spec)
    return out


def _short(c: Comparison, metric: str = "AR1000") -> str:
    se = f" [{c.se:.1f}]" if math.isfinite(c.se) else ""
    return f"{c.delta:+.1f}{se} {metric}, paper {c.paper:+.1f}"


TABLE_I = "table01_proposals_coco"


def _table1_at_s(tables_dir: Path, config_root: str | Path) -> Optional[tuple[str, pd.DataFrame]]:
    """(S*'s rung, Table I at S* as :func:`build_table` returns it) from the committed runs
    (``tables_dir``'s parent) at experiment 10's ``converged`` profile, seeds 0-2; None while S*
    is not chosen or none of its Table I runs exists. Reads cached runs only, trains nothing."""
    from .schedules import chosen_rung, profile_study

    rung = chosen_rung(config_root)
    if rung is None:
        return None
    results = Path(tables_dir).parent
    study = profile_study(Study(seeds=(0, 1, 2), results_dir=results, config_root=config_root), CONVERGED)
    frame = build_table(TABLES[TABLE_I], study, results / "paper")
    return (rung, frame) if int(frame["seeds"].sum()) > 0 else None


def _at_s(c: Optional[Comparison]) -> str:
    if c is None or not math.isfinite(c.delta):
        return "pending"
    return f"{_short(c)}, **{c.verdict}**"


def _what_we_found(tables_dir: Path, config_root: str | Path = "configs") -> str:
    """Five lines under README's title, every number read from the tables' CSVs. Once Table I at
    experiment 10's converged schedule S* has runs, its two lines lead with S* (the study's best
    estimate) and give the mini numbers beside them (``tests/test_schedules.py``)."""
    found = _found(tables_dir)
    t1 = {c.row: c for c in found.get(TABLE_I, [])}
    at_s = _table1_at_s(tables_dir, config_root)
    lines = []
    if at_s is None:
        if "sc_rpn" in t1:
            c = t1["sc_rpn"]
            lines.append(f"- **SC-RPN beats RPN**, as in the paper: {_short(c)} (Table I, three seeds; "
                         f"**{c.verdict}**).")
        peers = [t1[r] for r in ("iterative_rpn", "cascade_rpn", "ga_rpn") if r in t1]
        if peers:
            lines.append("- **The peers against RPN** (Table I): " + "; ".join(
                f"{c.label.split(' vs ')[0]} {_short(c)}, **{c.verdict}**" for c in peers) + ".")
    else:
        rung, frame = at_s
        s1 = {c.row: c for c in comparisons(frame, TABLES[TABLE_I])}
        seeds = dict(zip(frame["config"], frame["seeds"]))
        if "sc_rpn" in t1:
            c, n = t1["sc_rpn"], min(int(seeds.get("sc_rpn", 0)), int(seeds.get("rpn", 0)))
            lines.append(f"- **SC-RPN against RPN at the converged schedule S\\* = {rung}** (Table I, experiment "
                         f"10; {n} seed{'s' * (n != 1)}): {_at_s(s1.get('sc_rpn'))}; at the mini schedule "
                         f"(three seeds): {_short(c)}, **{c.verdict}**.")
        peers = [t1[r] for r in ("iterative_rpn", "cascade_rpn", "ga_rpn") if r in t1]
        if peers:
            lines.append(f"- **The peers against RPN** (Table I at S\\* = {rung}, the mini schedule beside each): " + "; ".join(
                f"{c.label.split(' vs ')[0]} {_at_s(s1.get(c.row))} (mini {_short(c)}, **{c.verdict}**)"
                for c in peers) + ".")
    parts = [c for name in ("table03_components", "table04_sads_combinations") for c in found.get(name, [])]
    if parts:
        best = max(parts, key=lambda c: c.delta)
        failed = [c for c in parts if c.verdict in ("does not reproduce", "no resolved change")]
        lines.append(f"- **Components** (Tables III and IV, three seeds): {sum(c.verdict == 'reproduces' for c in parts)} "
                     f"of {len(parts)} steps reproduce; the largest is {best.label.split(' vs ')[0]} "
                     f"({_short(best)}); not reproduced: "
                     + "; ".join(f"{c.label.split(' vs ')[0]} ({_short(c)})" for c in failed) + ".")
    det = [c for name in ("table02_detection_coco", "table09_more_detectors") for c in found.get(name, [])]
    if det:
        same = sum(c.delta > 0 for c in det)
        lines.append(f"- **Detectors** (Tables II and IX, one seed each): SC-RPN's proposals give more AP than "
                     f"RPN's in {same} of {len(det)} settings, by {min(c.delta for c in det):+.1f} to "
                     f"{max(c.delta for c in det):+.1f} AP (paper {min(c.paper for c in det):+.1f} to "
                     f"{max(c.paper for c in det):+.1f}).")
    t10 = {c.row: c for c in found.get("table10_proposals_imagenet_det", [])}
    if "sc_rpn" in t10:
        c = t10["sc_rpn"]
        lines.append(f"- **A second dataset** (DeepForest's tree crowns in Table X's role, three seeds): "
                     f"SC-RPN against RPN {_short(c)} (the paper's on ImageNet DET), **{c.verdict}**.")
    return "\n".join(lines)


def _mean_sd(row: Any, metric: str) -> str:
    mean, std = float(row[f"{metric}_mean"]), float(row[f"{metric}_std"])
    return "pending" if not math.isfinite(mean) else f"{mean:.1f}" + (f" ± {std:.1f}" if math.isfinite(std) else "")


MINI_AR1000 = "AR1000 at mini (seeds)"


def _table1_view(frame: pd.DataFrame, mini: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Table I (a :func:`build_table` frame) as README shows it: one line per method of ours
    ("mean ± sd", "pending"), then the paper's RPN and SC-RPN. With ``mini`` (Table I at the
    mini schedule, ``frame`` being S*'s): one more column, the mini AR1000 and its seed count."""
    metrics = ("AR100", "AR300", "AR1000", "AR_S", "AR_M", "AR_L")
    at_mini = {} if mini is None else {r["config"]: r for _, r in mini.iterrows() if str(r["config"]) != "nan"}
    rows = []
    for _, row in frame[frame["config"].fillna("") != ""].iterrows():
        cells = {"method (config)": f"{row['method']} (`{row['config']}`)", "seeds": int(row["seeds"]),
                 **{m: _mean_sd(row, m) for m in metrics}}
        if mini is not None:
            other = at_mini.get(row["config"])
            cells[MINI_AR1000] = "" if other is None else f"{_mean_sd(other, 'AR1000')} ({int(other['seeds'])})"
        rows.append(cells)
    paper = {r["method"]: r for _, r in frame.iterrows()}
    if "RPN" in paper and "SC-RPN" in paper:
        both = {m: f"{float(paper['RPN'][f'{m}_paper']):.1f} / {float(paper['SC-RPN'][f'{m}_paper']):.1f}"
                for m in metrics}
        rows.append({"method (config)": "paper, COCO, ResNet50-FPN: RPN / SC-RPN", "seeds": "", **both,
                     **({} if mini is None else {MINI_AR1000: both["AR1000"]})})
    return pd.DataFrame(rows)


def _results(tables_dir: Path, config_root: str | Path = "configs") -> str:
    """README's results block: Table I as measured, the paper's RPN and SC-RPN, and every table's
    comparisons counted by verdict, each with the notebook that shows it. Once Table I at
    experiment 10's S* has runs, the table is S*'s (the study's best estimate) with the mini
    AR1000 as its last column (``tests/test_schedules.py``)."""
    frame = pd.read_csv(Path(tables_dir) / f"{TABLE_I}.csv")
    at_s = _table1_at_s(tables_dir, config_root)
    if at_s is None:
        table = ("Table I on SynthShapes val (500 images), mean ± sample standard deviation over the seeds "
                 "(COCOeval-identical AR):\n\n" + markdown_table(_table1_view(frame)))
    else:
        table = (f"Table I on SynthShapes val (500 images) at experiment 10's converged schedule S\\* = "
                 f"{at_s[0]} (the mini schedule's iterations times {at_s[0][:-1]}; the study's best estimate), "
                 "mean ± sample standard deviation over the seeds (COCOeval-identical AR), the mini "
                 "schedule's AR1000 beside it:\n\n" + markdown_table(_table1_view(at_s[1], frame)))
    verdicts = []
    for name, found in _found(tables_dir).items():
        counts = {v: sum(c.verdict == v for c in found) for v in _ORDER}
        verdicts.append({"table": TABLES[name].title, "notebook": NOTEBOOK_OF.get(name, ""),
                         "comparisons": len(found),
                         **{v: counts[v] for v in _ORDER[:5]}})
    return (table + "\n\nEvery comparison of every table, counted by verdict (resolved: |Δ| >= "
            f"{RESOLVED_SE:g} standard errors of the difference; one seed: signs only):\n\n"
            + markdown_table(pd.DataFrame(verdicts)))


def readme_block(name: str, tables_dir: str | Path = "results/tables", config_root: str | Path = "configs") -> str:
    """The text of README's ``<!-- name-start -->`` block, rendered from the tables' CSVs (and
    Table I at experiment 10's S* from the committed runs, once S* is chosen and they exist)."""
    if name == "found":
        return _what_we_found(Path(tables_dir), config_root)
    if name == "results-mini":
        return _results(Path(tables_dir), config_root)
    if name == "cost":
        return _cost_line(Path(tables_dir).parent)
    raise KeyError(name)


def write_readme_blocks(readme: str | Path = "README.md", tables_dir: str | Path = "results/tables") -> None:
    """Rewrite README's rendered blocks in place (``python -m scrpn.study.prose --readme``)."""
    _write_blocks(Path(readme), README_BLOCKS, lambda name: readme_block(name, tables_dir))


# ---------------------------------------------------------------------------------- REPORT
REPORT_BLOCKS = ("cost", "converged")
BF16_PREFIX = "bf16_"


def cost_group(run: str, table_runs: set[str], cause_runs: set[str]) -> str:
    """The CPU-time table's group of a committed run directory ``results/runs/<run>``, by name, first
    match wins: ``s<rung>_*`` experiment 10 (issue 38); ``bf16_*`` issue 37; a row that one of
    experiments 1-9 added (:attr:`Arm.cost_rows`, as ``causes.csv`` counts it: Table X's corrected
    DeepForest rows included) issue 18; a row of the paper's tables (:data:`TABLES`) the study;
    anything else (superseded first-study rows kept under a ``diag_*`` name, diagnostics) "other".
    ``tests/test_prose_numbers.py::test_cost_groups`` pins it on hand-picked names."""
    from .runs import SCHEDULE_RUNGS

    if any(run.startswith(f"s{rung}_") for rung in SCHEDULE_RUNGS):
        return "converged"
    if run.startswith(BF16_PREFIX):
        return "bf16"
    if run in cause_runs:
        return "causes"
    if run in table_runs:
        return "tables"
    return "other"


COST_GROUPS = {
    "tables": "the paper's Tables I-X, their rows as committed now (rows retrained after a verdict of "
              "issue 18 included, except those below)",
    "causes": "issue 18's cause experiments 1-9 (`x*`, `sc_rpn_notest`, `ga_rpn_nofilter`, ...; and Table X's "
              "DeepForest rows that experiment 9 retrained; per arm in `results/tables/causes.csv`)",
    "other": "superseded first-study rows kept under a `diag_*` name, and diagnostics outside the tables",
    "bf16": "issue 37's bfloat16 rows (`bf16_*`)",
    "converged": "issue 38's converged regime (experiment 10, `s<n>x_*`)",
}


def _run_names() -> tuple[set[str], set[str]]:
    """(run names of the paper's tables' rows, run names the cause experiments 1-9 added)."""
    from .experiments import all_arms

    def name(row: str, dataset: Optional[str]) -> str:
        return row if dataset in (None, "synthshapes") else f"{dataset}_{row}"

    tables = {name(row, spec.dataset) for spec in TABLES.values() for _, row in spec.rows if row}
    causes = {name(row, arm.dataset or REGISTRY[arm.experiment].dataset)
              for arm in all_arms() if arm.experiment != 10 and arm.profile is None for row in arm.cost_rows}
    return tables, causes


def _cost(results_dir: Path) -> str:
    """REPORT's "CPU time" table: every committed run's machine and CPU hours
    (:func:`scrpn.study.tables.runs_summary`, :func:`scrpn.study.runs.run_cost`), per
    :func:`cost_group`, and the detector rows' minutes per run."""
    from .tables import runs_summary

    summary = runs_summary(results_dir)
    if summary.empty:
        return "No committed runs."
    # the run directories in runs_summary's order (its ``name`` is the record's row, not the directory)
    summary["run"] = [p.parent.parent.name for p in sorted(Path(results_dir, "runs").glob("*/seed*/metrics.json"))]
    tables, causes = _run_names()
    summary["group"] = [cost_group(run, tables, causes) for run in summary["run"]]
    rows = []

    def line(label: str, part: pd.DataFrame) -> dict:
        unrecorded = part["cpu_seconds"].isna()
        return {"what": label, "runs": len(part), "machine hours (wall)": f"{part.cost_seconds.sum() / 3600:.1f}",
                "CPU-hours (recorded)": f"{part.cost_cpu_seconds.sum() / 3600:.1f}",
                "runs without a CPU record (their machine hours)":
                    f"{int(unrecorded.sum())} ({part.cost_seconds[unrecorded].sum() / 3600:.1f})"}

    for key, label in COST_GROUPS.items():
        part = summary[summary["group"] == key]
        if len(part):
            rows.append(line(label, part))
    total = line("**in all**", summary)
    rows.append({k: (v if k == "what" else f"**{v}**") for k, v in total.items()})
    detectors = summary[summary["run"].str.startswith(("det_double_head_", "det_cascade_rcnn_"))]
    minutes = (f" A Double-Head or Cascade R-CNN detector row took {detectors.cost_seconds.min() / 60:.0f}-"
               f"{detectors.cost_seconds.max() / 60:.0f} minutes." if len(detectors) else "")
    return (markdown_table(pd.DataFrame(rows)) + "\n\n"
            f"{len(summary)} committed runs in `results/runs/` ({summary['run'].nunique()} rows). A run without a "
            "CPU record predates the trainer's CPU count and counts 0 CPU-hours here; at most it used both "
            "cores for its wall time." + minutes)


def _cost_line(results_dir: Path) -> str:
    """README's one line on cost: a Table row's run in minutes (median and range) and the whole
    study's hours, from the runs' records (:func:`_cost`'s groups)."""
    from .tables import runs_summary

    summary = runs_summary(results_dir)
    if summary.empty:
        return "No committed runs yet."
    summary["run"] = [p.parent.parent.name for p in sorted(Path(results_dir, "runs").glob("*/seed*/metrics.json"))]
    tables, causes = _run_names()
    rows = summary[[cost_group(run, tables, causes) == "tables" for run in summary["run"]]].cost_seconds / 60
    return (f"A run of one of the paper's tables' rows took {rows.median():.0f} minutes of wall time on the "
            f"2-core machine (median over {len(rows)} runs; {rows.min():.0f} to {rows.max():.0f}); the "
            f"{len(summary)} committed runs took {summary.cost_seconds.sum() / 3600:.1f} machine hours in all.")


def _converged(results_dir: Path, config_root: str | Path = "configs") -> str:
    """REPORT's experiment 10 block (issue 38): phase 1's curve and S*, Table I at S* beside the
    mini AR1000, then each claim's mini and S* verdicts (Δ [se]) and whether it is
    schedule-robust, all read by the registered rules from the committed runs (pending where a
    claim's rows lack their seeds); nothing trains."""
    from .experiments import REGISTRY, experiment_runs
    from .experiments.e10_converged import report_sections

    study = Study(profile="mini", seeds=(0, 1, 2), results_dir=results_dir, config_root=config_root,
                  train_missing=False, log=lambda message: None)
    experiment = REGISTRY[10]
    parts = report_sections(experiment_runs(study)(experiment))
    at_s = _table1_at_s(results_dir / "tables", config_root)
    table = ("Table I at S\\* has no run yet." if at_s is None else
             f"**Table I at S\\* = {at_s[0]}** (SynthShapes val, mean ± sample sd over the seeds so far; "
             "the mini schedule's AR1000 in the last column):\n\n"
             + markdown_table(_table1_view(at_s[1], pd.read_csv(results_dir / "tables" / f"{TABLE_I}.csv"))))
    return "\n".join([
        "**Phase 1, the learning curve** (seed 0's AR1000 at each rung; 1x is the mini run; figure "
        "`results/figures/learning_curve_10.png`):", "", *parts["curve"], "", table, "",
        f"**Each claim, at mini and at S\\*** (Δ [se] over seeds 0-2, resolved at {RESOLVED_SE:g} se; a claim "
        "reads pending until both its rows have their seeds at the rung):", "", *parts["claims"], "",
        *parts["verdict"]])


def report_block(name: str, results_dir: str | Path = "results") -> str:
    """The text of REPORT's ``<!-- name-start -->`` block, rendered from the committed runs."""
    if name == "cost":
        return _cost(Path(results_dir))
    if name == "converged":
        return _converged(Path(results_dir), Path(results_dir).parent / "configs")
    raise KeyError(name)


def _write_blocks(path: Path, names: Sequence[str], render: Callable[[str], str]) -> None:
    text = path.read_text(encoding="utf-8")
    for name in names:
        start, end = f"<!-- {name}-start -->\n", f"<!-- {name}-end -->"
        if start not in text or end not in text:
            raise ValueError(f"{path}: no <!-- {name}-start --> ... <!-- {name}-end --> block")
        head, rest = text.split(start, 1)
        text = head + start + render(name) + "\n" + end + rest.split(end, 1)[1]
    path.write_text(text, encoding="utf-8")


def write_report_blocks(report: str | Path = "results/REPORT.md", results_dir: str | Path = "results") -> None:
    """Render the whole REPORT from its sources (``results/report/``, :mod:`scrpn.study.report`), its
    rendered blocks included (``python -m scrpn.study.prose --readme``)."""
    root = Path(results_dir).resolve().parent
    written = write_report(root, {"block": lambda name: report_block(name, results_dir)})
    if written.resolve() != Path(report).resolve():
        raise ValueError(f"{report}: the REPORT is written to {written}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--readme"]:
        raise SystemExit("usage: python -m scrpn.study.prose --readme   (rewrites the rendered blocks of README.md "
                         "and results/REPORT.md)")
    write_readme_blocks()
    write_report_blocks()
