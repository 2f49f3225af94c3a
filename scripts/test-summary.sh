#!/usr/bin/env bash
# Adds up the TRX files of one `make test` run into the closing line CI reads:
# "microseg: N passed, N failed, N skipped".
set -euo pipefail
dir=${1:?usage: test-summary.sh TRX_DIR}
passed=0 failed=0 skipped=0
shopt -s nullglob
for f in "$dir"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$f" || true)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
echo "microseg: $passed passed, $failed failed, $skipped skipped"
