// Prints the closing "tests: N passed, M failed" line from vitest's JSON report.
// A missing or empty report counts as a failure, so a broken run can never look green.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
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
const runnerStatus = Number(process.argv[3] ?? 0);
if (runnerStatus !== 0 && failed === 0) {
  console.log('vitest reported errors outside the tests (see above)');
  failed = 1;
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
