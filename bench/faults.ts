// Faults under load (bench/faults-run.ts): PostgreSQL restarted, then one of two verifier
// instances killed with SIGKILL and started again, each under challenge logins against both and
// a trickle of token resets (queued mail). `npm run bench:faults -- --json` prints one line per fault.
import { FaultRig, type FaultKind } from './faults-run.js';

const json = process.argv.includes('--json');
const rig = await FaultRig.start({ users: 1000, callers: 16, beforeS: 5, afterS: 12, mailsPerS: 10 });
try {
  for (const fault of ['postgres-restart', 'instance-kill'] as FaultKind[]) {
    const result = await rig.run(fault);
    if (json) console.log(JSON.stringify(result));
    else
      console.log(
        `${fault}: answers ${JSON.stringify(result.answers)}; not all 200 for ${result.outage_s} s; back to ≥ 0.9 of ${result.baseline_logins_per_s}/s ${result.recovery_s === null ? 'never' : `${result.recovery_s} s after`}; slowest answer ${result.slowest_answer_ms} ms; ` +
          `replays accepted ${result.double_consumes}, lost logins ${result.lost_logins}, lost mails ${result.lost_mails}, mails sent twice ${result.duplicate_mails}, 503s without Retry-After ${result.unavailable_without_retry_after}`,
      );
  }
} finally {
  await rig.stop();
}
