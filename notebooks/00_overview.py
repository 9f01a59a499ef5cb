# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Overview: the study, its data and its rows
#
# What this reproduction runs, on which data, and which results are cached. Run the notebooks in order (`scrpn reproduce` does it); each one trains the rows it needs that have no cached result under `results/runs/<row>/seed<k>/` and reuses the others.

# %% tags=["parameters"]
# Parameters (papermill): profile smoke | mini | full; retrain=False reuses cached results.
profile = "mini"
retrain = False
seeds = [0, 1, 2]
dataset = "synthshapes"
results_dir = "results"
train_missing = True  # False: show cached runs only, train nothing (missing rows are "pending")

# %%
# %matplotlib inline
from IPython.display import display

from scrpn.study.notebooks import setup
from scrpn.viz import figures as F

session = setup(profile=profile, retrain=retrain, seeds=seeds, dataset=dataset, results_dir=results_dir,
                train_missing=train_missing)
study, show_table, show_figure, ready = session.study, session.show_table, session.show_figure, session.ready
session.show_setting()

# %% [markdown]
# ## The embedded data
# SynthShapes (procedural, COCO format) is the default dataset; its card below is computed from the validation split actually used. Table X's role, a second dataset, is played by real aerial tree crowns from the `deepforest` wheel.

# %%
from scrpn.data.stats import dataset_card, format_card
from scrpn.engine.builders import build_val_dataset

cfg = study.config("sc_rpn")
val = build_val_dataset(cfg)
print(format_card(dataset_card(val.ann_file, base_scale=cfg.level_base_scale)))

# %% [markdown]
# ## The rows and their cached results
#
# Every run of Tables I-X, and whether its result is cached under `results/runs/` (a cached run
# whose config changed since counts as missing and is retrained by `scrpn reproduce`).

# %%
import dataclasses

import pandas as pd
from scrpn.study.tables import TABLES, study_rows

rows = []
for name, spec in TABLES.items():
    for row in study_rows(spec):
        for seed in (study.seeds if spec.all_seeds else study.seeds[:1]):
            sub = study if spec.dataset is None else dataclasses.replace(study, dataset=spec.dataset)
            rec = sub.cached(row, seed)
            rows.append({"table": name, "row": sub.run_name(row), "seed": seed,
                         "cached": rec is not None})
status = pd.DataFrame(rows).drop_duplicates(["row", "seed"])
missing = status[~status.cached]
print(f"Tables I-X: {status.cached.sum()} of {len(status)} runs cached"
      + (f"; missing: {', '.join(missing.row + ' seed ' + missing.seed.astype(str))}" if len(missing) else
         ", none missing"))
display(status.groupby("table").agg(runs=("row", "size"), cached=("cached", "sum")))

# %% [markdown]
# ## What the study cost
#
# From the runs' own records (`metrics.json`: the run's wall seconds and its process's CPU seconds,
# with the interrupted parts of a resumed run; `scrpn.study.tables.runs_summary`), every committed
# run, the pre-registered cause runs of notebook 12 included. Machine hours are wall-clock time on
# the 2-core machine; CPU-hours add up both cores. Runs recorded before the CPU count existed have
# no CPU seconds and count 0 here; `results/REPORT.md` ("CPU time") adds the work outside the
# runs' timers (pilot, superseded runs, proposal dumps).

# %%
from scrpn.study.tables import runs_summary

summary = runs_summary(results_dir)
print(f"{len(summary)} committed runs: {summary.cost_seconds.sum() / 3600:.1f} machine hours (wall), "
      f"{summary.cost_cpu_seconds.sum() / 3600:.1f} CPU-hours recorded "
      f"({summary.cpu_seconds.notna().sum()} of the runs record their CPU seconds)")
