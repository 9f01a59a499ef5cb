# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Tables VI and VII, Figs. 3, 4 and 7: the Light-weight IoU-Mask branch
#
# > "As we can see from the Table VI, training with regression samples in low location accuracy
# > achieves the highest improvement, while training with classification samples in high location
# > accuracy achieves the best performance." (paper, Section IV-C)
#
# **The idea.** NMS keeps the box with the highest classification score, but the score says "an
# object is here", not "this box fits it". The IoU mask is a 1x1 convolution and two sigmoids beside
# the stage-2 regression; it is trained to predict each proposal's IoU with its object, and at test
# time the ranking score is the mean of the classification score and the mask (the IoU-aware score).
# Table VI asks which samples train it (regression positives, plus all negatives, or classification
# samples), Table VII which feature map it reads; both with and without SADS (high and low location
# accuracy), and each trained mask scored with and without it at test time.
#
# **Before the tables: what the mask sees** (Fig. 3, computed with the project's own assigner,
# sampler and loss code on one object): the samples it is trained on and the IoU target each one gets.
# Rows "scored without it" reuse the checkpoint of their twin (the study trains each config once).

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
show_figure(F.fig3_iou_mask_supervision(), "fig3_iou_mask_supervision")

# %%
view6 = show_table("table06_iou_mask_training_samples")

# %%
session.what_we_see("table06_iou_mask_training_samples")

# %%
view7 = show_table("table07_iou_mask_feature_map")

# %%
session.what_we_see("table07_iou_mask_feature_map")

# %% [markdown]
# ## Fig. 4: the IoU-aware score example
# Three candidates around one object: NMS by classification score keeps the badly localised box, NMS by the IoU-aware score keeps the better one.

# %%
numbers = F.fig4_example_numbers()
print("kept by classification score:", numbers["kept_cls"], "| kept by IoU-aware score:", numbers["kept_iou_aware"])
show_figure(F.fig4_iou_aware_score(), "fig4_iou_aware_score")

# %% [markdown]
# ## Fig. 7: with and without the IoU mask, top 300 and top 1000
# Recall as a function of the IoU threshold (first seed).

# %%
if ready("t3_sads", "sc_rpn"):
    stats = {"SADS, no IoU mask (t3_sads)": study.stats("t3_sads", seeds[0]),
             "SC-RPN (with IoU mask)": study.stats("sc_rpn", seeds[0])}
    show_figure(F.fig7_iou_mask_effect(stats), "fig7_iou_mask_effect")

# %% [markdown]
# ## Exercises
#
# Try each one before opening its answer (the folded cell below it: click the bar at its left in JupyterLab).

# %% [markdown]
# **Exercise 1.** Tables VI and VII: does any mask variant raise AR1000 over the network without a mask? Does scoring with the mask (the IoU-aware score) change a trained network's AR?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 1.** Read the two lists above. Every variant trained with a mask is at or below its no-mask reference, and scoring with or without the mask moves AR1000 by a few tenths at most: one seed per row cannot resolve either. Experiment 3 (notebook 12) scores every checkpoint under the three readings of the paper's two sigmoids, with three seeds: the mask stays unhelpful.

# %% [markdown]
# **Exercise 2.** The mask is sigmoid(sigmoid(x)). What range can it take, and how much can it move the IoU-aware score of one proposal?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 2.** sigmoid maps any x into (0, 1), so the second sigmoid's output lies in (sigmoid(0), sigmoid(1)) = (0.5, 0.73). The IoU-aware score is (cls + mask) / 2, so the mask can move it by at most (0.73 - 0.5) / 2, about 0.12: it can reorder proposals whose classification scores are close, not rescue a badly scored one. Notebook 09 shows what this does to the mask's training loss.

# %% [markdown]
# **Exercise 3.** Fig. 4's example has three candidates around one object. Change the classification scores so that the IoU-aware score keeps the same box as the classification score.

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 3.** Make the well-localised box's classification score lower than the poor box's by more than twice the difference of their masks (the IoU-aware score halves each term): then the poor box still ranks first and NMS suppresses the good one. `F.fig4_example_numbers()` returns the numbers to edit.
