// Signing benchmark: the library's SessionPool (as it comes: on SoftHSM, a software token, its
// workers are processes; and with threads, workerProcesses: false) against plain pkcs11js,
// graphene-pk11 and node-webcrypto-p11 (WebCrypto subtle.sign), on the same SoftHSM token and
// the same keys, in the same run; and the ceiling two cores give here: plain pkcs11js's sync loop
// in two processes at once.
// `npm run bench:sign -- --json` prints one JSON object per mechanism (and nothing else on
// stdout); without --json, a table. Every figure is the median of ROUNDS rounds in which all the
// contenders take turns, with the spread (lowest and highest round) beside it, so one noisy moment
// on the machine can neither make nor break a target.
//
// Every loop does the same work per signature: ECDSA hashes the challenge on the host first
// (SoftHSM's CKM_ECDSA signs a digest), RSA and Ed25519 sign the challenge itself.
import { createHash, randomBytes, verify } from 'node:crypto';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type * as Graphene from 'graphene-pk11';
import type * as Pkcs11Js from 'pkcs11js';
import type * as WebCryptoP11 from 'node-webcrypto-p11';
import { createSoftHsm } from '../native-fixtures/softhsm/softhsm.js';
import { rawProcess } from './raw-signer.js';
import type * as Tokengate from '../src/index.js';

const require = createRequire(import.meta.url);
const p11: typeof Pkcs11Js = require('pkcs11js');
const graphene: typeof Graphene = require('graphene-pk11');
const webcrypto: typeof WebCryptoP11 = require('node-webcrypto-p11');

const json = process.argv.includes('--json');
function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
// --dist measures the compiled library (npm run build first) instead of the TypeScript sources:
// tsx compiles with esbuild's keepNames, which costs a few µs per call wherever a named closure is
// created per call, so the sources run a little slower than what users get.
const dist = process.argv.includes('--dist');
const { Pkcs11Module } = (await import(dist ? '../dist/index.js' : '../src/index.js')) as typeof Tokengate;
// Other work on the machine comes and goes, so every figure is the median of ROUNDS rounds, with
// raw, graphene, WebCrypto and library windows taking turns in every round (`--rounds N`, ≥ 3).
const ROUNDS = Math.max(3, Number(argument('--rounds') ?? 5));
const ROUND_MS = 500;
const ASYNC_ROUND_MS = 250; // per session count
// Single-signature latency, in each round: raw and library calls alternate one by one for this
// long and their medians are compared, so load from elsewhere on the machine hits both alike.
const LATENCY_MS = 800;
const CALLERS = 128; // concurrent callers of the library
const TOKEN = 'tokengate-bench';

interface Case {
  name: string;
  label: string;
  mechanism: number;
  /** Host-side hash before CKM_ECDSA. */
  hash?: 'sha256' | 'sha384';
  outputLength: number;
  verifyAlgorithm: string | null;
  verifyOptions?: { dsaEncoding: 'ieee-p1363' };
  /** node-webcrypto-p11's name for it (it has no EdDSA). */
  webcrypto?: { name: string; hash: string };
}

const CKM_EDDSA = 0x1057; // pkcs11js has no constant for it
const CASES: Case[] = [
  { name: 'ECDSA-P256', label: 'p256', mechanism: p11.CKM_ECDSA, hash: 'sha256', outputLength: 64, verifyAlgorithm: 'sha256', verifyOptions: { dsaEncoding: 'ieee-p1363' }, webcrypto: { name: 'ECDSA', hash: 'SHA-256' } },
  { name: 'ECDSA-P384', label: 'p384', mechanism: p11.CKM_ECDSA, hash: 'sha384', outputLength: 96, verifyAlgorithm: 'sha384', verifyOptions: { dsaEncoding: 'ieee-p1363' }, webcrypto: { name: 'ECDSA', hash: 'SHA-384' } },
  { name: 'RSA2048-PKCS1', label: 'rsa2048', mechanism: p11.CKM_SHA256_RSA_PKCS, outputLength: 256, verifyAlgorithm: 'sha256', webcrypto: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
  { name: 'Ed25519', label: 'ed25519', mechanism: CKM_EDDSA, outputLength: 64, verifyAlgorithm: null },
];

const challenges = Array.from({ length: 256 }, () => randomBytes(32));
const challenge = (i: number): Buffer => challenges[i & 255]!;
const progress = (text: string): void => void process.stderr.write(`${text}\n`);

/**
 * Runs `body` and gives its result with the event loop's p99 delay meanwhile, in ms. Node records
 * whole timer intervals, so with a 1 ms resolution an idle loop already reads about 1.1 ms: the
 * figure is conservative.
 */
async function withLoopDelay<T>(body: () => Promise<T>): Promise<[T, number]> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  try {
    return [await body(), delay.percentile(99) / 1e6];
  } finally {
    delay.disable();
  }
}

/** Runs `body` until `ms` have passed; returns iterations per second. */
function timedSync(ms: number, body: (i: number) => void): number {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) body(n++);
  return n / ((performance.now() - start) / 1000);
}

/** Runs `callers` concurrent loops of `body` for `ms`; returns completions per second. */
async function timedAsync(ms: number, callers: number, body: (caller: number, i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  let n = 0;
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      while (performance.now() < end) await body(caller, n++);
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

/**
 * Median microseconds per awaited call of `a` and of `b`, one call at a time over `ms`: the two
 * alternate (a b, b a, a b…) so neither always runs right after the other.
 */
async function pairedMedianMicros(ms: number, a: (i: number) => Promise<unknown>, b: (i: number) => Promise<unknown>): Promise<[number, number]> {
  const times: [number[], number[]] = [[], []];
  const fns = [a, b] as const;
  const start = performance.now();
  for (let i = 0; performance.now() - start < ms; i++) {
    for (const which of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const t0 = performance.now();
      await fns[which]!(i);
      times[which]!.push(performance.now() - t0);
    }
  }
  return [median(times[0]) * 1000, median(times[1]) * 1000];
}

const fixture = await createSoftHsm({ tokens: [{ label: TOKEN }] });
const { userPin, keys: fixtureKeys } = fixture.tokens[0]!;
const module = await Pkcs11Module.load(fixture.modulePath);
const token = module.token({ label: TOKEN });
const pool = await token.openPool({ pin: userPin });
// The same pool with its signing workers threads of this process.
const threadPool = await token.openPool({ pin: userPin, workerProcesses: false });
// Two cores' worth of plain pkcs11js: its sync loop in two processes at once.
const rawInit = { module: fixture.modulePath, token: TOKEN, pin: userPin };
const rawPair = await Promise.all([rawProcess(rawInit, fixture.env), rawProcess(rawInit, fixture.env)]);

// Plain pkcs11js on the same (already initialised, already logged-in) library.
const raw = new p11.PKCS11();
raw.load(fixture.modulePath);
try {
  raw.C_Initialize();
} catch (err) {
  if ((err as { code?: number }).code !== p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw err;
}
const slot = raw.C_GetSlotList(true).find((s) => raw.C_GetTokenInfo(s).label.trim() === TOKEN)!;
const sessions = Array.from({ length: 8 }, () => raw.C_OpenSession(slot, p11.CKF_SERIAL_SESSION));
function rawKey(label: string): Buffer {
  raw.C_FindObjectsInit(sessions[0]!, [
    { type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY },
    { type: p11.CKA_LABEL, value: label },
  ]);
  try {
    return raw.C_FindObjects(sessions[0]!)!;
  } finally {
    raw.C_FindObjectsFinal(sessions[0]!);
  }
}

// graphene-pk11, likewise sharing the library and the login.
const gModule = graphene.Module.load(fixture.modulePath);
gModule.initialize();
const gSlot = Array.from({ length: gModule.getSlots(true).length }, (_, i) => gModule.getSlots(i)).find(
  (s) => s.getToken().label.trim() === TOKEN,
)!;
const gSession = gSlot.open(graphene.SessionFlag.SERIAL_SESSION);
// node-webcrypto-p11 on a graphene session of its own (so it never finalizes the shared library).
// One Crypto is one session, whose operations must not overlap: its callers take turns.
const wcSession = gSlot.open(graphene.SessionFlag.SERIAL_SESSION);
const wcCrypto = new webcrypto.Crypto({ session: wcSession });
async function webCryptoKey(c: Case): Promise<WebCryptoP11.CryptoKey | undefined> {
  if (!c.webcrypto) return undefined;
  for (const id of await wcCrypto.keyStorage.keys()) {
    if (!id.startsWith('private-')) continue;
    const key = await wcCrypto.keyStorage.getItem(id, { name: c.webcrypto.name, hash: c.webcrypto.hash } as Parameters<typeof wcCrypto.keyStorage.getItem>[1] & object, false, ['sign']).catch(() => undefined);
    if (key && (key.algorithm as { label?: string }).label === c.label) return key as WebCryptoP11.CryptoKey;
  }
  throw new Error(`${c.name}: node-webcrypto-p11 does not see the key ${c.label}`);
}

interface Row {
  mechanism: string;
  raw_sync_per_s: number;
  raw_async_best_per_s: number;
  raw_async_best_sessions: number;
  graphene_per_s: number;
  /** null: node-webcrypto-p11 has no such algorithm (EdDSA). */
  webcrypto_p11_per_s: number | null;
  /** Plain pkcs11js's sync loop in two processes at once: what two cores reach here. */
  raw_two_processes_per_s: number;
  raw_two_processes_vs_raw_sync: number;
  raw_two_processes_vs_raw_sync_spread: [number, number];
  lib_per_s: number;
  lib_vs_raw_sync: number;
  /** The lowest and highest round of lib_vs_raw_sync. */
  lib_vs_raw_sync_spread: [number, number];
  /** The library against the two-process ceiling of the same round. */
  lib_vs_raw_two_processes: number;
  /** The pool's workers as they came: processes on a software token (workerProcesses 'auto'). */
  lib_worker_kind: Tokengate.WorkerKind | 'none';
  /** The pool with workerProcesses: false, in the same rounds. */
  lib_threads_per_s: number;
  lib_threads_vs_raw_sync: number;
  lib_threads_vs_raw_sync_spread: [number, number];
  lib_threads_event_loop_p99_ms: number;
  event_loop_p99_ms: number;
  event_loop_p99_ms_spread: [number, number];
  lib_single_latency_us: number;
  raw_async_single_latency_us: number;
  single_latency_ratio: number;
  single_latency_ratio_spread: [number, number];
  rounds: number;
  lib_workers: number;
  lib_callers: number;
  lib_build: 'src' | 'dist';
}

/** The middle value (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per-round figures of one measurement: the median and the spread are read from them. */
class Rounds {
  readonly values: number[] = [];
  add(value: number): number {
    this.values.push(value);
    return value;
  }
  get median(): number {
    return median(this.values);
  }
  spread(digits: number): [number, number] {
    return [round(Math.min(...this.values), digits), round(Math.max(...this.values), digits)];
  }
}

async function measure(c: Case): Promise<Row> {
  const key = rawKey(c.label);
  const mechanism = { mechanism: c.mechanism };
  const input = (i: number): Buffer => (c.hash ? createHash(c.hash).update(challenge(i)).digest() : challenge(i));
  const ref = { label: c.label };

  // Sanity: the library's and WebCrypto's signatures verify against the fixture's own copy of the public key.
  const pem = fixtureKeys.find((k) => k.label === c.label)!.publicKeyPem;
  const sig = await pool.signChallenge(ref, challenge(0));
  if (!verify(c.verifyAlgorithm, challenge(0), { key: pem, ...c.verifyOptions }, sig)) throw new Error(`${c.name}: bad signature`);
  const workerSigs = await Promise.all([pool, threadPool].flatMap((p) => [0, 1, 2, 3].map((i) => p.signChallenge(ref, challenge(i)))));
  if (!workerSigs.every((s, i) => verify(c.verifyAlgorithm, challenge(i % 4), { key: pem, ...c.verifyOptions }, s))) throw new Error(`${c.name}: bad signature from a signing worker`);
  const wcKey = await webCryptoKey(c);
  const wcSign = (i: number) => wcCrypto.subtle.sign(c.webcrypto!, wcKey!, challenge(i));
  if (wcKey && !verify(c.verifyAlgorithm, challenge(0), { key: pem, ...c.verifyOptions }, Buffer.from(await wcSign(0)))) throw new Error(`${c.name}: bad WebCrypto signature`);

  const gKey = gSession.find({ class: graphene.ObjectClass.PRIVATE_KEY, label: c.label }).items(0).toType<Graphene.PrivateKey>();
  const rawSync = new Rounds();
  const rawAsync = new Rounds();
  const asyncSessions: number[] = [];
  const gSign = new Rounds();
  const wc = new Rounds();
  const lib = new Rounds();
  const ratio = new Rounds();
  const libThreads = new Rounds();
  const threadsRatio = new Rounds();
  const threadsLoopP99 = new Rounds();
  const rawTwo = new Rounds();
  const rawTwoRatio = new Rounds();
  const libVsTwo = new Rounds();
  const loopP99 = new Rounds();
  const rawMicros = new Rounds();
  const libMicros = new Rounds();
  const latencyRatio = new Rounds();
  await timedAsync(300, CALLERS, (_, i) => pool.signChallenge(ref, challenge(i))); // warm-up
  await timedAsync(300, CALLERS, (_, i) => threadPool.signChallenge(ref, challenge(i)));
  for (let r = 1; r <= ROUNDS; r++) {
    progress(`${c.name}: round ${r}/${ROUNDS}: raw pkcs11js sync, in two processes, raw async, graphene-pk11, node-webcrypto-p11, library, single-signature latency`);
    const sync = rawSync.add(
      timedSync(ROUND_MS, (i) => {
        raw.C_SignInit(sessions[0]!, mechanism, key);
        raw.C_Sign(sessions[0]!, input(i), Buffer.alloc(c.outputLength));
      }),
    );
    const pair = await Promise.all(rawPair.map((p) => p.sign(c.label, { ms: ROUND_MS })));
    const two = rawTwo.add(pair.reduce((sum, f) => sum + f.count / (f.wallNs / 1e9), 0));
    rawTwoRatio.add(two / sync);
    let best: [number, number] = [0, 0];
    for (const count of [1, 2, 4, 8]) {
      const rate = await timedAsync(ASYNC_ROUND_MS, count, async (caller, i) => {
        raw.C_SignInit(sessions[caller]!, mechanism, key);
        await raw.C_SignAsync(sessions[caller]!, input(i), Buffer.alloc(c.outputLength));
      });
      if (rate > best[1]) best = [count, rate];
    }
    asyncSessions.push(best[0]);
    rawAsync.add(best[1]);
    gSign.add(timedSync(ROUND_MS, (i) => gSession.createSign(c.mechanism, gKey).once(input(i))));
    if (wcKey) wc.add(await timedAsync(ROUND_MS, 1, (_, i) => wcSign(i)));
    // Each pool's rate, against this round's raw loop, and the event-loop delay during its window.
    for (const [p, rates, ratios, delays] of [
      [pool, lib, ratio, loopP99],
      [threadPool, libThreads, threadsRatio, threadsLoopP99],
    ] as const) {
      const [rate, p99Ms] = await withLoopDelay(() => timedAsync(ROUND_MS, CALLERS, (_, i) => p.signChallenge(ref, challenge(i))));
      ratios.add(rates.add(rate) / sync);
      delays.add(p99Ms);
      if (p === pool) libVsTwo.add(rate / two);
    }
    const [rawUs, libUs] = await pairedMedianMicros(
      LATENCY_MS,
      async (i) => {
        raw.C_SignInit(sessions[0]!, mechanism, key);
        await raw.C_SignAsync(sessions[0]!, input(i), Buffer.alloc(c.outputLength));
      },
      (i) => pool.signChallenge(ref, challenge(i)),
    );
    rawMicros.add(rawUs);
    libMicros.add(libUs);
    latencyRatio.add(libUs / rawUs);
  }
  return {
    mechanism: c.name,
    raw_sync_per_s: Math.round(rawSync.median),
    raw_async_best_per_s: Math.round(rawAsync.median),
    raw_async_best_sessions: median(asyncSessions),
    graphene_per_s: Math.round(gSign.median),
    webcrypto_p11_per_s: wcKey ? Math.round(wc.median) : null,
    raw_two_processes_per_s: Math.round(rawTwo.median),
    raw_two_processes_vs_raw_sync: round(rawTwoRatio.median, 3),
    raw_two_processes_vs_raw_sync_spread: rawTwoRatio.spread(3),
    lib_per_s: Math.round(lib.median),
    lib_vs_raw_sync: round(ratio.median, 3),
    lib_vs_raw_sync_spread: ratio.spread(3),
    lib_vs_raw_two_processes: round(libVsTwo.median, 3),
    lib_worker_kind: pool.workerKind ?? 'none',
    lib_threads_per_s: Math.round(libThreads.median),
    lib_threads_vs_raw_sync: round(threadsRatio.median, 3),
    lib_threads_vs_raw_sync_spread: threadsRatio.spread(3),
    lib_threads_event_loop_p99_ms: round(threadsLoopP99.median, 2),
    event_loop_p99_ms: round(loopP99.median, 2),
    event_loop_p99_ms_spread: loopP99.spread(2),
    lib_single_latency_us: round(libMicros.median, 1),
    raw_async_single_latency_us: round(rawMicros.median, 1),
    single_latency_ratio: round(latencyRatio.median, 3),
    single_latency_ratio_spread: latencyRatio.spread(3),
    rounds: ROUNDS,
    lib_workers: pool.workers,
    lib_callers: CALLERS,
    lib_build: dist ? 'dist' : 'src',
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function printTable(rows: Row[]): void {
  const columns: Array<[string, (r: Row) => string]> = [
    ['mechanism', (r) => r.mechanism],
    ['raw sync/s', (r) => String(r.raw_sync_per_s)],
    ['raw async/s', (r) => `${r.raw_async_best_per_s} (${r.raw_async_best_sessions}s)`],
    ['graphene/s', (r) => String(r.graphene_per_s)],
    ['webcrypto/s', (r) => (r.webcrypto_p11_per_s === null ? '—' : String(r.webcrypto_p11_per_s))],
    ['raw 2 proc÷sync', (r) => `${r.raw_two_processes_vs_raw_sync.toFixed(2)} (${r.raw_two_processes_vs_raw_sync_spread.map((v) => v.toFixed(2)).join('–')})`],
    ['lib/s', (r) => String(r.lib_per_s)],
    ['lib÷sync', (r) => `${r.lib_vs_raw_sync.toFixed(2)} (${r.lib_vs_raw_sync_spread.map((v) => v.toFixed(2)).join('–')})`],
    ['lib÷2 proc', (r) => r.lib_vs_raw_two_processes.toFixed(2)],
    ['threads/s', (r) => String(r.lib_threads_per_s)],
    ['thr÷sync', (r) => `${r.lib_threads_vs_raw_sync.toFixed(2)} (${r.lib_threads_vs_raw_sync_spread.map((v) => v.toFixed(2)).join('–')})`],
    ['loop p99 ms', (r) => `${r.event_loop_p99_ms.toFixed(2)} (${r.event_loop_p99_ms_spread.map((v) => v.toFixed(1)).join('–')})`],
    ['lib 1× µs', (r) => r.lib_single_latency_us.toFixed(1)],
    ['raw 1× µs', (r) => r.raw_async_single_latency_us.toFixed(1)],
    ['lat ratio', (r) => `${r.single_latency_ratio.toFixed(3)} (${r.single_latency_ratio_spread.map((v) => v.toFixed(2)).join('–')})`],
  ];
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => f(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  for (const row of cells) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
  console.log(`\nlibrary (${dist ? 'dist' : 'src'}): SessionPool with ${rows[0]?.lib_workers ?? 0} signing workers of kind ${rows[0]?.lib_worker_kind ?? '?'} (as it comes on SoftHSM; threads/s: workerProcesses false), ${CALLERS} concurrent callers; every figure the median of ${ROUNDS} interleaved rounds (lowest–highest round in brackets); latency = medians of calls alternating one by one; node-webcrypto-p11: one Crypto (one session), calls in turn`);
}

const rows: Row[] = [];
try {
  for (const c of CASES) {
    const row = await measure(c);
    rows.push(row);
    if (json) console.log(JSON.stringify(row));
  }
} finally {
  gSession.close();
  wcSession.close();
  gModule.close(); // no C_Finalize: the library belongs to `module`
  for (const s of sessions) raw.C_CloseSession(s);
  raw.close();
  await pool.close();
  await threadPool.close();
  for (const p of rawPair) p.close();
  await module.close();
  fixture.cleanup();
}
if (!json) printTable(rows);
