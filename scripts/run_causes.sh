#!/bin/bash
# The pre-registered cause experiments of issue 18 (results/REPORT.md, "Pre-registered: tracing
# each non-reproduction to a cause"), in the registered order. Like run_study.sh: every
# `scrpn study` call skips cached runs and resumes interrupted ones, so the script can be started
# again after a session ends. One runner at a time (2 cores).
# Usage: bash scripts/run_causes.sh [stage ...]   (default: every stage in order)
set -e
cd "$(dirname "$0")/.."
S=".venv/bin/scrpn study"
# experiment 7's five rows: the ones its rule reads first (RPN, Cascade RPN, GA-RPN), then the two
# that only set the order
X7="x7_rpn x7_cascade_rpn x7_ga_rpn x7_sc_rpn x7_iterative_rpn"
stage() {
  case "$1" in
    # 3: the IoU mask's three readings, each scored with and without the IoU-aware score
    x3)  $S x3_mask_test_only x3_mask_test_only_notest x3_mask_single x3_mask_single_notest --seeds 0 1 2 ;;
    x3_literal) $S sc_rpn_notest sc_rpn_rescored --seeds 0 1 2 ;;   # retrains sc_rpn where work_dirs is fresh
    # 1: Cascade RPN, arms A-D (E, 4x iterations, one seed, comes last)
    x1a) $S x1a_cascade_mmdet_norm --seeds 0 1 2 ;;
    x1b) $S x1b_cascade_lr0005 --seeds 0 1 2 ;;
    x1c) $S x1c_cascade_norm_lr --seeds 0 1 2 ;;
    x1d) $S x1d_cascade_faithful --seeds 0 1 2 ;;
    x1e) $S x1e_cascade_4x --seeds 0 ;;
    # 1's verdict (arm A) made mmdetection's normalisers Cascade RPN's default: Table I's row is
    # re-scored from arm A's checkpoints (same training config), Table II's Cascade RPN rows retrain
    x1_default) $S cascade_rpn --seeds 0 1 2 ;;
    x1_det) $S det_fast_rcnn_cascade_rpn det_fast_rcnn_cascade_rpn_1000 det_faster_rcnn_cascade_rpn \
               det_faster_rcnn_cascade_rpn_1000 --seeds 0 ;;
    # 9: the corrected defaults on DeepForest (Table X's rows; registered after experiment 1)
    x9)  $S cascade_rpn --dataset deepforest --seeds 0 1 2 ;;
    # 9's second correction (experiment 6's amendment): points against anchors at lr 0.005 on DeepForest
    x9_points) $S t3_point t3_iou_loss --dataset deepforest --seeds 0 1 2 ;;
    # 4: stage 1 and PosR; R under S0, then under the better S arm (read off the S1 / S2 runs)
    x4)  $S x4s1_maxiou_sat_unitbox x4s1_sads_unitbox x4s2_maxiou_sat_w2 x4s2_sads_w2 x4r_sads_rounded --seeds 0 1 2
         # then R under the S arm in which stage 1 learns with the larger margin (none: S0 only)
         R=$(.venv/bin/python scripts/cause_report.py --posr-rounded-row 2>/dev/null | tail -1)
         if [ -n "$R" ]; then $S "$R" --seeds 0 1 2; else echo "experiment 4: stage 1 learns under neither S arm: R under S0 only"; fi ;;
    # 5: alignment with faithful init and dilation (L1), and without the lr confound (L2)
    x5)  $S x5l1_alignment_faithful x5l2_two_stage_iou --seeds 0 1 2 ;;
    # 6: points: lr 0.005 (P1), scaled secondary offsets (P2), the anchors + SADS control (P0).
    # P1 first: the verdict reads P1, then P2, and P1 alone can decide it; P0 is reported beside it
    x6)  $S x6p1_point_lr0005 x6p1_iou_loss_lr0005 x6p2_point_offsets05 x6p0_anchor_sads --seeds 0 1 2 ;;
    # 2: GA-RPN: the location filter off (G0, re-evaluation), normalisers + init (G1), G3, 4x (G2)
    x2)  $S ga_rpn_nofilter x2g1_ga_rpn_mmdet_norm_init x2g3_ga_rpn_mmdet3_loc --seeds 0 1 2
         $S x2g2_ga_rpn_4x x2g2c_rpn_4x --seeds 0 ;;   # G2, then its control (amendment of 2026-12-02)
    # 7: Table I's five methods in the paper's geometry (512 px, anchor scale 8), one seed each.
    x7)  $S $X7 --seeds 0 ;;
    # 7's "regime-dependent" branch: 3 seeds of the five (the amendment of 2026-12-02 reads them
    # pair by pair, verdicts.experiment7_pairs); Cascade RPN's seed 0 is 14.5 above RPN's. Seed 1
    # of every row first: two seeds of each already read every pair, should a session end early
    x7_seeds) $S $X7 --seeds 1 && $S $X7 --seeds 2 ;;
    # 8: the detector gap at 3x iterations (one seed each)
    x8)  $S x8_det_faster_rcnn_rpn_3x x8_det_faster_rcnn_sc_rpn_3x --seeds 0 ;;
    *) echo "unknown stage $1" >&2; exit 2 ;;
  esac
}
STAGES=("$@")
# the registered order: 3, 1 (A-D, then E), 4, 5, 6, 2, 8, 7. Arm A decided experiment 1, so B-E are
# dropped (REPORT, amendment); Table I's re-scored row (x1_default), experiment 9 (x9) and Table
# II's retrained Cascade RPN detectors (x1_det) run next. Experiment 6's verdict (P1) changed a
# default, so its correction's DeepForest runs (x9_points) follow x6.
[ ${#STAGES[@]} -eq 0 ] && STAGES=(x3 x3_literal x1a x1_default x9 x1_det x4 x5 x6 x9_points x2 x8 x7 x7_seeds)
for s in "${STAGES[@]}"; do echo "== stage $s $(date -u +%FT%TZ)"; stage "$s"; done
