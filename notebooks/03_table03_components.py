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
# > "Firstly, RPN with three preset anchors is regarded as baseline, yielding AR<sub>1000</sub> of 58.3.
# > [...] When the Size-Aware Dynamic Sampling is added, the AR<sub>1000</sub> incrementally surges to
# > 72.4, showing the effectiveness of ensuring the sampling consistency." (paper, Section IV-C)
#
# **The idea.** An ablation that adds one component per row: each row is the row above plus one
# change, so each step's Δ is that component's contribution *given everything above it*. The order
# matters: a step can look useless only because an earlier row already did its job, or harmful
# because the row above it trained at another learning rate.
#
# **Before the table: the two-stage data path.** Every row from "+ two-stage" on runs the same
# pipeline and differs in one box of it:
#
# ```
# image -> backbone + FPN (P2-P6)
#       -> stage 1: init offsets per location (anchor deltas, or 9 points)     [+ point-based]
#       -> alignment: the stage-2 conv reads features where stage 1 points   [+ alignment]
#       -> stage 2: classification + secondary offsets (L1 or IoU loss)       [+ IoU loss]
#       -> IoU mask: a 1x1 conv predicting each proposal's IoU                [+ IoU mask]
#       -> NMS per level and across levels -> proposals
# training: each stage's positives come from an assigner (Max-IoU, or PosR then SAT) [+ SADS]
# ```

# %% tags=["parameters"]
# Parameters (papermill): profile smoke | mini | full, or a schedule rung 2x-16x | converged (experiment
# 10: `scrpn reproduce --profile converged`); retrain=False reuses cached results.
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
# ### Beside it: the components at the converged schedule S* (experiment 10)
# Experiment 10 (issue 38) re-reads the component claims at the schedule S* that its learning curve chooses (phase 3: points, alignment, PosR and the IoU mask, three seeds each). Below: each row at mini and at S*, the paper's value, and the change from mini to S* with its standard error, read from the committed runs (nothing trains here). Rows that no claim reads at S* stay pending.

# %%
session.show_converged("table03_components")

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
# ## Exercises
#
# Try each one before opening its answer (the folded cell below it: click the bar at its left in JupyterLab).

# %% [markdown]
# **Exercise 1.** Which steps reproduce the paper's sign, and which do not? For the ones that do not, find the experiment that tests a cause (the list under *Why, under test*).

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 1.** The verdicts above answer the first part. Alignment (experiment 5), the IoU mask (experiment 3) and PosR (experiment 4, notebook 04) each have a pre-registered experiment; their verdicts are printed under *Why, under test* and in notebook 12.

# %% [markdown]
# **Exercise 2.** The points row trains at lr 0.005 since experiment 6. Why must the row above it (IoU loss) train at the same lr for the step's Δ to mean anything?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 2.** A step's Δ is the difference of two rows: if the rows differ in the lr as well as in the component, the Δ is the sum of both effects and cannot be given to the component. At the mini lr 0.01 the points looked like a loss; at one lr they are a gain (the diagnostic `diag_*_lr001` rows keep the first reading).

# %% [markdown]
# **Exercise 3.** SADS adds far more here than in the paper. Look at notebook 00's data card: which property of SynthShapes favours a size-aware assigner?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 3.** Many small objects and a long tail of slender ones. Max-IoU with a fixed threshold gives small and slender objects few or no positives (notebook 10 shows it on one object); SAT gives every object its own threshold. The more such objects, the larger SADS's gain.
