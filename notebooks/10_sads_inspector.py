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

# %% [markdown]
# # 10 · SADS inspector: what Size-Aware Dynamic Sampling picks for one object
#
# SC-RPN trains its two stages with **Size-Aware Dynamic Sampling (SADS)** instead of the Max-IoU
# assigner that RPN and Cascade RPN use in both stages (paper, Section III-C, Table IV).
#
# **Which levels.** Both stages use the size of the ground-truth box g, $S_g$, to pick FPN levels.
# Eq. (1) gives the target level $i_g = \lfloor (\log_2 S_g - 9) / 2 \rfloor$ for the paper's base
# $b = 32$ (anchor scale 8 × stride 4); here the base is the config's `anchor_scale × 4`, so the
# rule reads $\lfloor (\log_2 S_g - (2\log_2 b - 1)) / 2 \rfloor$. Eq. (2) adds an adjacent level
# $j_g$ for moderate sizes: the neighbour on the side of level $i_g$ that the object's area leans to
# (this project's reading of the printed formula, see `scrpn/sampling/levels.py`).
#
# **Stage 1, Positive Region assigner (Algorithm 1).** For each g: take its level $i_g$, shrink g
# around its centre by the ratio σ (the *positive region* $R_g$) and make every location of level
# $i_g$ inside $R_g$ a positive. No IoU and no negatives: stage 1 only regresses the initial
# proposals. (Implementation details: a g whose region holds no location gets the nearest one; a
# location claimed by two gts goes to the smaller one.)
#
# **Stage 2, Size-Aware Threshold assigner (Algorithm 2).** For each g: on each of its levels
# ($i_g$ and $j_g$, N = 2 in the paper) take the k locations nearest to g's centre; score their
# stage-1 proposals by IoU with g; the mean of these IoUs, $m_g$, is g's own threshold. A candidate
# is positive when its IoU is **greater than $m_g$** and its location lies **inside g**; everything
# else is negative. Unlike ATSS, the threshold is the mean alone (no + std) and the candidates come
# only from the size-aware levels.
#
# **What to look for in the figures.**
# * Panel 1 (PosR): the dashed region $R_g$ on level $i_g$ and its positives: a few locations, all
#   deep inside the box, on one level only.
# * Panel 2 (SAT): the k candidates per level coloured by IoU; the red-ringed positives lie inside g
#   and have above-average IoU. For a slender object, candidates outside the box are excluded even
#   when their IoU is high (the paper's "toothbrush and knife" inconsistency).
# * Panel 3 (Max-IoU): with a fixed 0.7 threshold a small or slender object may get no positive
#   at all, or only low-quality matches, and they can come from any level.
# * Panel 4: the candidate IoUs per level against $m_g$ (solid) and ATSS's mean + std (dashed,
#   for comparison only).
#
# Without a trained model, the stage-1 boxes SAT scores are the priors (what an untrained head
# predicts); when a trained SC-RPN checkpoint of this profile is found, its stage-1 boxes are used.

# %%
from pathlib import Path

import torch
from IPython.display import Image, display

from scrpn.engine.builders import build_val_dataset
from scrpn.study.notebooks import setup
from scrpn.viz.sads_inspector import figure_to_png, inspect_sads, model_stage1_boxes, plot_sads

if dataset != "synthshapes":
    raise ValueError(f"this notebook inspects SynthShapes only, got dataset={dataset!r}")
session = setup(profile=profile, retrain=retrain, seeds=seeds, results_dir=results_dir,
                train_missing=train_missing)
study = session.study
cfg = study.config("sc_rpn", seeds[0])
val = build_val_dataset(cfg)
head = cfg.model.head
print(f"sc_rpn ({profile} profile): {len(val)} val images of {cfg.data.image_size} px, level base "
      f"b = {cfg.level_base_scale:g}, sigma = {head.stage1.assigner.center_ratio}, "
      f"k = {head.stage2.assigner.topk}, N = {head.stage2.assigner.num_levels}")

# %%
# The study's trained SC-RPN (first seed): SAT then scores its real stage-1 boxes.
if study.available("sc_rpn", seeds[0]):
    model, _ = study.load_model("sc_rpn", seeds[0])
    print("stage-1 boxes from the trained SC-RPN of the study (seed", seeds[0], ")")
else:
    model = None
    print("no trained SC-RPN cached: the priors stand in for the stage-1 boxes")

# %%
# Pick three objects among the first val images: a small one, the most slender one, a large one.
objects = []  # (image index, gt index, area, aspect)
for index in range(min(len(val), 50)):
    _, target = val[index]
    boxes = target["boxes"][~target["iscrowd"]]
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-6)
    for g, (w, h) in enumerate(wh.tolist()):
        objects.append((index, g, w * h, max(w, h) / min(w, h)))
usable = [o for o in objects if o[2] >= 64]  # skip the 1-2 px slivers
chosen = {
    "small": min(usable, key=lambda o: o[2]),
    "slender": max(usable, key=lambda o: o[3]),
    "large": max(usable, key=lambda o: o[2]),
}
figures = {}
for name, (index, g, area, aspect) in chosen.items():
    image, target = val[index]
    crowd = target["iscrowd"]
    stage1 = None if model is None else model_stage1_boxes(model, image, cfg.data.size_divisor)
    view = inspect_sads(target["boxes"][~crowd], g, tuple(image.shape[-2:]), cfg, stage1,
                        gt_boxes_ignore=target["boxes"][crowd])
    print(f"{name}: image {index}, gt {g}, area {area:.0f}, aspect {aspect:.1f}: "
          f"PosR {len(view.posr_positives)} / SAT {len(view.sat_positives)} / "
          f"Max-IoU {len(view.maxiou_positives)} positives")
    figures[name] = plot_sads(image, view, title=f"{name} object, {view.summary()}")
    display(Image(data=figure_to_png(figures[name])))

# %%
from scrpn.viz.common import save_figure

paths = save_figure(figures["slender"], "sads_inspector_example", session.figures_dir)
print("saved", ", ".join(str(p) for p in paths))

# %% [markdown]
# ## Interactive inspector
#
# Choose the image and the ground-truth box, and move k (candidates per level), σ (PosR centre
# ratio) and N (levels SAT uses, Table V) to see how the samples change. It opens on the slender
# object picked above.
#
# **Run the cell below** (in JupyterLab or Notebook, with `ipywidgets`): a saved notebook keeps no
# live widget, so until the cell runs it shows one line of text instead of the sliders.
# `scripts/browser_check.sh` drives this cell in a real headless Chromium (the CI runs it).

# %%
try:
    import ipywidgets  # noqa: F401
except ImportError:
    print("ipywidgets is not installed: `pip install ipywidgets` for the interactive inspector; "
          "the static figures above show the same view")
else:
    from scrpn.viz.sads_inspector import SADSInspector

    index, g = chosen["slender"][:2]
    inspector = SADSInspector(val, cfg, model, image_index=index, gt_index=g)
    display(inspector)
