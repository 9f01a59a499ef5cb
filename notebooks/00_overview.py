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
                         "cached": rec is not None,
                         "train_s": None if rec is None else rec.get("train_seconds"),
                         "wall_s": None if rec is None else rec.get("wall_seconds")})
status = pd.DataFrame(rows).drop_duplicates(["row", "seed"])
print(f"{status.cached.sum()} of {len(status)} runs cached; "
      f"CPU time of the cached runs: {status.wall_s.fillna(0).sum() / 3600:.2f} h (wall, 2 cores)")
display(status.groupby("table").agg(runs=("row", "size"), cached=("cached", "sum")))
