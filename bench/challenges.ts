// Challenge-response benchmark: full round trips over HTTP (challenge → the client signs with
// node:crypto in its own process → response verified), ECDSA P-256, against node:crypto's own
// verify in one process in the same run. Runs on SQLite, then on a private PostgreSQL server.
// `npm run bench:verifier -- --json` prints these lines after the password bench.
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../native-fixtures/postgres/server.js';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { Verifier } from '../src/verifier/verifier.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CALLERS = 32;

function rawVerifyPerSecond(): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const message = Buffer.alloc(200, 7);
  const signature = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const until = Date.now() + SECONDS * 1000;
  let n = 0;
  const start = Date.now();
  while (Date.now() < until) if (verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) n++;
  return n / ((Date.now() - start) / 1000);
}

async function run(store: 'sqlite' | 'postgres', database: string, dir: string): Promise<Record<string, unknown>> {
  const verifier = await Verifier.open({ database, secret: ServerSecret.generate(), mail: { from: 'bench@localhost', transport: { kind: 'outbox', dir: join(dir, `outbox-${store}`) } } });
  const app = await buildVerifierServer(verifier);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const load = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./challenge-load.ts', import.meta.url)), address, String(SECONDS), String(CALLERS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: load.stdout! });
  const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
  const { spkis } = JSON.parse(await next()) as { spkis: string[] };
  const credentials: string[] = [];
  for (let i = 0; i < CALLERS; i++) {
    const username = `user${i}`;
    await verifier.admin.create('bench', { username, email: `${username}@example.test`, password: 'bench password 123' });
    await verifier.admin.setChallengePolicy('bench', username, 'token-only');
    credentials.push((await verifier.credentials.enroll('bench', { username, publicKey: Buffer.from(spkis[i]!, 'base64') })).id);
  }
  const raw = process.env.BENCH_NO_RAW ? 1 : rawVerifyPerSecond();
  const cpuBefore = process.cpuUsage();
  load.stdin!.write(`${JSON.stringify({ credentials })}\n`);
  const result = JSON.parse(await next()) as { ok: number; errors: number; ms: number; p99_ms: number; cpu_ms: number };
  const cpu = process.cpuUsage(cpuBefore);
  if (process.env.BENCH_DEBUG) console.error(JSON.stringify({ store, ...result, server_cpu_ms: (cpu.user + cpu.system) / 1000 }));
  await app.close();
  await verifier.close();
  const perS = result.ok / (result.ms / 1000);
  return {
    bench: 'challenge_login',
    store,
    challenge_logins_per_s: Math.round(perS),
    raw_verify_per_s: Math.round(raw),
    challenge_vs_raw_verify: Math.round((perS / raw) * 1000) / 1000,
    p99_ms: Math.round(result.p99_ms * 10) / 10,
    errors: result.errors,
  };
}

export async function challengeBench(): Promise<Array<Record<string, unknown>>> {
  const dir = mkdtempSync(join(tmpdir(), 'tokengate-bench-challenges-'));
  const results = [];
  try {
    results.push(await run('sqlite', join(dir, 'verifier.sqlite'), dir));
    if (process.env.BENCH_SQLITE_ONLY) return results;
    const pg = await startPostgres();
    try {
      results.push(await run('postgres', pg.url, dir));
    } finally {
      await pg.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Run alone: `npx tsx bench/challenges.ts`.
  for (const line of await challengeBench()) console.log(JSON.stringify(line));
}
