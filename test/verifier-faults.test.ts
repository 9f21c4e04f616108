// Faults under a small load (bench/faults-run.ts): two verifier processes share a private
// PostgreSQL; challenge logins run against both and token resets queue mail to a real SMTP peer.
// PostgreSQL restarted: requests meanwhile are answered 503 with Retry-After (never 500, never
// left hanging), both instances reconnect by themselves, and afterwards no challenge was consumed
// twice, every login answered 200 is in the audit log, every queued mail arrived exactly once, and
// throughput is back to 0.9 of before within 10 s. One instance killed with SIGKILL and started
// again: the same, with the killed one's callers refused a connection while it is down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultRig, RECOVERY_LIMIT_S } from '../bench/faults-run.js';

let rig: FaultRig;

beforeAll(async () => {
  rig = await FaultRig.start({ users: 200, callers: 8, beforeS: 3, afterS: 4, mailsPerS: 8 });
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});

/** What every fault must leave: no replay accepted, no login or mail lost, no 500s, no hang. */
function expectClean(result: Awaited<ReturnType<FaultRig['run']>>): void {
  expect(result.double_consumes).toBe(0);
  expect(result.lost_logins).toBe(0);
  expect(result.lost_mails).toBe(0);
  expect(result.answers['500']).toBeUndefined();
  expect(result.answers.timeout).toBeUndefined();
  expect(result.unavailable_without_retry_after).toBe(0);
  expect(result.recovery_s).not.toBeNull();
  expect(result.recovery_s!).toBeLessThanOrEqual(RECOVERY_LIMIT_S);
  expect(result.answers['200']).toBeGreaterThan(0);
}

describe('faults under load, two instances on one PostgreSQL', () => {
  it('PostgreSQL restarted: 503 with Retry-After meanwhile, then both instances back by themselves', async () => {
    const result = await rig.run('postgres-restart');
    expectClean(result);
    expect(result.answers['503']).toBeGreaterThan(0);
    // Only 200s, 503s and the refusals of retried answers the store had consumed before it went.
    expect(Object.keys(result.answers).filter((status) => !['200', '503', '401'].includes(status))).toEqual([]);
    // Mail sent while the store was away is recorded once it is back, not sent again.
    expect(result.duplicate_mails).toBe(0);
    expect(result.slowest_answer_ms).toBeLessThan(8000);
  }, 60_000);

  it('one instance killed and started again: the other keeps answering, the killed one comes back', async () => {
    const result = await rig.run('instance-kill');
    expectClean(result);
    // The killed instance's callers found no one listening; nobody was answered 503 or 500 for it.
    expect(result.answers.error).toBeGreaterThan(0);
    // At most the one mail the killed instance had sent but not yet recorded goes out again.
    expect(result.duplicate_mails).toBeLessThanOrEqual(1);
  }, 60_000);
});
