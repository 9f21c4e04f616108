#!/usr/bin/env bash
# The whole test suite: set-up, type-check, vitest, and one closing line CI reads:
#   tests: N passed, M failed
# Files that measure throughput under load (ALONE) run after the rest, by themselves: beside another
# test file's CPU on two cores, a rate measured before a fault and after it compares the neighbour,
# not the verifier. With arguments (a file, a filter), one vitest run does what they say.
set -uo pipefail
cd "$(dirname "$0")/.."
bash native-fixtures/setup-system.sh || exit 1
mkdir -p .state
npx tsc -p tsconfig.json --noEmit || { echo "typecheck failed"; echo "tests: 0 passed, 1 failed"; exit 1; }
ALONE=(test/verifier-faults.test.ts)
rm -f .state/vitest-report*.json
# run_vitest REPORT [ARGS…]: one run, its JSON report written to REPORT for test/summary.mjs.
run_vitest() { local report=$1; shift; npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@"; }
if [ "$#" -gt 0 ]; then
  run_vitest .state/vitest-report.json "$@"
  node test/summary.mjs .state/vitest-report.json "$?"
  exit $?
fi
excludes=()
for file in "${ALONE[@]}"; do excludes+=(--exclude "$file"); done
run_vitest .state/vitest-report.json "${excludes[@]}"
rest=$?
run_vitest .state/vitest-report-alone.json "${ALONE[@]}"
alone=$?
node test/summary.mjs .state/vitest-report.json "$rest" .state/vitest-report-alone.json "$alone"
