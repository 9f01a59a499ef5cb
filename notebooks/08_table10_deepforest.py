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
# > "Regarded as the most important performance indicator, the proposed SC-RPN achieves the highest
# > performance in AR<sub>1000</sub>, surpassing all the existing region proposal approaches."
# > (paper, Section IV-D, on ImageNet DET)
#
# **The idea.** A method tuned on one dataset can owe its gains to that dataset. The paper's Table X
# repeats Table I on ImageNet detection; we cannot download it, so the second dataset is the real,
# hand-labelled tree crowns shipped in the `deepforest` wheel (tiled, split spatially: the right
# quarter of each image is validation). Same rows as the paper where we have them: RPN, Cascade RPN
# and SC-RPN (GA-RPN is not run here). The paper's column is its ImageNet number: compare the order
# of the methods only.
#
# **Before the table.** Tree crowns are round, touch each other and fill the tile: few slender
# objects, many neighbours of the same size, the opposite of SynthShapes' long tail. The picture
# compares the validation objects of the two datasets (both cut to images of the same size, so
# pixels compare): (a) their size, with the FPN level eq. (1) trains each one on (SADS's level
# $i_g$), (b) their aspect ratio, (c) how many share one image.
#
# **What to look at.** Which of SC-RPN's parts has work to do on the crowns? The point-based
# representation was made for outlines an anchor fits badly (the slender bins of (b)); SADS's
# size-aware levels for objects spread over many levels (a). If the crowns use few levels and few
# shapes, expect a smaller gain over RPN than on SynthShapes.

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
from scrpn.pyramid import level_base_scale  # noqa: E402
from scrpn.study.experiments import experiment_study  # noqa: E402
from scrpn.study.experiments.e9_deepforest import EXPERIMENT  # noqa: E402
from scrpn.viz import lessons  # noqa: E402

forest = experiment_study(study, EXPERIMENT)   # the same study on DeepForest (experiment 9's dataset)
names = {"synthshapes": "SynthShapes", "deepforest": "DeepForest tree crowns"}
shown = {names.get(s.dataset or "synthshapes", s.dataset): s for s in (study, forest)}
if all(s.available("sc_rpn", seeds[0]) for s in shown.values()):
    cfg = forest.config("sc_rpn", seeds[0])
    objects = {label: s.stats("sc_rpn", seeds[0]) for label, s in shown.items()}
    show_figure(lessons.object_shapes(objects, level_base_scale(cfg.model.head.anchor_scale),
                                      image_size=cfg.data.image_size), "table10_objects")
else:
    print("pending: SC-RPN's first seed on both datasets (its run stores the objects' sizes)")

# %%
view = show_table("table10_proposals_imagenet_det")

# %%
session.what_we_see("table10_proposals_imagenet_det")

# %% [markdown]
# ### Experiment 9: do the corrections carry over to real images?
# Two verdicts of issue 18 changed a default, and each is re-run here, on DeepForest, 3 seeds:
#
# * Experiment 1 found that the first study's loss normalisers kept Cascade RPN's stage 1 from
#   learning on SynthShapes; mmdetection's are now its default, and Table X's Cascade RPN row above
#   uses them. The first study's runs on DeepForest are the `diag_cascade_rpn_paper_norm` row. It
#   carries over when, here too, stage 1 learns, the AR1000 seed sd is below 2.0 and AR1000 beats
#   RPN's, resolved.
# * Experiment 6 found that points cost no AR against anchors at the paper's lr 0.005 (Table III's
#   `t3_point` and `t3_iou_loss` now train at it). It carries over when `t3_point` is not below
#   `t3_iou_loss` here by a resolved margin (Δ > -2.5 se), the criterion that made it work.

# %%
from scrpn.study.experiments.e9_deepforest import CARRY_OVER, experiment9  # noqa: E402
from scrpn.study.stats import cached_runs, metric  # noqa: E402

forest_runs = cached_runs(experiment_study(study, EXPERIMENT))   # experiment 9's dataset
forest_ar = metric(forest_runs, "AR1000")
rows = dict.fromkeys(r for c in CARRY_OVER for r in (c.reference, c.first, c.row) if r)
for row in rows:
    values = forest_ar(row)
    print(f"{row:30s} AR1000 " + (" / ".join(f"{v:.1f}" for v in values) if values else "not run"))
out = experiment9(forest_ar, forest_runs)
for claim, c in out["corrections"].items():
    if c.get("pending"):
        print(f"{claim}: pending ({c['seeds']} seeds)")
    else:
        first = c["vs_first_study"].text() if c["vs_first_study"] is not None else "n/a"
        print(f"{claim}: vs {c['reference']} {c['vs_reference'].text()}, vs the first study's row {first}, "
              f"seed sd {c['sd']:.1f}, stage 1 learns: {c['stage1_learns']}, carries over: {c['carries_over']}")
print("verdict (registered rule):", out["verdict"])

# %% [markdown]
# ## Exercises
#
# Try each one before opening its answer (the folded cell below it: click the bar at its left in JupyterLab).

# %% [markdown]
# **Exercise 1.** SC-RPN's gain over RPN has the paper's sign here. Is it larger or smaller than on SynthShapes (notebook 01), and which of SC-RPN's parts would you expect to matter less on tree crowns?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 1.** Compare the two Δs. Tree crowns are compact and similar in size, so the point-based representation (made for outlines an anchor fits badly) and SADS's size-aware levels have less to fix than on SynthShapes' small and slender objects.

# %% [markdown]
# **Exercise 2.** Experiment 9's rule for a correction to carry over asks three things of Cascade RPN. Which one fails, according to the printed verdict?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 2.** Read the printed line: with mmdetection's normalisers Cascade RPN's stage 1 still does not learn on the trees, so the correction that fixed it on SynthShapes does not carry over.

# %% [markdown]
# **Exercise 3.** The points' correction (lr 0.005) does carry over. What does that tell you about where its cause lived: the data or the optimisation?

# %% [markdown] jupyter={"source_hidden": true}
# **Answer 3.** In the optimisation: the same lr change removes the points' deficit on two unrelated datasets, so the deficit came from the step size the point head sees, not from SynthShapes' shapes.
