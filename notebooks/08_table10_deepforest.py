# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · Table X's role: a second dataset, real aerial tree crowns (DeepForest)
#
# The paper's Table X evaluates on ImageNet detection; we cannot download it, so the second dataset is the real, hand-labelled tree crowns shipped in the `deepforest` wheel (951 boxes, tiled, split spatially). Same rows as the paper where we have them: RPN, Cascade RPN and SC-RPN (GA-RPN is not run on this dataset). The paper's column is its ImageNet number: compare the ordering of the methods only.

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
session.show_setting("sc_rpn", dataset="deepforest")

# %%
view = show_table("table10_proposals_imagenet_det")

# %%
session.what_we_see("table10_proposals_imagenet_det")
