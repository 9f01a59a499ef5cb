#!/bin/bash
# The pre-registered cause experiments of issue 18 (results/REPORT.md, "Pre-registered: tracing
# each non-reproduction to a cause"), in the registered order. Each experiment's stages (rows,
# seeds, dataset, the ones dropped by an amendment) are its record in scrpn/study/experiments/;
# `scrpn study --experiment N` runs them, skipping cached runs and resuming interrupted ones, so
# the script can be started again after a session ends. Each stage's runs train two side by side,
# one thread each (SCRPN_JOBS, default 2; issue 37 measured x1.52 the runs per hour, results/bench/jobs.json).
# Usage: bash scripts/run_causes.sh [N ...]   (default: every experiment, in the registered order)
set -e
cd "$(dirname "$0")/.."
ORDER=("$@")
[ ${#ORDER[@]} -eq 0 ] && ORDER=($(.venv/bin/python -c "from scrpn.study.experiments import RUN_ORDER; print(*RUN_ORDER)"))
for n in "${ORDER[@]}"; do echo "== experiment $n $(date -u +%FT%TZ)"; .venv/bin/scrpn study --experiment "$n" --jobs "${SCRPN_JOBS:-2}"; done
