#!/bin/bash
# The CPU study in the order its budget is spent (issue 7). Every `scrpn study` call skips runs
# whose results are cached and resumes interrupted ones, so this script can be started again after
# a session ends. Usage: bash scripts/run_study.sh [stage ...]   (default: every stage in order)
#
# Two lanes. On the 2-core machine two 1-thread runners train about 1.3x faster than one 2-thread
# runner (scrpn bench, mini profile: RPN 0.361 s/iter on 1 thread vs 0.263 on 2; SC-RPN 0.638 vs
# 0.413), so the study ran as
#   OMP_NUM_THREADS=1 bash scripts/run_study.sh lane_a &  OMP_NUM_THREADS=1 bash scripts/run_study.sh lane_b
# The lanes share no row in a way that could make them train the same run at the same time
# (lane_b's Table VI / VIII rows that reuse t3_point / t3_sads seed 0 come after lane_a trained
# them); never start two runners on the same row and seed.
set -e
cd "$(dirname "$0")/.."
S=".venv/bin/scrpn study"
stage() {
  case "$1" in
    t1_seed0)   $S rpn sc_rpn iterative_rpn cascade_rpn ga_rpn --seeds 0 ;;
    detectors4) $S det_faster_rcnn_rpn det_faster_rcnn_sc_rpn det_fast_rcnn_rpn det_fast_rcnn_sc_rpn --seeds 0 ;;
    pilot_seeds) $S rpn sc_rpn --seeds 1 2 ;;
    teaching)   $S t3_point t3_iou_loss --seeds 0 ;;
    t3)         $S table03_components --seeds 0 1 2 ;;
    t1)         $S table01_proposals_coco --seeds 0 1 2 ;;
    t4)         $S table04_sads_combinations --seeds 0 1 2 ;;
    t10)        $S rpn cascade_rpn sc_rpn --dataset deepforest --seeds 0 1 2 ;;
    t8)         $S table08_point_representation --seeds 0 ;;
    t6)         $S table06_iou_mask_training_samples --seeds 0 ;;
    t7)         $S table07_iou_mask_feature_map --seeds 0 ;;
    t5)         $S table05_sads_hyperparameters --seeds 0 ;;
    t9)         $S table09_more_detectors --seeds 0 ;;
    t2)         $S table02_detection_coco --seeds 0 ;;
    lane_a)     for x in teaching pilot_seeds t3_sads t4_row t10 t5 t9; do stage "$x"; done ;;
    lane_b)     for x in t3_rows t3_seeds t8 t6 t7 t2; do stage "$x"; done ;;
    t3_sads)    $S t3_sads --seeds 0 1 2 ;;
    t3_rows)    $S rpn_1anchor t3_two_stage t3_alignment --seeds 0 1 2 ;;
    t3_seeds)   $S t3_iou_loss t3_point --seeds 1 2 ;;
    t4_row)     $S t4_maxiou_sat --seeds 0 1 2 ;;
    *) echo "unknown stage $1" >&2; exit 2 ;;
  esac
}
STAGES=("$@")
[ ${#STAGES[@]} -eq 0 ] && STAGES=(t1_seed0 detectors4 teaching pilot_seeds t3 t1 t4 t10 t8 t6 t7 t5 t9 t2)
for s in "${STAGES[@]}"; do echo "== stage $s $(date -u +%FT%TZ)"; stage "$s"; done
