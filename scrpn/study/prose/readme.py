"""README's rendered blocks, written from the tables' CSVs and the committed runs: "What we found"
(five lines, each a table's verdicts), the results block (Table I, at S* once experiment 10 has
runs there, and every table's comparisons counted by verdict) and the cost line.
``python -m scrpn.study.prose --readme`` writes them; ``tests/test_prose_numbers.py`` and
``tests/test_schedules.py`` re-render and compare."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import pandas as pd

from ..report.cost import cost_line
from ..runs import Study
from ..stats import RESOLVED_SE
from ..tables import TABLES
from .comparisons import Comparison, comparisons, markdown_table
from .table1 import TABLE_I, table1_at_s, table1_view

__all__ = ["NOTEBOOK_OF", "README_BLOCKS", "readme_block", "write_blocks", "write_readme_blocks"]

README_BLOCKS = ("found", "results-mini", "cost")
NOTEBOOK_OF = {"table01_proposals_coco": "01", "table02_detection_coco": "02", "table03_components": "03",
               "table04_sads_combinations": "04", "table05_sads_hyperparameters": "05",
               "table06_iou_mask_training_samples": "06", "table07_iou_mask_feature_map": "06",
               "table08_point_representation": "07", "table09_more_detectors": "02",
               "table10_proposals_imagenet_det": "08"}
COMPONENT_TABLES = ("table03_components", "table04_sads_combinations")
_ORDER = ("reproduces", "does not reproduce", "no resolved change", "one seed, same sign as the paper",
          "one seed, opposite sign to the paper", "one seed", "pending")


def _found(tables_dir: Path) -> dict[str, list[Comparison]]:
    out = {}
    for name, spec in TABLES.items():
        path = Path(tables_dir) / f"{name}.csv"
        if path.is_file():
            out[name] = comparisons(pd.read_csv(path), spec)
    return out


def _delta(c: Comparison) -> str:
    se = f" [{c.se:.1f}]" if math.isfinite(c.se) else ""
    return f"{c.delta:+.1f}{se}"


def _short(c: Comparison, metric: str = "AR1000") -> str:
    return f"{_delta(c)} {metric}, paper {c.paper:+.1f}"


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
    at_s = table1_at_s(tables_dir, config_root)
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
    at_rung = _components_at_rung(Path(tables_dir), config_root)
    if at_rung is not None:
        lines.append(at_rung)
    parts = [c for name in COMPONENT_TABLES for c in found.get(name, [])]
    if parts:
        best = max(parts, key=lambda c: c.delta)
        failed = [c for c in parts if c.verdict in ("does not reproduce", "no resolved change")]
        title = "Components" if at_rung is None else "Components at the mini schedule"
        lines.append(f"- **{title}** (Tables III and IV, three seeds): {sum(c.verdict == 'reproduces' for c in parts)} "
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


def _complete(frame: pd.DataFrame, seeds: int) -> pd.DataFrame:
    """``frame`` (a :func:`build_table` frame) with the means of rows that lack some of their
    ``seeds`` blanked: a step is read at a rung once both its rows have all their seeds."""
    frame = frame.copy()
    short = frame["seeds"].astype(int) < seeds
    for column in (c for c in frame.columns if c.endswith("_mean")):
        frame.loc[short, column] = math.nan
    return frame


def _components_at_rung(tables_dir: Path, config_root: str | Path = "configs") -> Optional[str]:
    """README's lead line on the components once experiment 10 reads some at its rung: each step
    of Tables III and IV whose two rows have all three seeds at the rung the experiment reads
    those tables at (``e10_converged.table_rung``: 4x when S* = 8x), classified as every
    table's steps are (:func:`~.comparisons.classify`), with the mini schedule's step beside it;
    None while S* is not chosen or no step is complete there. Reads cached runs only
    (``tests/test_schedules.py``)."""
    from ..experiments.e10_converged import table_rung
    from ..schedules import chosen_rung, schedule_frames

    s_star = chosen_rung(config_root)
    if s_star is None:
        return None
    results = Path(tables_dir).parent
    study = Study(seeds=(0, 1, 2), results_dir=results, config_root=config_root, train_missing=False,
                  log=lambda message: None)
    rung, profile = table_rung(COMPONENT_TABLES[0], s_star)
    read, total = [], 0
    for name in COMPONENT_TABLES:
        mini, at = schedule_frames(name, study, profile, results / "paper")
        if at is None:
            continue
        before = {c.label: c for c in comparisons(mini, TABLES[name])}
        steps = comparisons(_complete(at, len(study.seeds)), TABLES[name])
        total += len(steps)
        read += [(c, before.get(c.label)) for c in steps if math.isfinite(c.delta)]
    if not read:
        return None

    def mini_step(c: Optional[Comparison]) -> str:
        return "mini pending" if c is None or not math.isfinite(c.delta) else f"mini {_delta(c)}, **{c.verdict}**"

    return (f"- **Components at {rung}** (Tables III and IV at experiment 10's phase-3 rung, S\\* = {s_star}; "
            f"the {len(read)} of {total} steps whose two rows have three seeds there so far, the mini schedule "
            "beside each): " + "; ".join(f"{c.label.split(' vs ')[0]} {_short(c)}, **{c.verdict}** ({mini_step(m)})"
                                         for c, m in read) + ".")


def _results(tables_dir: Path, config_root: str | Path = "configs") -> str:
    """README's results block: Table I as measured, the paper's RPN and SC-RPN, and every table's
    comparisons counted by verdict, each with the notebook that shows it. Once Table I at
    experiment 10's S* has runs, the table is S*'s (the study's best estimate) with the mini
    AR1000 as its last column (``tests/test_schedules.py``)."""
    frame = pd.read_csv(Path(tables_dir) / f"{TABLE_I}.csv")
    at_s = table1_at_s(tables_dir, config_root)
    if at_s is None:
        table = ("Table I on SynthShapes val (500 images), mean ± sample standard deviation over the seeds "
                 "(COCOeval-identical AR):\n\n" + markdown_table(table1_view(frame)))
    else:
        table = (f"Table I on SynthShapes val (500 images) at experiment 10's converged schedule S\\* = "
                 f"{at_s[0]} (the mini schedule's iterations times {at_s[0][:-1]}; the study's best estimate), "
                 "mean ± sample standard deviation over the seeds (COCOeval-identical AR), the mini "
                 "schedule's AR1000 beside it:\n\n" + markdown_table(table1_view(at_s[1], frame)))
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
        return cost_line(Path(tables_dir).parent)
    raise KeyError(name)


def write_readme_blocks(readme: str | Path = "README.md", tables_dir: str | Path = "results/tables") -> None:
    """Rewrite README's rendered blocks in place (``python -m scrpn.study.prose --readme``)."""
    write_blocks(Path(readme), README_BLOCKS, lambda name: readme_block(name, tables_dir))


def write_blocks(path: Path, names: Sequence[str], render: Callable[[str], str]) -> None:
    text = path.read_text(encoding="utf-8")
    for name in names:
        start, end = f"<!-- {name}-start -->\n", f"<!-- {name}-end -->"
        if start not in text or end not in text:
            raise ValueError(f"{path}: no <!-- {name}-start --> ... <!-- {name}-end --> block")
        head, rest = text.split(start, 1)
        text = head + start + render(name) + "\n" + end + rest.split(end, 1)[1]
    path.write_text(text, encoding="utf-8")
