# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Table VIII, Figs. 5 and 8: the point-based representation
#
# > "The incorporation of point-based representation increases the AR<sub>1000</sub> to 66.7, implying
# > that abandoning the use of anchors can produce more high-quality region proposals." (paper,
# > Section IV-C, Table III; Table VIII splits the step)
#
# **The idea.** An anchor-based head regresses deltas from a preset box; a slender object far from
# the anchor's shape needs a large stretch. The point-based head predicts nine points per location
# (stage 1 from a 3x3 grid, stage 2 refines them), and the proposal is the min/max box of the refined
# points, with no preset shape. Table VIII compares anchors with points without and with *point
# alignment* (the stage-2 conv reads the features at the points).
#
# **Before the table** (Fig. 5): the trained SC-RPN on a validation image: the initial points, the
# refined points and the box they define, for its first proposals, with the ground-truth boxes.

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
if ready("sc_rpn"):
    from scrpn.engine.builders import build_val_dataset

    model, cfg = study.load_model("sc_rpn", seeds[0])
    val = build_val_dataset(cfg)
    image, target = val[3]
    p = F.point_proposals(model, image, target, k=4)
    gt = target["boxes"][~target["iscrowd"]].numpy()
    show_figure(F.fig5_point_representation(image, p["init_points"], p["refined_points"], p["boxes"], p["scores"],
                                            gt_boxes=gt), "fig5_point_representation")

# %%
view = show_table("table08_point_representation")

# %%
session.what_we_see("table08_point_representation")

# %% [markdown]
# ## Fig. 8: high-quality proposals by object aspect ratio
# Fraction of objects whose best top-1000 proposal reaches IoU 0.7 / 0.8, bounding-box (anchor) versus point-based representation (first seed).

# %%
if ready("t3_iou_loss", "t3_point"):
    stats = {"bounding box (t3_iou_loss)": study.stats("t3_iou_loss", seeds[0]),
             "point-based (t3_point)": study.stats("t3_point", seeds[0])}
    show_figure(F.fig8_aspect_ratio_recall(stats, thresholds=(0.7, 0.8)), "fig8_aspect_ratio_recall")
    for t in (0.7, 0.8):
        for label, s in stats.items():
            bins, recall, counts = F.recall_by_aspect_ratio(s, t)
            print(t, label, dict(zip(bins, recall.round(3))))

# %% [markdown]
# ## Exercises
#
# Try each one before opening its answer (the folded cell below it: click the bar at its left in JupyterLab).

# %% [markdown]
# **Exercise 1.** Table VIII's rows train at lr 0.005 since experiment 6. Why would a point head be more sensitive to the learning rate than an anchor head?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 1.** Its offsets are in stride units and added to the points unscaled, while an anchor head's deltas are divided by their target standard deviations: the same loss gives the point head a far larger effective step. At the mini lr 0.01 the points lost AR against anchors (the `diag_*_lr001` rows); at 0.005 they do not.

# %% [markdown]
# **Exercise 2.** Fig. 8 splits recall by the objects' aspect ratio. Where should points help most, and do they?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 2.** On the slender objects (aspect 4 and more), where an anchor must stretch most; compare the two bars of each aspect bin in the figure and the printed recalls.

# %% [markdown]
# **Exercise 3.** In Fig. 5, why can one refined point far from the object enlarge the box, and what in training pulls it back?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 3.** The box is the min/max of the nine points, so one outlier sets an edge. The stage-2 IoU loss on the points' box penalises the enlarged box, which moves the outlier back toward the object's extent.
