# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Table III: SC-RPN's components, added one at a time
#
# From RPN with three anchors to the full SC-RPN, one component per row.

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
view = show_table("table03_components")

# %%
session.what_we_see("table03_components")

# %% [markdown]
# ### The two L1 rows at the mini learning rate (interpretation 30 in `docs/interpretations.md`)
# `t3_two_stage` and `t3_alignment` train at the paper's lr 0.005: at the mini lr 0.01 they collapse (every ReLU after the stage-1 conv dies, all scores become equal). The diagnostic runs below are those two rows at 0.01 (first seed).

# %%
import pandas as pd

diag = ["diag_t3_two_stage_lr001", "diag_t3_alignment_lr001"]
records = study.runs(diag, seeds[:1])
display(pd.DataFrame([{k: r.get(k) for k in ("name", "seed", "AR100", "AR300", "AR1000", "missing")}
                      for r in records]).round(1))

# %% [markdown]
# ## Questions
#
# * Alignment costs AR here where the paper gains 6.8. Is it the adaptive conv's init or its
#   dilation at our anchor scale (experiment 5, L1), or does the step only look negative because
#   Table III changes the lr at the next row (L2: the same step at one lr)?
# * Points cost 6.4 AR1000 under Max-IoU sampling, and the paper says they cost nothing. Does the
#   missing control (anchors + SADS, experiment 6 P0) show a cost under SADS too, or is the loss
#   the Max-IoU assigner's, the lr's (P1) or the unscaled secondary offsets' (P2)?
# * The IoU mask: experiment 3 scores every checkpoint with and without it, under the three
#   readings of the paper's two sigmoids. Notebook 12 has the table so far.
