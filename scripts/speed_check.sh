#!/bin/bash
# Issue 19's retrain check: `rpn` and `sc_rpn` seed 0 of the mini profile trained again on today's
# speed path (configs/mini/_base.yaml: train.memory_format=channels_last), into their own results
# and checkpoint folders so that the committed runs stay as they are; then the comparison with the
# committed seeds (scripts/speed_check.py -> results/speed_check/summary.md). Resumable, like the
# study. One training at a time (2 cores).
set -e
cd "$(dirname "$0")/.."
SCRPN_WORK_DIR=work_dirs/speed_check .venv/bin/scrpn study rpn sc_rpn --seeds 0 --results-dir results/speed_check
.venv/bin/python scripts/speed_check.py
