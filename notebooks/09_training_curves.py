# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Training curves
#
# Loss curves of the Table I methods (first seed) from each run's `log.jsonl`.

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

# %%
if ready("rpn", "iterative_rpn", "ga_rpn", "cascade_rpn", "sc_rpn"):
    logs = {row: study.training_log(row, seeds[0])
            for row in ("rpn", "iterative_rpn", "ga_rpn", "cascade_rpn", "sc_rpn")}
    show_figure(F.training_curves(logs), "training_curves")
