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
# The loss curves of the Table I methods (first seed), from each run's `log.jsonl`: the total loss,
# then each stage's terms (stage-1 regression; stage-2 classification and regression; SC-RPN's IoU
# mask). A curve still falling at the last iteration says the row is not converged: every table of
# the mini profile compares rows at the same 700 iterations, not at convergence.
#
# **Why the literal IoU mask's loss sits at ln 2.** The mask is sigmoid(sigmoid(x)) (the paper's two
# sigmoids), so its output p lies in (0.5, 0.73) whatever x is. It is trained with binary
# cross-entropy against the IoU target t: BCE(t, p) = -t ln p - (1 - t) ln(1 - p). For any target t
# at or below 0.5 (every negative sample, and every positive with a poor box), the best the branch can
# do is p = 0.5, where BCE = -t ln 0.5 - (1 - t) ln 0.5 = ln 2, about 0.693, whatever t is. Most
# samples are such samples, so the mean loss falls to about ln 2 and cannot fall much below it (only
# the few targets above 0.5 can); its gradient through two sigmoids is small, and the branch
# learns little. The cell after the figure
# prints the logged mask loss beside ln 2.

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

# %%
import math

if ready("sc_rpn"):
    mask = [r["loss_mask"] for r in study.training_log("sc_rpn", seeds[0])
            if r.get("type") == "train" and "loss_mask" in r]
    if mask:
        print(f"sc_rpn's IoU-mask loss: first logged {mask[0]:.4f}, last {mask[-1]:.4f}, "
              f"lowest {min(mask):.4f}; ln 2 = {math.log(2):.4f}")

# %% [markdown]
# ## Exercises
#
# Try each one before opening its answer (the folded cell below it: click the bar at its left in JupyterLab).

# %% [markdown]
# **Exercise 1.** From the printed losses: how far below ln 2 does the mask loss ever go? What does that say about how much the branch learned?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 1.** Its lowest value is only a few thousandths below ln 2 (the printed numbers): the branch's predictions barely depart from the floor p = 0.5, which is why scoring with it moves AR so little (notebook 06).

# %% [markdown]
# **Exercise 2.** With one sigmoid instead of two, what range can the mask take, and where would the loss of a negative sample (t = 0) go?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 2.** (0, 1): the branch can predict p near 0 for a negative, whose BCE -ln(1 - p) then goes to 0. The loss can fall, and its gradient is not squeezed by a second sigmoid. Experiment 3 (notebook 12) trains this reading too.

# %% [markdown]
# **Exercise 3.** Which method's total loss is still falling most steeply at the last iteration?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 3.** Read the total-loss panel: the steeper the end of a curve, the further the row is from convergence; experiment 10 (notebook 12) trains rows at longer schedules.

