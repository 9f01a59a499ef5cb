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
# Which samples train the IoU mask (Table VI), which feature map it reads (Table VII), how its supervision is built (Fig. 3), how the IoU-aware score repairs NMS (Fig. 4) and what it does to the proposals (Fig. 7). Rows 'tested without' reuse the checkpoint of their 'tested with' twin (the study trains each training config once).

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
view6 = show_table("table06_iou_mask_training_samples")

# %%
session.what_we_see("table06_iou_mask_training_samples")

# %%
view7 = show_table("table07_iou_mask_feature_map")

# %%
session.what_we_see("table07_iou_mask_feature_map")

# %% [markdown]
# ## Fig. 3: how the IoU-mask supervision is built
# Computed live with the project's own assigner, sampler and loss code on one object.

# %%
show_figure(F.fig3_iou_mask_supervision(), "fig3_iou_mask_supervision")

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
# ## Questions
#
# * The IoU-aware score moves AR by a few tenths at most here. Does the mask learn at all under
#   the literal reading (BCE on sigmoid(sigmoid(x)) saturates at ln 2)? Each run now logs the
#   mask's Spearman correlation with the true IoU; experiment 3 compares the three readings
#   (notebook 12).
# * Fig. 4's printed mask values only fit one sigmoid. Which reading did the paper's code run?
