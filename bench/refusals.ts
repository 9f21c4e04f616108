// Refusal timing: how long POST /v1/login takes to refuse an unknown user, a locked user and a
// wrong password, one request at a time over a keep-alive connection. The three kinds take turns
// (the order rotating every round) so a slow moment of the host lands on all of them alike; the
// median of each is reported. They should agree within 25%: a gap tells a guesser which
// usernames exist or are locked.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { Verifier } from '../src/verifier/verifier.js';

const ROUNDS = Number(process.env.BENCH_REFUSAL_ROUNDS ?? 60);
const WARM_UP_ROUNDS = 5;
const PASSWORD = 'correct horse battery staple';
const THRESHOLD = 5;
type Kind = 'unknown' | 'locked' | 'wrong_password';
const KINDS: readonly Kind[] = ['unknown', 'locked', 'wrong_password'];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export async function refusalTimingBench(): Promise<{ bench: 'login_refusal_timing'; login_refusal_median_ms: Record<Kind, number>; max_over_min: number; rounds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tokengate-bench-refusals-'));
  const verifier = await Verifier.open({
    database: join(dir, 'verifier.sqlite'),
    secret: ServerSecret.generate(),
    mail: { from: 'bench@localhost', transport: { kind: 'outbox', dir: join(dir, 'outbox') } },
    // Locked for the whole run; one address sends everything, so its budget must not run out.
    lockout: { threshold: THRESHOLD, baseMs: 24 * 3_600_000 },
    ipLimit: { failures: 1_000_000 },
  });
  const app = await buildVerifierServer(verifier);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const username of ['locked', 'wrong']) await verifier.admin.create('bench', { username, email: `${username}@example.test`, password: PASSWORD });
    const token = 'A'.repeat(verifier.tokenLength);
    for (let i = 0; i < THRESHOLD; i++) await verifier.login({ username: 'locked', password: 'not the password', securityToken: token, clientIp: '127.0.0.1' }).catch(() => undefined);
    if (!(await verifier.admin.get('locked')).locked) throw new Error('the locked user is not locked');

    const address = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const bodies: Record<Kind, Buffer> = {
      unknown: Buffer.from(JSON.stringify({ username: 'nobody', password: PASSWORD, securityToken: token })),
      locked: Buffer.from(JSON.stringify({ username: 'locked', password: PASSWORD, securityToken: token })),
      wrong_password: Buffer.from(JSON.stringify({ username: 'wrong', password: 'not the password', securityToken: token })),
    };
    const timed = (payload: Buffer) =>
      new Promise<number>((resolve, reject) => {
        const start = performance.now();
        const req = request(
          { host: address.hostname, port: address.port, path: '/v1/login', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
          (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 401 ? resolve(performance.now() - start) : reject(new Error(`expected 401, got ${res.statusCode}`))));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });

    const times: Record<Kind, number[]> = { unknown: [], locked: [], wrong_password: [] };
    for (let round = 0; round < WARM_UP_ROUNDS + ROUNDS; round++) {
      for (let k = 0; k < KINDS.length; k++) {
        const kind = KINDS[(round + k) % KINDS.length]!;
        const ms = await timed(bodies[kind]);
        if (round >= WARM_UP_ROUNDS) times[kind].push(ms);
      }
      // Outside the timing: the wrong-password user must stay below the threshold, not lock.
      await verifier.admin.apply('bench', 'wrong', 'unlock');
    }
    const medians = { unknown: round2(median(times.unknown)), locked: round2(median(times.locked)), wrong_password: round2(median(times.wrong_password)) };
    const values = Object.values(medians);
    return { bench: 'login_refusal_timing', login_refusal_median_ms: medians, max_over_min: round2(Math.max(...values) / Math.min(...values)), rounds: ROUNDS };
  } finally {
    agent.destroy();
    await app.close();
    await verifier.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
