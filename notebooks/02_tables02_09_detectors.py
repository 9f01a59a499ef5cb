# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Tables II and IX: detectors on the proposals
#
# Fast R-CNN on precomputed proposals and Faster R-CNN trained end to end with each proposal method (Table II, R-CNN positive IoU 0.65), then Double-Head and Cascade R-CNN on RPN and SC-RPN (Table IX). One seed (the study's budget).

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
session.show_setting("det_faster_rcnn_sc_rpn")

# %%
view2 = show_table("table02_detection_coco")

# %%
session.what_we_see("table02_detection_coco")

# %%
view9 = show_table("table09_more_detectors")

# %%
session.what_we_see("table09_more_detectors")
