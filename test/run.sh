#!/usr/bin/env bash
# The whole test suite: set-up, type-check, vitest, and one closing line CI reads:
#   tests: N passed, M failed
set -uo pipefail
cd "$(dirname "$0")/.."
bash native-fixtures/setup-system.sh || exit 1
mkdir -p .state
npx tsc -p tsconfig.json --noEmit || { echo "typecheck failed"; echo "tests: 0 passed, 1 failed"; exit 1; }
npx vitest run --reporter=default --reporter=json --outputFile=.state/vitest-report.json "$@"
status=$?
node test/summary.mjs .state/vitest-report.json "$status" || status=1
exit $status
