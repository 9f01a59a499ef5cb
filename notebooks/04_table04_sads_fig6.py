# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Table IV and Fig. 6: the assigners of the two stages
#
# Max-IoU in both stages, Max-IoU then SAT, and SADS (PosR then SAT). Fig. 6 compares the IoU distribution of the proposals without and with SADS.

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
view = show_table("table04_sads_combinations")

# %%
session.what_we_see("table04_sads_combinations")

# %% [markdown]
# ## Fig. 6: IoU distribution of the proposals, without and with SADS
# Histogram, over the top-300 proposals of every validation image, of each proposal's best IoU with an object (first seed).

# %%
# The no-SADS row is the point row at the mini lr 0.01, like t3_sads (interpretation 31)
if ready("diag_t3_point_lr001", "t3_sads"):
    stats = {"without SADS (Max IoU / Max IoU)": study.stats("diag_t3_point_lr001", seeds[0]),
             "with SADS (PosR / SAT)": study.stats("t3_sads", seeds[0])}
    show_figure(F.fig6_iou_distribution(stats, k=300), "fig6_iou_distribution")

# %% [markdown]
# ## Questions
#
# * Nearly all of SADS's gain is SAT's (stage 2); PosR adds little here (paper +2.8). Stage 1
#   barely moves its boxes in these rows: does PosR help once stage 1 learns (experiment 4: the
#   UnitBox loss, a 4x stage-1 weight, and PosR's region rounded to whole cells as mmdetection's
#   `center_ratio` does)?
# * Fig. 6: SADS shifts the proposals' IoU distribution up. Is the shift in the objects the paper
#   names (small and slender), or everywhere? Fig. 8 (notebook 07) splits recall by aspect ratio.
