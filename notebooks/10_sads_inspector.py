# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   scrpn:
#     datasets:
#     - synthshapes
# ---

# %% tags=["parameters"]
# Parameters (papermill). The inspector trains nothing itself: with train_missing=True a missing
# SC-RPN run of this profile is trained first (to score real stage-1 boxes), else the priors are used.
profile = "mini"
retrain = False
seeds = [0]
dataset = "synthshapes"
results_dir = "results"
train_missing = True
# The teaching knobs (`scrpn reproduce --only 10 -p k=12 --output-dir DIR`):
image_index = None  # the validation image of sections 1 and 2; None: the one of the most slender object
gt = None           # the object of that image (its index); None: the most slender one
k = None            # SAT's (and ATSS's) k, the candidates per level; None: each setting's own
sigma = None        # PosR's centre-region ratio; None: each setting's own
num_levels = None   # SAT's N, the levels its candidates come from; None: each setting's own
n_images = 20       # section 3: how many validation images are counted

# %% [markdown]
# # 10 · SADS inspector: which samples each assigner picks, object by object
#
# **What the paper claims** (Section III-B, Algorithms 1 and 2, Table IV). SC-RPN replaces the
# Max-IoU assigner that RPN and Cascade RPN use with **Size-Aware Dynamic Sampling (SADS)**:
#
# * **stage 1, Positive Region assigner (PosR)**: for each ground truth g, the locations of its
#   level $i_g$ (eq. 1) inside its centre region $R_g$ (ratio σ) are positive; no IoU, no
#   negatives;
# * **stage 2, Size-Aware Threshold assigner (SAT)**: on g's level and the adjacent one (eq. 2; N
#   levels in general) the k locations nearest to g's centre are candidates; their stage-1 boxes'
#   IoUs with g have a mean $m_g$; a candidate whose IoU is **above** $m_g$ and whose location lies
#   **inside** g is positive.
#
# The claim is that this keeps the two stages' samples consistent and gives every object,
# whatever its size or shape, positives on the levels that fit it, where a fixed 0.7 IoU leaves
# small and slender objects with few or none. ATSS (mean + std over all levels) is the rule SAT
# adapts; Cascade RPN's region rule is PosR's ancestor (a rounded region, with ignore zones).
#
# **What we compute.** `scrpn.viz.inspect_sads(image, boxes, setting, checkpoint)` runs a
# setting's two real assigners (the head's own builder and interface) on one image and returns
# the assignment as data: both stages' results and a **candidate table** (one row per candidate
# of each object: level, location, IoU with the object, rank, the threshold it was compared with,
# whether it passes the object's own rule, whether and to which object it was assigned). We use it
# on a few validation objects, compare SADS with Max-IoU and ATSS on the same boxes, and count, over
# several images, the objects each rule leaves without a positive. The interactive inspector at
# the end does the same on any image and any box, with two settings side by side.
#
# **What to look at.** In the A / B figure: how many positives each object gets, on which levels,
# and which ones only one of the two rules takes (magenta squares). In the table: the IoUs of the
# candidates against each rule's threshold.

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from scrpn.engine.builders import build_val_dataset
from scrpn.study.notebooks import setup
from scrpn.viz import inspect_sads
from scrpn.viz.knobs import check_knobs
from scrpn.viz.sads_inspector import compare, inspector_object, plot_comparison, resolve_setting

# The teaching knobs first: a wrong type or a value out of range is one clear error here, not a
# traceback deep in a later cell (`scrpn reproduce -p` checks the same before the kernel starts).
check_knobs("10_sads_inspector", dict(image_index=image_index, gt=gt, k=k, sigma=sigma,
                                      num_levels=num_levels, n_images=n_images))
session = setup(profile=profile, retrain=retrain, seeds=seeds, dataset=dataset, results_dir=results_dir,
                train_missing=train_missing)
study = session.study
seed = seeds[0]
cfg = study.config("sc_rpn", seed)
val = build_val_dataset(cfg)
# the image and object of sections 1 and 2 (image_index, gt: checked against this validation set)
index, g = inspector_object(val, image_index=image_index, gt=gt)
# The study's trained SC-RPN: stage 2 then scores its real stage-1 boxes; otherwise the priors.
checkpoint = ("sc_rpn", seed) if study.available("sc_rpn", seed) else None
boxes_from = f"the trained SC-RPN of the study (seed {seed})" if checkpoint else \
    "the priors (no trained SC-RPN cached)"
cache = {}  # reuses the model's outputs per image
print(f"sc_rpn ({profile} profile): {len(val)} val images of {cfg.data.image_size} px; "
      f"stage-1 boxes from {boxes_from}")

# %% [markdown]
# ## 1. One object, as data
#
# Three objects among the first validation images: the smallest, the most slender and the
# largest (objects under 8 x 8 px are left out: a 1-2 px sliver is no one's example). We look at
# the most slender one, unless the parameters cell names another image (`image_index`) or object
# (`gt`); `k`, `sigma` and `num_levels` there change SAT's k, PosR's σ and SAT's N in every
# setting that has them.

# %%
def setting(name):
    """A preset with the parameters cell's k, sigma and N, where its assigners have them."""
    return resolve_setting(name, profile=profile, k=k, sigma=sigma, n=num_levels)


sads = inspect_sads(val[index], setting=setting("SADS (SC-RPN)"), checkpoint=checkpoint,
                   model_cache=cache, study=study)
print(f"image {index}, object {g}; stage 2: {sads.setting.describe(2)}")
display(sads.objects().round(2))
table = sads.table(g, stage=2)
display(table.round(3))

# %%
obj = sads.objects().iloc[g]
passed = table[table["passes"]]
lost = table[table["passes"] & ~table["assigned"]]
display(Markdown(
    f"Image {index}, object {g}: {obj.width:.0f} x {obj.height:.0f} px, aspect {obj.aspect:.1f}, "
    f"level {obj.level} by eq. (1). Stage 1 (PosR) gives it {int(obj.stage1_positives)} "
    f"positive(s). Stage 2 (SAT) compares {len(table)} candidates on "
    f"{', '.join(sorted(set(table['level'])))} with the threshold m_g = "
    f"{table['threshold'].iloc[0]:.3f} (their mean IoU); {int((table['iou'] > table['threshold']).sum())} "
    f"are above it, {int(table['inside'].sum())} lie inside the object, {len(passed)} pass both, "
    f"and {int(obj.stage2_positives)} are assigned to it"
    + (f" ({len(lost)} lost to another object with a higher IoU)." if len(lost) else ".")))

# %% [markdown]
# ## 2. Two rules side by side
#
# The same image and boxes under SADS (A) and Max-IoU in both stages (B), stage 2, the chosen
# object zoomed; then every object of the image (each object's positives in its colour).

# %%
maxiou = inspect_sads(val[index], setting=setting("Max-IoU, both stages"), checkpoint=checkpoint,
                     model_cache=cache, study=study)
atss = inspect_sads(val[index], setting=setting("PosR + ATSS"), checkpoint=checkpoint,
                   model_cache=cache, study=study)
fig = plot_comparison(sads, maxiou, stage=2, gt=g)
session.show_figure(fig, "sads_inspector_example")
display(plot_comparison(sads, maxiou, stage=2, gt=None))
one, every = compare(sads, maxiou, 2), compare(sads, atss, 2)
a_only, b_only, shared = one.counts(g)
all_a, all_b, all_shared = one.counts()
t_a, t_b, t_shared = every.counts()
display(Markdown(
    f"In stage 2, SADS gives object {g} {a_only + shared} positive(s) and Max-IoU "
    f"{b_only + shared}: {a_only} only under SADS, {b_only} only under Max-IoU, {shared} under both. "
    f"Over the whole image ({len(sads.gts)} objects), {all_a} positive(s) are SADS's only, "
    f"{all_b} Max-IoU's only, {all_shared} shared. ATSS (mean + std over all five levels, on the "
    f"same stage-1 boxes) and SAT share {t_shared} positive(s); {t_a} are SAT's only, {t_b} ATSS's "
    "only."))

# %% [markdown]
# ## 3. Over many objects
#
# One image is an anecdote. Over the first validation images: how many positives each rule
# gives an object in stage 2, and how many objects get none, by size (sqrt of the area, in px).

# %%
import pandas as pd

n_images = min(len(val), n_images)
settings = ["SADS (SC-RPN)", "Max-IoU, both stages", "PosR + ATSS", "Cascade RPN: region + Max-IoU"]
rows = []
for i in range(n_images):
    for name in settings:
        objs = inspect_sads(val[i], setting=setting(name), checkpoint=checkpoint, model_cache=cache,
                            study=study).objects()
        for o in objs.itertuples():
            rows.append({"setting": name, "size": "small (< 16)" if o.sqrt_area < 16 else
                         "medium (16-48)" if o.sqrt_area < 48 else "large (>= 48)",
                         "positives": o.stage2_positives, "none": o.stage2_positives == 0})
per_object = pd.DataFrame(rows)
summary = per_object.groupby(["setting", "size"]).agg(
    objects=("none", "size"), mean_positives=("positives", "mean"), without_positive=("none", "sum"))
display(summary.round(2))
none = per_object.groupby("setting")["none"].sum()
count = per_object.groupby("setting")["none"].size()
display(Markdown(
    f"Over {n_images} images ({count.iloc[0]} objects), stage 2 leaves "
    + ", ".join(f"{int(none[s])} object(s) without a positive under {s}" for s in settings)
    + f". Stage-1 boxes: {boxes_from}."))

# %% [markdown]
# ## 4. The interactive inspector
#
# Pick an image (SynthShapes val, DeepForest val, a COCO-format dataset: annotation JSON and image
# folder, or an image file: a path or the upload button), an object (ordered by index, size or
# aspect ratio, or "all objects"), or add your own: **draw** it on either panel with the mouse,
# or **type** `x1, y1, x2, y2`. Choose a setting for A and for B (SADS, Max-IoU, PosR + ATSS,
# Cascade RPN's region rule, PosR rounded, experiment 4's arms), change k, σ, N or PosR's region
# rule, and take the stage-1 boxes from the priors or from a checkpoint with weights here. Positives
# only one panel has are marked magenta and counted above the figure. **Click** (mouse mode "pick
# a candidate"; hovering also works) a candidate to see its row; the candidate table below is
# sortable. The mouse **wheel** zooms, "pan" mode drags. Bad input (a box outside the image, zero
# area, an unreadable file, a checkpoint of another method) is one line in red.
#
# **Run the cell below** in JupyterLab (with `ipywidgets` and `ipyevents`): a saved notebook keeps
# no live widget, so until it runs it shows one line of text. `scripts/browser_check.sh` drives
# it in headless Chromium (the CI runs it); `docs/inspector.md` describes it.

# %%
try:
    from scrpn.viz.inspector_widget import SADSInspector
except ImportError as exc:
    print(f"the interactive inspector needs ipywidgets ({exc}); the API above works without it")
else:
    inspector = SADSInspector(profile, index=index, gt=g, setting_b="PosR + ATSS",
                              checkpoint_a=checkpoint, checkpoint_b=checkpoint,
                              study=study, datasets={"SynthShapes val": val})
    for side in inspector.sides.values():  # the parameters cell's knobs, where they are set
        for key, value in (("k", k), ("sigma", sigma), ("n", num_levels)):
            if value is not None:
                side[key].value = value
    display(inspector)

# %% [markdown]
# **Questions for the reader**
#
# 1. In the table of section 1, SAT's threshold is the mean IoU of the candidates. Add the
#    standard deviation (ATSS's rule): which of the object's positives would it drop? Check with
#    B = "PosR + ATSS".
# 2. The most slender object's candidates outside the box are never positive, whatever their IoU.
#    Find one with a high IoU in the table (`inside` False). Why does SAT refuse it?
# 3. Draw a box of 6 x 40 px. How many positives does Max-IoU give it in stage 2? And SADS? Now
#    draw 40 x 40: which rule changes more?
# 4. Set B to "SADS, PosR rounded (exp. 4 R)" and look at stage 1: how many more locations does
#    the rounded region give a medium object? Experiment 4 asked whether this makes PosR's step
#    larger (`results/REPORT.md`).
