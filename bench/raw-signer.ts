// Plain pkcs11js signers on a thread or in a process of their own, for the benches' baselines:
// bench/sign.ts's two-process ceiling (what two cores of raw pkcs11js reach on this machine) and
// bench/sign-cpu.ts's CPU per signature. Each loads pkcs11js, opens a logged-in session on the
// token and, asked, signs in a synchronous C_SignInit + C_Sign loop — a count of signatures, or
// for a while — and reports how many, how long, and its own thread's schedstat.
// The PIN travels in the first message (never argv or the environment).
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const RAW = `
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const p11 = require(${JSON.stringify(createRequire(import.meta.url).resolve('pkcs11js'))});
module.exports = (listen, post) => {
  let lib, s;
  const cases = { p256: [p11.CKM_ECDSA, 64, 'sha256'], p384: [p11.CKM_ECDSA, 96, 'sha384'], rsa2048: [p11.CKM_SHA256_RSA_PKCS, 256], ed25519: [0x1057, 64] };
  const challenges = Array.from({ length: 256 }, (_, i) => Buffer.alloc(32, i));
  const stat = () => readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
  listen((m) => {
    if (m.module) {
      lib = new p11.PKCS11(); lib.load(m.module);
      try { lib.C_Initialize({ flags: p11.CKF_OS_LOCKING_OK }); } catch (e) { if (e.code !== p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e; }
      const slot = lib.C_GetSlotList(true).find((x) => lib.C_GetTokenInfo(x).label.trim() === m.token);
      s = lib.C_OpenSession(slot, p11.CKF_SERIAL_SESSION);
      try { lib.C_Login(s, p11.CKU_USER, m.pin); } catch (e) { if (e.code !== p11.CKR_USER_ALREADY_LOGGED_IN) throw e; }
      return post('ready');
    }
    const { label, n, ms } = m;
    lib.C_FindObjectsInit(s, [{ type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY }, { type: p11.CKA_LABEL, value: label }]);
    const key = lib.C_FindObjects(s); lib.C_FindObjectsFinal(s);
    const [mechanism, size, digest] = cases[label];
    // As bench/sign.ts's raw loop: ECDSA hashes the challenge on the host first.
    const input = (i) => (digest ? createHash(digest).update(challenges[i & 255]).digest() : challenges[i & 255]);
    const sign = (i) => { lib.C_SignInit(s, { mechanism }, key); lib.C_Sign(s, input(i), Buffer.alloc(size)); };
    for (let i = 0; i < 20; i++) sign(i);
    const a = stat(), t0 = performance.now();
    let count = 0;
    if (n !== undefined) for (; count < n; count++) sign(count);
    else while (performance.now() - t0 < ms) sign(count++);
    const wallNs = (performance.now() - t0) * 1e6, b = stat();
    post({ count, cpuNs: b[0] - a[0], waitNs: b[1] - a[1], wallNs });
  });
};`;
const BOOT = `const m = { exports: {} }; new Function('module', 'require', ${JSON.stringify(RAW)})(m, require);`;

export interface RawInit {
  module: string;
  token: string;
  pin: string;
}

export interface Figures {
  count: number;
  cpuNs: number;
  waitNs: number;
  wallNs: number;
}

export interface RawSigner {
  /** Signs `n` times, or for `ms` milliseconds, with the key labelled `label`. */
  sign(label: string, amount: { n: number } | { ms: number }): Promise<Figures>;
  close(): void;
}

function signer(init: RawInit, send: (m: unknown) => void, on: (f: (m: unknown) => void) => void, close: () => void): Promise<RawSigner> {
  let next: ((m: unknown) => void) | undefined;
  on((m) => next?.(m));
  const ask = (m: unknown) => new Promise<unknown>((resolve) => ((next = resolve), send(m)));
  return ask(init).then(() => ({ sign: (label, amount) => ask({ label, ...amount }) as Promise<Figures>, close }));
}

export function rawThread(init: RawInit): Promise<RawSigner> {
  const w = new Worker(`${BOOT} const { parentPort } = require('node:worker_threads'); m.exports((f) => parentPort.on('message', f), (r) => parentPort.postMessage(r));`, { eval: true });
  return signer(init, (m) => w.postMessage(m), (f) => w.on('message', f), () => void w.terminate());
}

export function rawProcess(init: RawInit, env: NodeJS.ProcessEnv): Promise<RawSigner & { pid: number | undefined }> {
  const c: ChildProcess = spawn(process.execPath, ['-e', `${BOOT} m.exports((f) => process.on('message', f), (r) => process.send(r));`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  return signer(init, (m) => c.send(m as object), (f) => c.on('message', f), () => void c.kill()).then((s) => Object.assign(s, { pid: c.pid }));
}
