// Signing cost in CPU time, which other work on a shared machine distorts far less than it does
// throughput: CPU µs per signature of every thread (Linux /proc/<tid>/schedstat: time on a CPU and
// time waiting for one), for plain pkcs11js on one thread, on two threads of one process and in
// two processes, and for the library's SessionPool with 128 concurrent callers (its event loop,
// its signing workers and V8's helper threads apart). `wall − cpu − wait` is time a thread was
// blocked (a lock inside the token library would show there). bench/sign.ts measures throughput.
//
// npm run bench:sign-cpu [-- --signatures N]; the ratio a 2-CPU pool can reach is about
// 2 × raw-1-thread ÷ (library total), and at most 2 × raw-1-thread ÷ raw-2-threads.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { threadTimes } from './thread-cpu.js';
import { createSoftHsm } from '../native-fixtures/softhsm/softhsm.js';
import { Pkcs11Module } from '../src/index.js';

const at = process.argv.indexOf('--signatures');
const N = at >= 0 ? Number(process.argv[at + 1]) : 4000;
const TOKEN = 'tokengate-bench';
const LABELS = ['p256', 'p384', 'rsa2048', 'ed25519'];
/** Slower mechanisms sign fewer times, so every row takes a similar while. */
const SHARE: Record<string, number> = { p256: 1, p384: 1 / 8, rsa2048: 1 / 8, ed25519: 1 / 3 };

// One raw signer: loads pkcs11js, opens a logged-in session, signs `n` times in a sync loop and
// reports its own thread's schedstat. Plain JS, run in a worker thread or a child process alike.
const RAW = `
const { readFileSync } = require('node:fs');
const { hash } = require('node:crypto');
const p11 = require(${JSON.stringify(createRequire(import.meta.url).resolve('pkcs11js'))});
module.exports = (init, listen, post) => {
  const lib = new p11.PKCS11(); lib.load(init.module);
  try { lib.C_Initialize({ flags: p11.CKF_OS_LOCKING_OK }); } catch (e) { if (e.code !== p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e; }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === init.token);
  const s = lib.C_OpenSession(slot, p11.CKF_SERIAL_SESSION);
  try { lib.C_Login(s, p11.CKU_USER, init.pin); } catch (e) { if (e.code !== p11.CKR_USER_ALREADY_LOGGED_IN) throw e; }
  const cases = { p256: [p11.CKM_ECDSA, 64, 'sha256'], p384: [p11.CKM_ECDSA, 96, 'sha384'], rsa2048: [p11.CKM_SHA256_RSA_PKCS, 256], ed25519: [0x1057, 64] };
  const stat = () => readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
  listen(({ label, n }) => {
    lib.C_FindObjectsInit(s, [{ type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY }, { type: p11.CKA_LABEL, value: label }]);
    const key = lib.C_FindObjects(s); lib.C_FindObjectsFinal(s);
    const [mechanism, size, digest] = cases[label];
    const sign = (i) => { lib.C_SignInit(s, { mechanism }, key); lib.C_Sign(s, digest ? hash(digest, String(i), 'buffer') : Buffer.alloc(32, i), Buffer.alloc(size)); };
    for (let i = 0; i < 20; i++) sign(i);
    const a = stat(), t0 = performance.now();
    for (let i = 0; i < n; i++) sign(i);
    const wallNs = (performance.now() - t0) * 1e6, b = stat();
    post({ cpuNs: b[0] - a[0], waitNs: b[1] - a[1], wallNs });
  });
  post('ready');
};`;

interface Figures { cpuNs: number; waitNs: number; wallNs: number }
type Signer = (label: string, n: number) => Promise<Figures>;

function signer(send: (m: unknown) => void, on: (f: (m: unknown) => void) => void): Promise<Signer> {
  let next: ((m: unknown) => void) | undefined;
  on((m) => next?.(m));
  const ask = (m?: unknown) => new Promise<unknown>((resolve) => ((next = resolve), m !== undefined && send(m)));
  return ask().then(() => (label, n) => ask({ label, n }) as Promise<Figures>);
}

const fixture = await createSoftHsm({ tokens: [{ label: TOKEN }] });
const init = { module: fixture.modulePath, token: TOKEN, pin: fixture.tokens[0]!.userPin };
const boot = `const init = ${JSON.stringify(init)}; const m = { exports: {} }; new Function('module', 'require', ${JSON.stringify(RAW)})(m, require);`;
const threads: Worker[] = [];
const children: ChildProcess[] = [];
function rawThread(): Promise<Signer> {
  const w = new Worker(`${boot} const { parentPort } = require('node:worker_threads'); m.exports(init, (f) => parentPort.on('message', f), (r) => parentPort.postMessage(r));`, { eval: true });
  threads.push(w);
  return signer((m) => w.postMessage(m), (f) => w.on('message', f));
}
function rawProcess(): Promise<Signer> {
  const c = spawn(process.execPath, ['-e', `${boot} m.exports(init, (f) => process.on('message', f), (r) => process.send(r));`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...fixture.env } });
  children.push(c);
  return signer((m) => c.send(m as object), (f) => c.on('message', f));
}

const us = (ns: number, n: number): string => (ns / 1e3 / n).toFixed(1);
const rawRow = (f: Figures[], n: number): string => f.map((x) => `cpu ${us(x.cpuNs, n)} wait ${us(x.waitNs, n)} blocked ${us(Math.max(0, x.wallNs - x.cpuNs - x.waitNs), n)}`).join(' | ');

const module = await Pkcs11Module.load(fixture.modulePath);
const pool = await module.token({ label: TOKEN }).openPool({ pin: init.pin });
const [t1, t2, p1, p2] = await Promise.all([rawThread(), rawThread(), rawProcess(), rawProcess()]);
const challenges = Array.from({ length: 256 }, (_, i) => Buffer.alloc(32, i));
try {
  for (const label of LABELS) {
    const n = Math.round(N * SHARE[label]!);
    console.log(`${label}: CPU µs per signature (${n} signatures a row)`);
    console.log(`  raw, 1 thread      ${rawRow([await t1(label, n)], n)}`);
    console.log(`  raw, 2 threads     ${rawRow(await Promise.all([t1(label, n), t2(label, n)]), n)}`);
    console.log(`  raw, 2 processes   ${rawRow(await Promise.all([p1(label, n), p2(label, n)]), n)}`);
    const ref = { label };
    let i = 0;
    const run = (count: number) => Promise.all(Array.from({ length: 128 }, async () => { while (i < count) await pool.signChallenge(ref, challenges[i++ & 255]!); }));
    await run(n / 10);
    i = 0;
    const before = threadTimes();
    await run(n);
    const after = threadTimes();
    const parts: string[] = [];
    let total = 0;
    for (const [tid, t] of after) {
      const b = before.get(tid);
      if (!b || tid === String(process.pid)) continue;
      const cpu = t.cpu - b.cpu;
      total += cpu;
      if (cpu / 1e3 / n >= 1) parts.push(`${t.name}:${tid} ${us(cpu, n)}`);
    }
    const main = after.get(String(process.pid))!.cpu - before.get(String(process.pid))!.cpu;
    console.log(`  library            event loop ${us(main, n)} | other threads ${parts.join(' ')} | total ${us(total + main, n)}`);
  }
} finally {
  for (const w of threads) await w.terminate();
  for (const c of children) c.kill();
  await pool.close();
  await module.close();
  fixture.cleanup();
}
