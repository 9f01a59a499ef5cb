#!/bin/bash
# The pre-registered cause experiments of issue 18 (results/REPORT.md, "Pre-registered: tracing
# each non-reproduction to a cause"), in the registered order. Like run_study.sh: every
# `scrpn study` call skips cached runs and resumes interrupted ones, so the script can be started
# again after a session ends. One runner at a time (2 cores).
# Usage: bash scripts/run_causes.sh [stage ...]   (default: every stage in order)
set -e
cd "$(dirname "$0")/.."
S=".venv/bin/scrpn study"
stage() {
  case "$1" in
    # 3: the IoU mask's three readings, each scored with and without the IoU-aware score
    x3)  $S x3_mask_test_only x3_mask_test_only_notest x3_mask_single x3_mask_single_notest --seeds 0 1 2 ;;
    x3_literal) $S sc_rpn_notest --seeds 0 1 2 ;;   # retrains sc_rpn where work_dirs is fresh
    # 1: Cascade RPN, arms A-D (E, 4x iterations, one seed, comes last)
    x1a) $S x1a_cascade_mmdet_norm --seeds 0 1 2 ;;
    x1b) $S x1b_cascade_lr0005 --seeds 0 1 2 ;;
    x1c) $S x1c_cascade_norm_lr --seeds 0 1 2 ;;
    x1d) $S x1d_cascade_faithful --seeds 0 1 2 ;;
    *) echo "unknown stage $1" >&2; exit 2 ;;
  esac
}
STAGES=("$@")
[ ${#STAGES[@]} -eq 0 ] && STAGES=(x3 x3_literal x1a x1b x1c x1d)
for s in "${STAGES[@]}"; do echo "== stage $s $(date -u +%FT%TZ)"; stage "$s"; done
