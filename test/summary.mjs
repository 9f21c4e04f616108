// Prints the closing "tests: N passed, M failed" line from vitest's JSON reports, summed over the
// runs given as pairs: `summary.mjs REPORT STATUS [REPORT STATUS …]` (test/run.sh runs some files
// alone). A missing or empty report counts as a failure, so a broken run can never look green.
import { readFileSync } from 'node:fs';

/** One run's passed and failed tests, from its report and vitest's exit status. */
function tally(path, status) {
  let passed = 0;
  let failed = 0;
  try {
    const report = JSON.parse(readFileSync(path, 'utf8'));
    passed = report.numPassedTests ?? 0;
    failed = report.numFailedTests ?? 0;
    // A file that failed to load or crashed in a hook has no failed assertion of its own.
    const brokenFiles = (report.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).every((a) => a.status !== 'failed'));
    failed += brokenFiles.length;
    if (report.success === false && failed === 0) failed = 1;
  } catch {
    failed = 1;
  }
  if (passed === 0 && failed === 0) failed = 1;
  // vitest exits non-zero for errors outside any test (an unhandled rejection, a crashed worker):
  // they are failures too, even when every test passed.
  if (Number(status ?? 0) !== 0 && failed === 0) {
    console.log(`vitest reported errors outside the tests in ${path} (see above)`);
    failed = 1;
  }
  return { passed, failed };
}

const args = process.argv.slice(2);
let passed = 0;
let failed = args.length === 0 ? 1 : 0;
for (let i = 0; i < args.length; i += 2) {
  const run = tally(args[i], args[i + 1]);
  passed += run.passed;
  failed += run.failed;
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
