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
# Parameters (papermill). "smoke" trains tiny models in seconds (numbers meaningless, for checking
# that the notebook runs); "mini" reuses the study's trained CPU models.
profile = "mini"
retrain = False
seeds = [0]
dataset = "synthshapes"
results_dir = "results"
train_missing = True  # False: train nothing; this notebook then needs the rows trained already
# The teaching knobs (`scrpn reproduce --only 11 -p nms_thr=0.8 --output-dir DIR`):
image_index = None  # the validation image of sections 1 and 2; None: the first with a slender object
near_iou = 0.3      # a candidate "near" an object: true IoU at least this
nms_thr = 0.5       # NMS threshold of section 1 (the model itself uses 0.8; 0.5 suppresses more)
top_k = 100         # section 3: the best IoU among the first top_k proposals (AR@100 counts this)


# %% [markdown]
# # 11 · Teaching: the three weak correlations of region proposal
#
# *Course material for* **SC-RPN: A Strong Correlation Learning Framework for Region Proposal**
# (Zou et al., IEEE TIP 2021). Read the Introduction and Section III of the paper first.
#
# A two-stage region proposal network (Fig. 1 of the paper) predicts, at every location of every
# FPN level P2–P6, a first ("init") box in **stage 1**, then re-classifies and refines it in
# **stage 2**. After that, **NMS** removes duplicates, keeping the boxes with the highest score.
# The paper argues that three pairs of modules in such networks are only *weakly correlated*:
#
# | weak correlation | what goes wrong | SC-RPN's fix |
# |---|---|---|
# | 1. classification score ↔ localisation | NMS keeps the highest *score*, not the best *box* | Light-weight IoU-Mask branch, IoU-aware score (III-A, Fig. 4) |
# | 2. sampling in stage 1 ↔ sampling in stage 2 | positives move, change number and ignore object size between the stages | Size-Aware Dynamic Sampling, SADS (III-B, Alg. 1–2) |
# | 3. region proposals ↔ anchors | a preset box shape cannot fit every outline, e.g. slender objects | point-based representation (III-C, Fig. 5) |
#
# This notebook looks at each of them with **live code on real images** of our SynthShapes
# validation set and **trained models of the study** (rows of Table III):
#
# * `sc_rpn`: the full SC-RPN (points, SADS, IoU mask);
# * `diag_t3_point_lr001`: the same point-based two-stage network, but Max-IoU sampling in both stages and no IoU mask;
# * `diag_t3_iou_loss_lr001`: the anchor-based two-stage network (one anchor per location, Cascade RPN's
#   alignment, IoU loss) that `diag_t3_point_lr001` turns into a point-based one.
#
# The last two are the first study's Table III rows at the mini lr 0.01, the lr of `sc_rpn`, so
# that every difference below is the assigners' or the representation's, not the lr's. Since
# issue 18's experiment 6, Table III's `t3_point` and `t3_iou_loss` train at the paper's lr 0.005
# (interpretation 31); at that lr the points no longer cost AR against anchors.
#
# All the functions used here live in `scrpn/viz/teaching.py` and work on any image and any model
# of the project: change the image index or the rows and run again.

# %%
# %matplotlib inline
import math

import numpy as np
import pandas as pd
from IPython.display import display

from scrpn.engine.builders import build_val_dataset
from scrpn.study.notebooks import setup
from scrpn.viz import teaching as T
from scrpn.viz.knobs import check_knobs

# The teaching knobs first: a wrong type or a value out of range is one clear error here, not a
# traceback in a later cell (`scrpn reproduce -p` checks the same before the kernel starts).
check_knobs("11_teaching_weak_correlations", dict(image_index=image_index, near_iou=near_iou,
                                                  nms_thr=nms_thr, top_k=top_k))
session = setup(profile=profile, retrain=retrain, seeds=seeds, dataset=dataset,
                results_dir=results_dir, train_missing=train_missing)
study = session.study  # = Study(profile=profile, retrain=retrain, seeds=seeds, results_dir=results_dir)
seed = seeds[0]


def show(fig, name):
    """Display a figure and save it as results/figures/teaching_<name>.png and .pdf."""
    paths = T.save_teaching_figure(fig, name, session.figures_dir.parent)
    display(fig)
    print("saved:", ", ".join(str(p) for p in paths))


if profile == "smoke":
    print("SMOKE PROFILE: the models are trained for 2 iterations on 128 px images. "
          "The code runs, but the numbers and pictures below mean nothing.")

# %%
# The trained models (from committed weights or checkpoints; trained now if missing).
sc_model, sc_cfg = study.load_model("sc_rpn", seed)
point_model, point_cfg = study.load_model("diag_t3_point_lr001", seed)
anchor_model, anchor_cfg = study.load_model("diag_t3_iou_loss_lr001", seed)

val_set = build_val_dataset(sc_cfg)
image_index = T.teaching_image(val_set, image_index, min_aspect=3.0, min_objects=3)   # checked against the data
image, target = val_set[image_index]
gts = target["boxes"]
_, aspect = T.slender_objects(gts.numpy())
print(f"validation image {image_index} of {len(val_set)}: {image.shape[-1]} x {image.shape[-2]} px, "
      f"{len(gts)} objects")
display(pd.DataFrame({"x1": gts[:, 0], "y1": gts[:, 1], "x2": gts[:, 2], "y2": gts[:, 3],
                      "sqrt(area)": ((gts[:, 2:] - gts[:, :2]).prod(1)).sqrt(),
                      "aspect ratio": aspect}).round(1))

# %% [markdown]
# ## 1. Classification score versus localisation
#
# **What the paper claims** (Introduction, first bullet; Section III-A; Fig. 4). The classification
# branch is trained with binary cross-entropy: *every* positive sample is pushed towards score 1,
# whether its box fits the object well or not. So the score says "there is an object here", not
# "this box is well placed". NMS then keeps the box with the highest score and suppresses the boxes
# overlapping it: a well-placed box with a slightly lower score can be thrown away (box B in Fig. 4).
#
# SC-RPN adds a **Light-weight IoU-Mask branch** (a 1×1 convolution and two sigmoids) trained to
# predict the IoU between each refined proposal and its ground truth. At test time the ranking
# score is the **IoU-aware score** = (classification score + IoU mask) / 2.
#
# **What we compute.** We take all candidates the model hands to NMS on our image (per level the
# best `nms_pre` by its test score), compute each one's *true* IoU with its best ground truth
# (`torchvision.ops.box_iou`), and measure how well each score follows that IoU:
# Pearson's r (linear) and Spearman's ρ (rank order: what NMS uses). We report both on
# *all* candidates and on the candidates *near* an object (true IoU ≥ 0.3): far-away background
# candidates are easy and would hide the question.
#
# Then, for every object, we run NMS twice on its nearby candidates, once ranked by the
# classification score and once by the IoU-aware score, and compare the first box each ranking
# keeps (the box NMS would output for this object).
#
# **What to look at.** In the scatter plots, do the near candidates (coloured by FPN level) climb
# to the right, i.e. does a higher score mean a better box? Is the IoU-aware panel steeper or
# tighter? On the image, where do the red (classification) and green (IoU-aware) boxes differ,
# and which one fits the white ground truth better?

# %%
res = T.score_vs_localisation(sc_model, image, target, near_iou=near_iou,
                              size_divisor=sc_cfg.data.size_divisor)
res_no_mask = T.score_vs_localisation(point_model, image, target, near_iou=near_iou,
                                      size_divisor=point_cfg.data.size_divisor)
print(f"{len(res.boxes)} candidates before NMS, {int(res.near.sum())} near an object "
      f"(IoU >= {near_iou}); IoU mask range {res.iou_mask.min():.3f} .. {res.iou_mask.max():.3f}")

rows = []
for model_name, r in (("sc_rpn", res), ("diag_t3_point_lr001 (no IoU mask)", res_no_mask)):
    for score, corr in r.corr_near.items():
        if r.iou_mask is None and score == "iou_aware":
            continue  # without the branch the IoU-aware score is the classification score
        rows.append({"model": model_name, "score": score,
                     "Pearson (near)": corr["pearson"], "Spearman (near)": corr["spearman"],
                     "Pearson (all)": r.corr_all[score]["pearson"],
                     "Spearman (all)": r.corr_all[score]["spearman"], "near candidates": corr["n"]})
display(pd.DataFrame(rows).round(3))

outcomes = T.nms_with_and_without_mask(res.boxes, res.cls_score, res.iou_aware, gts,
                                       nms_thr=nms_thr, near_iou=near_iou)
display(pd.DataFrame([{"gt": o.gt_index, "candidates": o.num_candidates,
                       "best available IoU": o.best_available_iou,
                       "1st kept, cls ranking": o.cls_top_iou,
                       "1st kept, IoU-aware": o.aware_top_iou,
                       "best kept, cls ranking": o.cls_best_kept_iou,
                       "best kept, IoU-aware": o.aware_best_kept_iou,
                       "repaired": o.repaired} for o in outcomes]).round(3))
show(T.plot_score_vs_localisation(res, image, gts, outcomes), "score_vs_localisation")

# %% [markdown]
# One image is an anecdote. The same computation on a few more validation images tells us whether
# the effect is systematic: the mean rank correlation with the true IoU, and for how many objects
# the IoU-aware ranking puts a better (or a worse) box first.

# %%
n_summary_images = min(len(val_set), 20)
summary = {"images": 0, "objects with candidates": 0, "IoU-aware better": 0, "IoU-aware worse": 0,
           "Spearman cls": [], "Spearman IoU-aware": [], "1st kept IoU, cls": [],
           "1st kept IoU, IoU-aware": []}
for i in range(n_summary_images):
    img_i, tgt_i = val_set[i]
    r = T.score_vs_localisation(sc_model, img_i, tgt_i, near_iou=near_iou,
                                size_divisor=sc_cfg.data.size_divisor)
    summary["images"] += 1
    summary["Spearman cls"].append(r.corr_near["classification"]["spearman"])
    summary["Spearman IoU-aware"].append(r.corr_near["iou_aware"]["spearman"])
    for o in T.nms_with_and_without_mask(r.boxes, r.cls_score, r.iou_aware, tgt_i["boxes"],
                                         nms_thr=nms_thr, near_iou=near_iou):
        if o.num_candidates:
            summary["objects with candidates"] += 1
            summary["IoU-aware better"] += int(o.aware_top_iou > o.cls_top_iou)
            summary["IoU-aware worse"] += int(o.aware_top_iou < o.cls_top_iou)
            summary["1st kept IoU, cls"].append(o.cls_top_iou)
            summary["1st kept IoU, IoU-aware"].append(o.aware_top_iou)
display(pd.Series({k: (np.nanmean(v) if isinstance(v, list) else v) for k, v in summary.items()},
                  name=f"over {n_summary_images} images").round(3).to_frame())

# %% [markdown]
# **Questions for the reader**
#
# 1. Two sigmoids in a row map any logit into (sigmoid(0), sigmoid(1)) ≈ (0.50, 0.73). Look at the
#    printed range of the IoU mask. How much can the IoU-aware score change the *order* of two
#    candidates whose classification scores differ by 0.05? Why did the authors want a "smaller
#    distribution variance" (Section III-A)?
# 2. NMS only uses the order of the scores. Which of the two correlations, Pearson or Spearman,
#    is the relevant one for NMS? Construct three scores for which Pearson is high but Spearman is low.
# 3. Why is the correlation on *all* candidates a misleading measure of the paper's claim?
# 4. Re-run with `nms_thr = 0.8` (what the model uses: `-p nms_thr=0.8`, or edit the parameters cell). Does the *first* kept box change?
#    Does the *best kept* box change? Which of the two matters for AR@100, which for AR@1000?
# 5. Find an object where the IoU-aware ranking is *worse*. What could the IoU mask have got wrong
#    (hint: it is trained on the refined proposals of the classification samples, Fig. 3)?

# %% [markdown]
# ## 2. Sampling inconsistency between the two stages
#
# **What the paper claims** (Introduction, second bullet; Section III-B). During training each stage
# chooses its *positive samples* (the locations whose prediction is trained to fit a given object).
# With the **Max-IoU assigner** in both stages (RPN, Cascade RPN), the paper observes three
# "sampling inconsistency" phenomena:
#
# 1. **location**: stage-1 positives lie inside the object, but once stage 1 has moved the boxes,
#    stage-2 positives can be locations *outside* the object (common for slender objects);
# 2. **number**: stable in stage 1, very unstable in stage 2 (easy objects get many positives,
#    hard ones almost none);
# 3. **size**: stage-1 positives sit on the FPN level that matches the object's size; stage-2
#    positives can come from any level.
#
# **SADS** replaces the assigners: stage 1 uses the **Positive Region assigner** (Algorithm 1: the
# locations of level $i_g$ (eq. 1) inside the centre region of the object, ratio σ = 0.2),
# stage 2 the **Size-Aware Threshold assigner** (Algorithm 2: on the levels $i_g$ and $j_g$
# (eq. 2) the k = 9 locations nearest to the object's centre are candidates; positives are those
# whose stage-1 box has an IoU above the candidates' *mean* IoU and whose location is inside the object).
#
# **What we compute.** We run the assigners *exactly as the head does during training*
# (`TwoStageProposalHead.assign`) on our image: stage 1 on the priors / locations, stage 2 on the
# stage-1 boxes of the trained model. For each stage we count positives per FPN level and per
# object, check whether each positive location is inside its object, and whether its level is one of
# the object's size-aware levels $i_g, j_g$.
#
# **What to look at.** In the pictures, dots are positive locations coloured by level, crosses are
# positives *outside* their object. Compare the stage-1 and stage-2 pictures of each row, and the
# bars: do the two stages train the same levels? In the table: how many objects get no positive at
# all, and how spread are the per-object counts?

# %%
maxiou = T.positives_per_stage(point_cfg, point_model, image, target,
                               label="Max-IoU both stages (diag_t3_point_lr001)")
sads = T.positives_per_stage(sc_cfg, sc_model, image, target, label="SADS (sc_rpn)")
# The same rule on the same boxes: Max-IoU applied to SC-RPN's own stage-1 boxes.
maxiou_same_boxes = T.positives_per_stage(point_cfg, sc_model, image, target,
                                          label="Max-IoU on sc_rpn's boxes")
display(pd.DataFrame(T.positives_table([maxiou, sads, maxiou_same_boxes])).round(1))
show(T.plot_positives_per_stage([maxiou, sads], image), "positives_per_stage")


# %% [markdown]
# Phenomenon 2 is about *stability*, which one image cannot show. Over a few validation images:
# the mean and the spread (coefficient of variation = std / mean) of the number of positives per
# object, the share of objects left without any positive, and the share of positives inside their
# object and on its size-aware levels.

# %%
def stage_summary(cfg, model, label, n_images):
    per_gt = {1: [], 2: []}
    inside = {1: [], 2: []}
    on_level = {1: [], 2: []}
    for i in range(n_images):
        img_i, tgt_i = val_set[i]
        r = T.positives_per_stage(cfg, model, img_i, tgt_i)
        for st in r.stages:
            per_gt[st.stage] += st.counts_per_gt.tolist()
            inside[st.stage] += st.inside_gt.tolist()
            on_level[st.stage] += st.on_size_levels.tolist()
    rows = []
    for s in (1, 2):
        counts = np.asarray(per_gt[s], dtype=float)
        rows.append({"strategy": label, "stage": s, "objects": counts.size,
                     "positives / object (mean)": counts.mean(),
                     "coefficient of variation": counts.std() / max(counts.mean(), 1e-9),
                     "objects without positive %": 100 * (counts == 0).mean(),
                     "inside their object %": 100 * np.mean(inside[s]) if inside[s] else math.nan,
                     "on size-aware levels %": 100 * np.mean(on_level[s]) if on_level[s] else math.nan})
    return rows


display(pd.DataFrame(stage_summary(point_cfg, point_model, "Max-IoU (diag_t3_point_lr001)", n_summary_images)
                     + stage_summary(sc_cfg, sc_model, "SADS (sc_rpn)", n_summary_images)).round(2))

# %% [markdown]
# **Questions for the reader**
#
# 1. The Max-IoU stage-2 rule here is "IoU ≥ 0.7, plus each object's best box if its IoU ≥ 0.3".
#    Early in training the stage-1 boxes are poor: what happens to the number of stage-2 positives?
#    And late in training? (This is the paper's phenomenon 2, cause (2).)
# 2. A stage-2 positive of Max-IoU can sit outside its object. Draw a slender object and a location
#    just beside it whose stage-1 box still overlaps the object by 0.7: why does this happen with
#    slender objects in particular?
# 3. SADS's stage-2 threshold is the *mean* IoU of the object's candidates. Why does a threshold that
#    follows the quality of the current boxes keep the number of positives stable over training?
# 4. Why does SADS take the candidates from two levels ($i_g$ and $j_g$) and not one, or all five
#    (Section III-B, last paragraphs; Table V)?
# 5. Compare the rows "Max-IoU both stages (diag_t3_point_lr001)" and "Max-IoU on sc_rpn's boxes" of the first
#    table. What changes when the same rule sees different stage-1 boxes, and what does that tell
#    you about a rule with a fixed IoU threshold?

# %% [markdown]
# ## 3. Anchors versus points on slender objects
#
# **What the paper claims** (Introduction, third bullet; Section III-C; Fig. 5; Table VIII). A box
# regressed from an anchor starts from a preset shape; it is easiest to fit objects whose shape is
# close to the anchor's. Even several aspect ratios cannot cover every outline, and slender objects
# (a toothbrush, a knife: here SynthShapes' *sticks* and *bars*) are the hardest. SC-RPN describes
# a proposal by **9 points** per location that move freely towards the object's extremities; the
# proposal is the min/max box of the refined points, so no preset shape constrains it.
#
# **What we compute.** For every object of aspect ratio ≥ 3 in the first validation images we take
# the *final* proposals (after NMS) of an anchor-based model (`diag_t3_iou_loss_lr001`) and of two point-based
# models (`diag_t3_point_lr001`: the same network with points; `sc_rpn`: the full method) and record the best
# IoU any of their first `top_k` proposals reaches on it (AR@100 counts exactly this). As a control,
# the same numbers for the non-slender objects.
#
# **What to look at.** The crops show the slender objects the models cover worst (white: the ground
# truth; orange dashed: anchor-based `diag_t3_iou_loss_lr001`; cyan: point-based `diag_t3_point_lr001`; pink dotted:
# `sc_rpn`). Is the anchor-based box too short or too wide where a point-based box reaches the ends
# of the object? In the table: is the gap between anchors and points larger for slender objects than for
# the others?

# %%
n_slender_images = min(len(val_set), 30)
models = {"anchor (diag_t3_iou_loss_lr001)": anchor_model, "point (diag_t3_point_lr001)": point_model,
          "point (sc_rpn)": sc_model}
samples = [val_set[i] for i in range(n_slender_images)]
# min_aspect=1: every object, so that the non-slender ones serve as the control group
matches = T.anchors_vs_points_on_slender(models, samples, min_aspect=1.0, top_k=top_k,
                                         size_divisor=sc_cfg.data.size_divisor)
slender = [m for m in matches if m.aspect >= 3.0]
rows = []
for group, ms in (("slender (aspect >= 3)", slender),
                  ("others (aspect < 3)", [m for m in matches if m.aspect < 3.0])):
    for name in models:
        best = np.array([m.best_iou[name] for m in ms])
        rows.append({"objects": group, "model": name, "count": best.size,
                     "mean best IoU": best.mean() if best.size else math.nan,
                     "recall@0.5": (best >= 0.5).mean() if best.size else math.nan,
                     "recall@0.7": (best >= 0.7).mean() if best.size else math.nan})
display(pd.DataFrame(rows).round(3))
show(T.plot_anchors_vs_points(slender, [img for img, _ in samples], max_panels=6),
     "anchors_vs_points_slender")

# %% [markdown]
# **Questions for the reader**
#
# 1. `diag_t3_iou_loss_lr001` has a single square anchor per location (side 4 strides). How far must its
#    regression stretch it to fit a 1:8 stick? Why is a large stretch hard to learn with deltas
#    that are predicted from the features of one location?
# 2. The point-based box is the min/max of 9 points. What happens to it if one point is attracted
#    by a neighbouring object or by a background "wire"?
# 3. Adding more anchor ratios (e.g. 1:4, 1:8) would help sticks. What does it cost (paper, Section
#    III-C, first paragraph), and why does it still not fit "all possible outlines"?
# 4. Is the difference between `diag_t3_point_lr001` and `sc_rpn` on slender objects due to the
#    representation? Which other component of SC-RPN could help slender objects (hint: Section
#    III-B, phenomenon 1)?
#
# ## Take-aways
#
# * The three weak correlations are *measurable*: score vs IoU (rank correlation, NMS outcomes),
#   stage 1 vs stage 2 positives (location, number, level), and representation vs outline (best IoU
#   on slender objects).
# * The paper's ablations quantify their fixes on COCO: Table III (each component), Table IV (SADS vs
#   Max-IoU combinations), Tables VI–VII (the IoU mask), Table VIII (points vs anchors). The other
#   notebooks of this project reproduce them on SynthShapes.

# %% [markdown]
# ## Answer key
#
# One folded cell per question above (section.question); open each after trying it.

# %% [markdown] jupyter={"source_hidden": true}
# **1.1.** The IoU-aware score is (classification score + mask) / 2, and the mask lies in (0.50, 0.73): two candidates' masks differ by at most 0.23, which moves their IoU-aware scores apart by at most 0.115. Their classification scores, 0.05 apart, contribute 0.025. So the mask reverses their order when their masks differ by more than 0.05, well inside its range. The paper wanted a small variance so as *not* to change the classification score's distribution dramatically (Section III-A): the mask nudges close calls, it does not overrule a confident score.

# %% [markdown] jupyter={"source_hidden": true}
# **1.2.** Spearman's: NMS only uses the order. Example: scores (0.1, 0.2, 0.3, 10) against IoUs (0.3, 0.2, 0.1, 10): one far point makes Pearson's r close to 1, while the ranks (1, 2, 3, 4) against (3, 2, 1, 4) give Spearman's ρ = 0.2.

# %% [markdown] jupyter={"source_hidden": true}
# **1.3.** Most candidates are background far from any object: low score and IoU near 0 for both scores. They make any score look correlated with the IoU; the paper's claim is about ranking the candidates *of one object* against each other, which is what the near-candidate numbers measure.

# %% [markdown] jupyter={"source_hidden": true}
# **1.4.** The first kept box is the top-ranked candidate, so it does not depend on the threshold. With 0.8 fewer boxes are suppressed, so the best kept box can only stay or improve. AR@100 counts the best box among few: near-duplicates that survive a loose threshold take slots from other objects. AR@1000 has room for them, so it gains from keeping more boxes.

# %% [markdown] jupyter={"source_hidden": true}
# **1.5.** The mask predicts the IoU of the box regressed at its location, trained on the refined proposals of the classification samples. Where that box is poor but the location's features look like a good one (an object touching another, a slender object whose box is cut short), or where the location's samples were rare in training, the mask ranks the poorer box first.

# %% [markdown] jupyter={"source_hidden": true}
# **2.1.** Early on, few stage-1 boxes reach IoU 0.7, so most objects get only their best box (if it reaches 0.3) or nothing. Late in training many boxes pass 0.7, and easy objects get many positives while hard ones still get few: the number follows the boxes' quality, not the object.

# %% [markdown] jupyter={"source_hidden": true}
# **2.2.** Stage 1 moves each location's box. A location beside a thin object, outside it, can regress a box that covers the object well; for a slender object many such locations lie within a few pixels of its long sides, so their boxes pass 0.7 while the location itself is outside.

# %% [markdown] jupyter={"source_hidden": true}
# **2.3.** The threshold is the mean IoU of the object's own k candidates per level: when the boxes improve, the mean rises with them, and roughly the better part of the candidates stays above it. The count per object stays near a fixed share of k instead of following the boxes' quality.

# %% [markdown] jupyter={"source_hidden": true}
# **2.4.** An object whose size sits between two levels' scales has good candidates on both; one level (N = 1, Table V) gives too few. All five would add candidates of the wrong scale whose low IoUs pull the mean down and let poor locations become positives (the paper's penalty for large N).

# %% [markdown] jupyter={"source_hidden": true}
# **2.5.** The same rule gives very different positives when the stage-1 boxes differ: a fixed IoU threshold turns box quality into the number of positives, which is the inconsistency SAT's per-object threshold removes.

# %% [markdown] jupyter={"source_hidden": true}
# **3.1.** A 1:8 stick of the anchor's area is sqrt(8) (about 2.8) times longer and 2.8 times narrower than the square: log-deltas of about ±1.04 in each dimension, several target standard deviations. They must be predicted from the features of one location, whose receptive field may not see both ends of the stick.

# %% [markdown] jupyter={"source_hidden": true}
# **3.2.** The box is the min/max of the nine points, so one stray point sets an edge and the box grows toward the neighbour or the wire; the IoU loss on the box then pulls the point back.

# %% [markdown] jupyter={"source_hidden": true}
# **3.3.** Every ratio multiplies the priors per location: more computation, more hyper-parameters and fewer positives per prior. A finite set of shapes still cannot match every outline, e.g. a bent or rotated stick.

# %% [markdown] jupyter={"source_hidden": true}
# **3.4.** Not only: `sc_rpn` also trains with SADS and the IoU mask. SAT refuses candidates outside their object (phenomenon 1), which matters most for slender objects; to isolate the representation, compare two rows that differ only in it (Table VIII, notebook 07).
