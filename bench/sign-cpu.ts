// Signing cost in CPU time, which other work on a shared machine distorts far less than it does
// throughput: CPU µs per signature of every thread (Linux /proc/<tid>/schedstat: time on a CPU and
// time waiting for one), for plain pkcs11js on one thread, on two threads of one process and in
// two processes, and for the library's SessionPool with 128 concurrent callers, its workers
// threads and processes (the default on a software token) (its event loop, its signing workers
// and V8's helper threads apart). `wall − cpu − wait` is time a thread was
// blocked (a lock inside the token library would show there). bench/sign.ts measures throughput.
//
// npm run bench:sign-cpu [-- --signatures N]; the ratio a 2-CPU pool can reach is about
// 2 × raw-1-thread ÷ (library total), and at most 2 × raw-1-thread ÷ raw-2-processes.
import { rawProcess, rawThread, type Figures } from './raw-signer.js';
import { childPids, processTimes, threadTimes } from './thread-cpu.js';
import { createSoftHsm } from '../native-fixtures/softhsm/softhsm.js';
import { Pkcs11Module } from '../src/index.js';

const at = process.argv.indexOf('--signatures');
const N = at >= 0 ? Number(process.argv[at + 1]) : 4000;
const TOKEN = 'tokengate-bench';
const LABELS = ['p256', 'p384', 'rsa2048', 'ed25519'];
/** Slower mechanisms sign fewer times, so every row takes a similar while. */
const SHARE: Record<string, number> = { p256: 1, p384: 1 / 8, rsa2048: 1 / 8, ed25519: 1 / 3 };

const fixture = await createSoftHsm({ tokens: [{ label: TOKEN }] });
const init = { module: fixture.modulePath, token: TOKEN, pin: fixture.tokens[0]!.userPin };

const us = (ns: number, n: number): string => (ns / 1e3 / n).toFixed(1);
const rawRow = (f: Figures[], n: number): string => f.map((x) => `cpu ${us(x.cpuNs, n)} wait ${us(x.waitNs, n)} blocked ${us(Math.max(0, x.wallNs - x.cpuNs - x.waitNs), n)}`).join(' | ');

const module = await Pkcs11Module.load(fixture.modulePath);
const pool = await module.token({ label: TOKEN }).openPool({ pin: init.pin, workerProcesses: false });
const [t1, t2, p1, p2] = await Promise.all([rawThread(init), rawThread(init), rawProcess(init, fixture.env), rawProcess(init, fixture.env)]);
const raws = [t1, t2, p1, p2];
// The pool with workerProcesses: its workers are this process's children other than the raw ones.
const rawPids = new Set([p1.pid, p2.pid]);
const processPool = await module.token({ label: TOKEN }).openPool({ pin: init.pin }); // the default on a software token
const workerPids = childPids().filter((pid) => !rawPids.has(pid));
// Thread ids of this process and `pid/tid` of the worker processes': one map, never a clash.
const readings = () => new Map([...threadTimes(), ...processTimes(workerPids)]);
const challenges = Array.from({ length: 256 }, (_, i) => Buffer.alloc(32, i));
try {
  for (const label of LABELS) {
    const n = Math.round(N * SHARE[label]!);
    console.log(`${label}: CPU µs per signature (${n} signatures a row)`);
    console.log(`  raw, 1 thread      ${rawRow([await t1.sign(label, { n })], n)}`);
    console.log(`  raw, 2 threads     ${rawRow(await Promise.all([t1.sign(label, { n }), t2.sign(label, { n })]), n)}`);
    console.log(`  raw, 2 processes   ${rawRow(await Promise.all([p1.sign(label, { n }), p2.sign(label, { n })]), n)}`);
    const ref = { label };
    for (const [name, p] of [['library, threads', pool], ['library, processes', processPool]] as const) {
      let i = 0;
      const run = (count: number) => Promise.all(Array.from({ length: 128 }, async () => { while (i < count) await p.signChallenge(ref, challenges[i++ & 255]!); }));
      await run(n / 10);
      i = 0;
      const before = readings();
      await run(n);
      const after = readings();
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
      console.log(`  ${name.padEnd(18)} event loop ${us(main, n)} | other threads ${parts.join(' ')} | total ${us(total + main, n)}`);
    }
  }
} finally {
  for (const r of raws) r.close();
  await pool.close();
  await processPool.close();
  await module.close();
  fixture.cleanup();
}
