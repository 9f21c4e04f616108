// Verifier benchmark: password + security-token logins over HTTP against argon2id verification
// alone, in the same run, at the same cost (OWASP: m = 19 MiB, t = 2, p = 1). The hash is the
// work; the verifier should add little to it and never block its event loop.
// Then how long refusals take, by reason (bench/refusals.ts), and challenge-response round trips
// (bench/challenges.ts).
// `npm run bench:verifier -- --json` prints JSON lines; without --json, a readable summary.
import { verify } from '@node-rs/argon2';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PasswordHasher } from '../src/verifier/accounts/passwords.js';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { Verifier } from '../src/verifier/verifier.js';
import { challengeBench } from './challenges.js';
import { mainAndOthers, threadTimes } from './thread-cpu.js';
import { refusalTimingBench } from './refusals.js';

const json = process.argv.includes('--json');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
// Enough callers to keep every argon2 thread busy (libuv's pool: 4 unless UV_THREADPOOL_SIZE).
const CONCURRENCY = 16;
// Raw and HTTP rounds alternate (which goes first alternates too); each round pair gives a ratio,
// and the median of those is the figure, with the spread beside it: a noisy moment on the shared
// host moves one pair, not the result.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PASSWORD = 'correct horse battery staple';

const dir = mkdtempSync(join(tmpdir(), 'tokengate-bench-verifier-'));
try {
  const verifier = await Verifier.open({
    database: join(dir, 'verifier.sqlite'),
    secret: ServerSecret.generate(),
    mail: { from: 'bench@localhost', transport: { kind: 'outbox', dir: join(dir, 'outbox') } },
  });
  // One user per caller, as in real traffic: one user's parallel logins share its lockout slots.
  for (let i = 0; i < CONCURRENCY; i++) await verifier.admin.create('bench', { username: `bench${i}`, email: `bench${i}@example.test`, password: PASSWORD });
  await verifier.deliverMail();
  const bodies = readdirSync(join(dir, 'outbox')).map((file) => {
    const mail = readFileSync(join(dir, 'outbox', file), 'utf8');
    const username = /Hello (bench\d+),/.exec(mail)![1]!;
    const token = /Security token: ([A-Za-z0-9]+)/.exec(mail)![1]!;
    return JSON.stringify({ username, password: PASSWORD + token });
  });
  const passwordHash = await new PasswordHasher().hash(PASSWORD);

  // Raw: argon2id verifications with the same concurrency, nothing else.
  async function rawRound(): Promise<{ perS: number; cpuUs: number }> {
    const until = Date.now() + SECONDS * 1000;
    let done = 0;
    const start = Date.now();
    const cpu = process.cpuUsage();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < until) if (await verify(passwordHash, PASSWORD)) done++;
      }),
    );
    const used = process.cpuUsage(cpu);
    return { perS: done / ((Date.now() - start) / 1000), cpuUs: (used.user + used.system) / done };
  }

  // The verifier: HTTP logins from another process while this loop's delay is measured.
  const app = await buildVerifierServer(verifier);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const load = fileURLToPath(new URL('./verifier-load.ts', import.meta.url));
  const loop = monitorEventLoopDelay({ resolution: 1 });
  async function httpRound(): Promise<{ perS: number; errors: number; p99: number; cpuUs: number; mainUs: number; poolUs: number; loadUs: number }> {
    loop.enable();
    const cpu = process.cpuUsage();
    const threadsBefore = threadTimes();
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', load, `${address}/v1/login`, JSON.stringify(bodies), String(SECONDS), String(CONCURRENCY)]);
    loop.disable();
    const result = JSON.parse(stdout) as { ok: number; errors: number; ms: number; latencies_ms_p99: number; cpu_ms: number };
    if (process.env.BENCH_DEBUG) console.error(JSON.stringify(result));
    // This process's CPU while the load ran (the server, its argon2 threads): startup of the load
    // generator is its own process's, not counted here.
    const used = process.cpuUsage(cpu);
    const threads = mainAndOthers(threadsBefore, threadTimes());
    return {
      perS: result.ok / (result.ms / 1000),
      errors: result.errors,
      p99: result.latencies_ms_p99,
      cpuUs: (used.user + used.system) / result.ok,
      mainUs: threads.main / 1e3 / result.ok,
      poolUs: threads.others / 1e3 / result.ok,
      loadUs: (result.cpu_ms * 1e3) / result.ok,
    };
  }

  const pairs: Array<{ raw: number; http: number; ratio: number; rawCpuUs: number; serverCpuUs: number; mainUs: number; poolUs: number; loadUs: number }> = [];
  const latencies: number[] = [];
  let errors = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const rawFirst = round % 2 === 0 ? await rawRound() : undefined;
    const http = await httpRound();
    const raw = rawFirst ?? (await rawRound());
    errors += http.errors;
    latencies.push(http.p99);
    pairs.push({ raw: raw.perS, http: http.perS, ratio: http.perS / raw.perS, rawCpuUs: raw.cpuUs, serverCpuUs: http.cpuUs, mainUs: http.mainUs, poolUs: http.poolUs, loadUs: http.loadUs });
  }
  const ratios = pairs.map((p) => p.ratio);
  const round3 = (n: number) => Math.round(n * 1000) / 1000;
  const figures = {
    bench: 'password_token_login',
    cores: availableParallelism(),
    argon2: 'm=19456KiB,t=2,p=1',
    rounds: ROUNDS,
    password_token_logins_per_s: Math.round(median(pairs.map((p) => p.http)) * 10) / 10,
    raw_argon2_verify_per_s: Math.round(median(pairs.map((p) => p.raw)) * 10) / 10,
    password_token_vs_raw: round3(median(ratios)),
    password_token_vs_raw_min: round3(Math.min(...ratios)),
    password_token_vs_raw_max: round3(Math.max(...ratios)),
    event_loop_p99_ms: Math.round((loop.percentile(99) / 1e6) * 100) / 100,
    login_p99_ms: Math.round(median(latencies) * 10) / 10,
    // Where a login's CPU goes: one raw verification's, and the server's per login (hash included).
    raw_cpu_us_per_verify: Math.round(median(pairs.map((p) => p.rawCpuUs))),
    server_cpu_us_per_login: Math.round(median(pairs.map((p) => p.serverCpuUs))),
    // …split into the event loop and the other threads (the hashes: libuv's pool), and the load
    // generator's, which the same two cores pay for.
    server_event_loop_cpu_us_per_login: Math.round(median(pairs.map((p) => p.mainUs))),
    server_other_threads_cpu_us_per_login: Math.round(median(pairs.map((p) => p.poolUs))),
    load_cpu_us_per_login: Math.round(median(pairs.map((p) => p.loadUs))),
    errors,
  };
  if (json) console.log(JSON.stringify(figures));
  else {
    console.log(`password + token logins over HTTP: ${figures.password_token_logins_per_s}/s`);
    console.log(`raw argon2id verify, same run:      ${figures.raw_argon2_verify_per_s}/s`);
    console.log(`ratio, median of ${ROUNDS} interleaved round pairs: ${figures.password_token_vs_raw} (${figures.password_token_vs_raw_min}–${figures.password_token_vs_raw_max}; target ≥ 0.9); event-loop p99 ${figures.event_loop_p99_ms} ms (target < 20); errors ${figures.errors}`);
  }
  await app.close();
  await verifier.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Part 2: refusal timing, unknown vs locked vs wrong password (bench/refusals.ts).
const refusals = await refusalTimingBench();
if (json) console.log(JSON.stringify(refusals));
else {
  const m = refusals.login_refusal_median_ms;
  console.log(`login refusals, median: unknown ${m.unknown} ms, locked ${m.locked} ms, wrong password ${m.wrong_password} ms; max/min ${refusals.max_over_min} (target ≤ 1.25)`);
}

// Part 3: challenge-response round trips, on SQLite and PostgreSQL (bench/challenges.ts).
for (const line of await challengeBench()) {
  if (json) console.log(JSON.stringify(line));
  else if (line.bench === 'challenge_http_ceiling') console.log(`HTTP ceiling (same load, canned replies): ${String(line.logins_per_s)}/s; CPU per login: server ${String(line.server_cpu_us_per_login)} µs, load generator ${String(line.load_cpu_us_per_login)} µs`);
  else console.log(`challenge logins (${String(line.store)}): ${String(line.challenge_logins_per_s)}/s against raw ECDSA P-256 verify ${String(line.raw_verify_per_s)}/s: ratio ${String(line.challenge_vs_raw_verify)}; p99 ${String(line.p99_ms)} ms; errors ${String(line.errors)}; ${String(line.challenge_vs_http_ceiling)} of the HTTP ceiling; CPU per login: server ${String(line.server_cpu_us_per_login)} µs, load generator ${String(line.load_cpu_us_per_login)} µs`);
}
