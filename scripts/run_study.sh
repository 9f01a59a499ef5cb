#!/bin/bash
# The CPU study in the order its budget is spent (issue 7). Every `scrpn study` call skips runs
# whose results are cached and resumes interrupted ones, so this script can be started again after
# a session ends. Usage: bash scripts/run_study.sh [stage ...]   (default: every stage in order)
#
# Two trainings side by side, one thread each (`--jobs`, default 2; SCRPN_JOBS=1 for one 2-thread
# runner): on a quiet machine they finish x1.52 the runs per hour (issue 37, results/bench/jobs.json).
# An earlier try (2026-11-24: two 1-thread runners slowed from 0.52 to 3.0-7.0 s/iter, not
# interleaved) found the opposite; that quiet, interleaved measurement supersedes it.
set -e
cd "$(dirname "$0")/.."
S=".venv/bin/scrpn study --jobs ${SCRPN_JOBS:-2}"
stage() {
  case "$1" in
    t1_seed0)   $S rpn sc_rpn iterative_rpn cascade_rpn ga_rpn --seeds 0 ;;
    detectors4) $S det_faster_rcnn_rpn det_faster_rcnn_sc_rpn det_fast_rcnn_rpn det_fast_rcnn_sc_rpn --seeds 0 ;;
    pilot_seeds) $S rpn sc_rpn --seeds 1 2 ;;
    teaching)   $S diag_t3_point_lr001 diag_t3_iou_loss_lr001 --seeds 0 ;;   # notebook 11: the lr-0.01 rows
    seed0)      $S t3_sads t3_two_stage t3_alignment rpn_1anchor t4_maxiou_sat t8_point_description \
                   diag_t3_two_stage_lr001 diag_t3_alignment_lr001 --seeds 0 ;;
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
    # Table II split by cost: end-to-end Faster R-CNN rows need nothing else; each Fast R-CNN row
    # needs its proposal row's checkpoint (retrained where work_dirs is fresh) and proposal dumps,
    # so rows sharing a proposal row run back to back.
    t2_faster)  $S det_faster_rcnn_iterative_rpn det_faster_rcnn_ga_rpn det_faster_rcnn_cascade_rpn \
                   det_faster_rcnn_rpn_1000 det_faster_rcnn_cascade_rpn_1000 det_faster_rcnn_sc_rpn_1000 --seeds 0 ;;
    t2_fast)    $S det_fast_rcnn_cascade_rpn det_fast_rcnn_cascade_rpn_1000 det_fast_rcnn_rpn_1000 \
                   det_fast_rcnn_sc_rpn_1000 det_fast_rcnn_iterative_rpn det_fast_rcnn_ga_rpn --seeds 0 ;;
    # the first study's Cascade RPN (own loss normalisers), kept as diag_ rows when issue 18's
    # experiment 1 made mmdetection's normalisers the method's default
    diag_cascade) $S diag_cascade_rpn_paper_norm --seeds 0 1 2
                  $S diag_cascade_rpn_paper_norm --dataset deepforest --seeds 0 1 2
                  $S diag_det_fast_rcnn_cascade_rpn_paper_norm diag_det_fast_rcnn_cascade_rpn_1000_paper_norm \
                     diag_det_faster_rcnn_cascade_rpn_paper_norm diag_det_faster_rcnn_cascade_rpn_1000_paper_norm --seeds 0 ;;
    # the first study's Table III IoU-loss and point rows at the mini lr 0.01, kept as diag_ rows
    # when issue 18's experiment 6 moved them (and Table VIII) to the paper's lr 0.005
    diag_lr)    $S diag_t3_iou_loss_lr001 diag_t3_point_lr001 --seeds 0 1 2
                $S diag_t8_point_description_lr001 --seeds 0 ;;
    *) echo "unknown stage $1" >&2; exit 2 ;;
  esac
}
STAGES=("$@")
[ ${#STAGES[@]} -eq 0 ] && STAGES=(t1_seed0 detectors4 teaching pilot_seeds seed0 t3 t4 t1 t10 t6 t7 t5 t8 t9 t2_faster t2_fast diag_cascade diag_lr)
for s in "${STAGES[@]}"; do echo "== stage $s $(date -u +%FT%TZ)"; stage "$s"; done
