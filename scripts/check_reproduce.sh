#!/usr/bin/env bash
# Re-render every notebook, table and figure from the cached runs (`scrpn reproduce --no-train`)
# and show what changed against the committed files. With the same results nothing may change
# except each notebook's execution timestamps (papermill's start_time, end_time, duration).
# Usage: bash scripts/check_reproduce.sh [extra reproduce options]   (exit 1: something changed)
# The test suite runs the same check on every CI run, in a temporary copy of the tracked files
# (tests/test_staleness.py); this script shows the diff in the checkout itself.
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(notebooks results/tables results/figures)
if [ -n "$(git status --porcelain -- "${paths[@]}")" ]; then
  echo "check_reproduce: ${paths[*]} have uncommitted changes; commit or stash them first" >&2
  exit 2
fi
.venv/bin/scrpn reproduce --no-train "$@"
git status --porcelain -- "${paths[@]}"
status=0
files=$(git status --porcelain -- results/tables results/figures)
if [ -n "$files" ]; then
  echo "tables or figures changed:"; echo "$files"; status=1
fi
lines=$(git diff -U0 -- notebooks | grep -E '^[-+][^-+]' | grep -vE '^[-+] *"(start_time|end_time|duration)": ' || true)
if [ -n "$lines" ]; then
  echo "notebooks changed beyond their execution timestamps:"; echo "$lines" | head -40; status=1
fi
[ $status = 0 ] && echo "check_reproduce: no change except execution timestamps"
exit $status
