// Retention under sustained load, on SQLite (where a delete runs on the event loop and holds the
// one writer lock): challenge logins run for a while against a verifier whose challenges are valid
// 2 s and kept 5 s after (instead of 60 s and an hour: the same purge, sooner) and purges every second;
// the challenges table's row count is printed each second, and must level off. Then 1,000,000
// audit rows older than the retention are purged while the logins go on: login p99 and the
// event loop's longest stall are printed beside the same figures without a purge.
// `npm run bench:retention -- --json` prints JSON lines.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { PasswordHasher } from '../src/verifier/accounts/passwords.js';
import { hashSecurityToken } from '../src/verifier/accounts/security-token.js';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { Verifier } from '../src/verifier/verifier.js';
import { runLoad } from './load-runner.js';
import { seedSqlite } from './scale-seed.js';

const json = process.argv.includes('--json');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const USERS = 10_000;
const PURGED_AUDIT = 1_000_000;
const DAY = 86_400_000;
const print = (line: Record<string, unknown>) => console.log(json ? JSON.stringify(line) : Object.entries(line).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' '));

const dir = mkdtempSync(join(tmpdir(), 'tokengate-bench-retention-'));
try {
  const database = join(dir, 'verifier.sqlite');
  const secret = ServerSecret.generate();
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = pair.publicKey.export({ format: 'der', type: 'spki' });
  const keyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const mail = { from: 'bench@localhost', transport: { kind: 'outbox' as const, dir: join(dir, 'outbox') } };
  let template: { keyType: string; algorithms: string };
  {
    await using verifier = await Verifier.open({ database, secret, mail });
    await verifier.admin.create('bench', { username: 'template', email: 'template@example.test', password: 'bench password 123' });
    const enrolled = await verifier.credentials.enroll('bench', { username: 'template', publicKey: spki });
    template = { keyType: enrolled.keyType, algorithms: enrolled.algorithms.join(' ') };
    await verifier.admin.delete('bench', 'template');
  }
  // Users, and audit rows that are all older than the retention (30 days) set below.
  const now = Date.now();
  await seedSqlite(database, {
    users: USERS,
    auditRows: PURGED_AUDIT,
    passwordHash: await new PasswordHasher().hash('unused password 123'),
    tokenHash: hashSecurityToken(secret, 'unused'),
    spki,
    keyType: template.keyType,
    algorithms: template.algorithms,
    now: now - 31 * DAY,
  });

  const count = (table: string) => {
    const db = new BetterSqlite3(database, { readonly: true });
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const settings = { users: USERS, callers: 16, password: '', token: '', keyPem, mode: 'challenge' as const };

  // Part 1: the challenges table under sustained load.
  {
    // Challenges valid 2 s (answered within milliseconds here) and kept 5 s after: a spent one
    // goes 7 s after it was issued, so the table should hold about 7 s of logins, however long the run.
    await using verifier = await Verifier.open({ database, secret, mail, challengeTtlMs: 2000, challengeRetentionMs: 5000, housekeepingIntervalMs: 1000, ipLimit: { failures: 1_000_000 } });
    const app = await buildVerifierServer(verifier);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const started = Date.now();
    const sampler = setInterval(() => print({ bench: 'retention', table: 'challenges', t_s: Math.round((Date.now() - started) / 1000), rows: count('challenges') }), 1000);
    const load = await runLoad({ ...settings, urls: [url], seconds: SECONDS });
    clearInterval(sampler);
    print({ bench: 'retention', table: 'challenges', logins: load.ok, logins_per_s: Math.round(load.ok / (load.ms / 1000)), rows_at_end: count('challenges'), ttl_s: 2, kept_s: 5 });
    await app.close();
  }

  // Part 2: a million old audit rows purged (retention 30 days) while logins go on, against the same load without a purge.
  {
    await using verifier = await Verifier.open({ database, secret, mail, auditRetentionMs: 30 * DAY, housekeepingIntervalMs: 3_600_000, ipLimit: { failures: 1_000_000 } });
    const app = await buildVerifierServer(verifier);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const round = async (purge: boolean) => {
      loop.reset();
      loop.enable();
      const load = runLoad({ ...settings, urls: [url], seconds: 20 });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const purgeStart = performance.now();
      const purged = purge ? await verifier.housekeep() : undefined;
      const purgeS = (performance.now() - purgeStart) / 1000;
      const result = await load;
      loop.disable();
      return { purge, audit_rows_purged: purged?.audit_log ?? 0, purge_s: Math.round(purgeS * 10) / 10, logins_per_s: Math.round(result.ok / (result.ms / 1000)), login_p99_ms: Math.round(result.p99_ms * 10) / 10, event_loop_max_ms: Math.round(loop.max / 1e5) / 10, event_loop_p99_ms: Math.round(loop.percentile(99) / 1e5) / 10 };
    };
    print({ bench: 'retention', table: 'audit_log', audit_rows_before: count('audit_log'), ...(await round(false)) });
    print({ bench: 'retention', table: 'audit_log', ...(await round(true)), audit_rows_after: count('audit_log') });
    await app.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
