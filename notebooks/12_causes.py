# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 12 · Why they do not reproduce: the pre-registered cause experiments
#
# **Claim under test.** The first study found six of the paper's claims that do not reproduce at
# our scale: Cascade RPN and GA-RPN above RPN, alignment, points, the IoU mask and PosR (notebooks
# 01, 03 and 04). A reproduction may say "does not reproduce" only after its own deviations from
# the paper and from mmdetection are tested. `results/REPORT.md` ("Pre-registered: tracing each
# non-reproduction to a cause") registered, before any of these runs, one experiment per claim:
# the arms that make a suspected deviation faithful, and the rule that reads the verdict.
#
# **Computation.** This notebook trains nothing. It reads the cached runs of every arm, applies
# the registered rules (each experiment's record and rule in `scrpn/study/experiments/`) and writes
# `results/tables/causes.csv`, one line per arm. Arms whose rows are not written yet are listed as
# "not built"; those not trained yet as "not run". `scrpn study --experiment N` trains an
# experiment's arms in the registered order (`bash scripts/run_causes.sh`: all of them).

# %% tags=["parameters"]
# Parameters (papermill): profile smoke | mini | full; retrain=False reuses cached results.
profile = "mini"
retrain = False
seeds = [0, 1, 2]
dataset = "synthshapes"
results_dir = "results"
train_missing = True  # unused here: the causes table reads cached runs only

# %%
# %matplotlib inline
from IPython.display import Markdown, display

from scrpn.study.causes import causes_table, detector_logs, stage1_logs, summary, write_causes
from scrpn.study.experiments import REGISTRY
from scrpn.study.experiments.e7_geometry import GEOMETRY_MARGIN, regime_pairs, regime_runs
from scrpn.study.experiments.e8_detectors import PAPER_GAP
from scrpn.study.notebooks import setup
from scrpn.study.verdicts import STAGE1_MARGIN
from scrpn.viz import cause_figures as CF
from scrpn.viz import figures as F

session = setup(profile=profile, retrain=retrain, seeds=seeds, dataset=dataset, results_dir=results_dir,
                train_missing=False)
study, show_figure = session.study, session.show_figure
session.show_setting()

# %% [markdown]
# ## The causes table
# Per arm: the study row that trains it, seeds done, AR1000 (mean and sample sd over seeds), its
# difference Δ from the arm's reference row with the standard error (paired over seeds where both
# are scorings of the same checkpoints, experiment 3), whether stage 1 learns (the decoded
# positives' IoU exceeds the priors' by 0.05 at the end of training; runs from before the
# diagnostics existed leave it blank), and the IoU mask's Spearman ρ with the true IoU. Experiment
# 8's arms are detectors, measured in box AP (`metric`, `AP_mean`, `delta_AP`): they have their own
# section below.

# %%
frame = causes_table(study)
path = write_causes(frame, session.tables_dir)
print("->", path)
columns = ["experiment", "arm", "variant", "dataset", "row", "seeds", "AR1000_mean", "AR1000_sd", "delta_AR1000", "se",
           "resolved", "stage1_learns", "spearman", "status"]
display(frame[frame["metric"] == "AR1000"][columns].round(2))   # experiment 8's detector arms: below

# %% [markdown]
# ## Result: what the registered rules say so far

# %%
display(Markdown(summary(frame)))

# %%
show_figure(CF.causes_ar1000(frame), "causes_ar1000")

# %% [markdown]
# ## Which objects each arm misses
# The share of objects without any proposal at IoU 0.3 among the top 1,000, overall, by COCO size
# and for slender objects (aspect ≥ 4), seed means. Experiment 2 registered this view: a GA-RPN
# arm that recovers AR1000 should say which objects it finds that today's GA-RPN misses.

# %%
missed = ["experiment", "arm", "row", "missed_all", "missed_S", "missed_M", "missed_L", "missed_slender"]
display(frame[frame["missed_all"].notna()][missed].round(3))
for number in sorted(set(frame[frame["metric"] == "AR1000"]["experiment"])):   # experiment 8: detectors
    show_figure(CF.causes_missed(frame, number), f"causes_missed_{number}")

# %% [markdown]
# ## Does stage 1 learn? (experiments 1, 4 and 9)
# The rules of experiments 1, 4 and 9 ask whether stage 1 learns: at the end of training, the
# decoded stage-1 positives' mean IoU with their objects at least 0.05 above the undecoded
# priors' (the seeds' last records). Here is that margin through training for every row of the
# experiment whose runs log it (seed mean, the seeds' range shaded). A curve that stays near zero
# is a stage 1 that outputs its priors; one that rises late says the schedule matters.

# %%
for number, experiment in REGISTRY.items():
    if experiment.reads_stage1:
        show_figure(CF.stage1_margin_curves(stage1_logs(study, number), STAGE1_MARGIN,
                                            title=f"exp. {number}: {experiment.claim}: does stage 1 learn?"),
                    f"causes_stage1_{number}")

# %% [markdown]
# ## Do the detectors converge, and does SC-RPN's gap shrink? (experiment 8)
# Faster R-CNN on SC-RPN's and on RPN's 300 proposals (seed 0 each), at the mini schedule (Table
# II's rows) and at 3x its iterations. The rule compares the two gaps with the paper's +4.0 box
# AP. Beside it, the R-CNN head's loss through training: if the 3x curves are still falling at the
# mini schedule's 700 iterations and flatten later, the mini detectors had not converged.

# %%
detectors = frame[frame["metric"] == "AP"]
display(detectors[["arm", "variant", "row", "reference", "AP_mean", "delta_AP", "status", "verdict"]].round(2))
show_figure(CF.causes_detectors(frame, detector_logs(study), paper_gap=PAPER_GAP), "causes_detectors_8")

# %% [markdown]
# ## Does the peers' ranking depend on our geometry? (experiment 7)
# Table I's five methods in the mini profile (256 px, anchor scale 4, three seeds) and in the
# paper's geometry (512 px images with objects twice as large, anchor scale 8: anchors of 32 px at
# P2 and eq. (1) with base 32 exactly). The registered rule reads seed 0 of each `x7_` row:
# Cascade RPN or GA-RPN more than the margin above RPN in the paper's geometry reads
# "regime-dependent" and asks for three seeds of the five. Since experiment 1's correction Cascade
# RPN is above RPN in the mini profile too, so the amendment of 2026-12-02 also reads those seeds
# pair by pair: a pair of methods changed order only when its difference is resolved (2.5 se) in
# both geometries with opposite signs. Left: each method's AR1000 in both geometries (seed means,
# the seeds' range as a bar) and its rank; crossing lines are a changed order. Right: each method
# minus RPN in each geometry, beside the registered margin.

# %%
mini, paper = regime_runs(study)
display(frame[frame["experiment"] == 7][["arm", "variant", "row", "reference", "seeds", "AR100_mean",
                                         "AR1000_mean", "delta_AR1000", "status", "verdict"]].round(2))
show_figure(CF.causes_regime(mini, paper, margin=GEOMETRY_MARGIN), "causes_regime_7")

# %% [markdown]
# The amendment's reading, pair by pair: Δ = a - b in AR1000 with its standard error in each
# geometry (seeds: the smaller side), and whether the pair changed order, kept it, or is
# unresolved in either geometry.

# %%
pairs, reading = regime_pairs(study)
display(pairs.round(2))
display(Markdown(f"Reading (amendment of 2026-12-02): **{reading}**"))

# %% [markdown]
# ## Does it hold at convergence? (experiment 10, phase 1)
# Every verdict above was read at the mini schedule (700 iterations). Experiment 10 (issue 38)
# re-reads them at a converged schedule S*: the shortest of 1x, 2x, 4x and 8x from which doubling
# moves neither RPN's nor SC-RPN's AR1000 (seed 0) by more than 1.0. Its runs are the mini rows
# with only the schedule changed (`s<n>x_<row>`); its claims at S* stay pending until the commit
# that names S* (`configs/converged/_base.yaml`). Below: AR100, AR1000 (with the rule's ±1.0
# band) and AR_S against training length for every rung whose run exists, and each method's
# training loss in its longest run.

# %%
from scrpn.study.experiments import named_runs, run_study
from scrpn.study.experiments.e10_converged import CURVE_EXTRA, FIGURE_METHODS
from scrpn.viz.learning_curve import curve_points, learning_curve

named = named_runs(study)
points = curve_points(FIGURE_METHODS, lambda name: next((r for r in named(name) if int(r["seed"]) == 0), None),
                      extra=CURVE_EXTRA)
longest = {method: run_study(study, per[max(per)]["run"]) for method, per in points.items()}
if points:
    show_figure(learning_curve(points, {m: sub.training_log(row, 0) for m, (sub, row) in longest.items()}),
                "learning_curve_10")
else:
    print("no run of the curve's methods in this profile yet")
display(frame[frame["experiment"] == 10][["arm", "row", "reference", "seeds", "AR1000_mean", "delta_AR1000",
                                          "status", "verdict"]].round(2))

# %% [markdown]
# ## Fig. 7 for each reading of the IoU mask (experiment 3)
# Per reading, seed 0: recall against the IoU threshold for the top 300 and top 1000 proposals of
# the same checkpoints scored with the IoU-aware score and by classification alone. A mask that
# helps lifts the IoU-aware curve at the high thresholds.

# %%
for arm in REGISTRY[3].arms:
    if study.cached(arm.row, 0) is None or study.cached(arm.reference, 0) is None:
        print(f"{arm.arm} ({arm.variant}): seed 0 not run yet")
        continue
    stats = {"IoU-aware score": study.stats(arm.row, 0), "classification only": study.stats(arm.reference, 0)}
    show_figure(F.fig7_iou_mask_effect(stats), f"causes_fig7_{arm.arm}")

# %% [markdown]
# ## Questions
#
# Every number these questions need is printed above (the per-arm tables, the pair table of
# experiment 7, the figures) or in `results/tables/causes.csv`; the verdicts are read off each
# experiment's registered rule.
#
# * **Experiment 3 (the IoU mask).** No reading helps AR, though under two readings the mask's rank
#   correlation with the true IoU reaches the registered sign of a mask that learned. Would a longer
#   schedule, or COCO's many overlapping objects, give the mask something to re-rank?
# * **Experiments 1 and 9 (Cascade RPN, DeepForest).** mmdetection's loss normalisers made stage 1
#   learn on SynthShapes and put Cascade RPN above RPN; on the tree crowns the same correction leaves
#   stage 1 where it started. What stops it there: the lr that arm B would have tested, or the
#   schedule? The tiles hold about as many objects as SynthShapes' images, so the count of positives
#   alone does not set the two datasets apart. Experiment 6's correction (the paper's lr for points)
#   does carry over, and at that lr stage 1 learns on the trees: a hint for arm B?
# * **Experiment 2 (GA-RPN).** At the mini schedule it misses most slender objects; at 4x the
#   iterations it misses few and, against RPN at the same 4x, is level with it. Would the paper's
#   gain over RPN appear at a converged schedule? And since RPN itself gains much from 4x, which of
#   the "robust" verdicts (alignment, the IoU mask, PosR) were read on heads that had not converged?
# * **Experiment 4 (PosR).** Stage 1 learns in every new row, and still no PosR step reaches the
#   registered margin. The stage-1 curves above are still rising at the last iteration: does PosR's
#   step grow once stage 1 has converged?
# * **Experiment 5 (alignment).** mmdetection's init and no stage-1 dilation explain part of the
#   first study's cost of alignment; the rest is neither they nor the lr. Is it the schedule (the
#   deformable conv reads offsets that stage 1 keeps moving) or the small backbone's receptive field?
# * **Experiment 8 (the detectors at 3x).** Both detectors gain a lot of AP from 3x the iterations
#   and SC-RPN's lead over RPN shrinks toward the paper's. Would it reach the paper's at a converged
#   schedule, and does SC-RPN keep its AP75 lead there?
# * **Experiment 7 (the paper's geometry).** At 512 px with anchor scale 8 no resolved pair of
#   Table I's methods changes order, and the sizes move toward the paper's; Cascade RPN against
#   SC-RPN is unresolved there (its Δ is within 2.5 standard errors of zero, neither a tie nor a
#   gap). The other verdicts were read at 256 px with anchor scale 4 only: would the mask, or PosR,
#   pass their rules in the paper's geometry?
