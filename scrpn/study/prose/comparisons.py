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

README's rendered blocks are :mod:`.readme`'s, the REPORT's :mod:`scrpn.study.report.blocks`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import pandas as pd

from ..experiments import REGISTRY
from ..stats import RESOLVED_SE, difference_se
from ..tables import TABLES, TableSpec, markdown_table

__all__ = ["CAUSES", "COMPARISONS", "Cause", "Comparison", "HEADLINE", "classify", "compact_table", "comparisons",
           "markdown_table", "pair_label", "row_label", "what_we_see"]



@dataclass(frozen=True)
class Comparison:
    label: str        # e.g. "+ alignment vs + two-stage"
    row: str          # our config of the row compared
    delta: float      # ours: mean(a) - mean(b)
    se: float         # NaN with one seed on a side
    paper: float      # the paper's Δ
    verdict: str      # see classify()

    def sentence(self, metric: str) -> str:
        if not math.isfinite(self.delta):   # a side not trained yet (a rung's table while it trains)
            return f"{self.label}: {metric} not trained yet ours, {self.paper:+.1f} paper -> **{self.verdict}**"
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
