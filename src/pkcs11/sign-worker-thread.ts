// A signing worker thread. It loads its own pkcs11js handle on the pool's module path: in one
// process dlopen returns the library the main thread already initialised, so login state and
// object handles are shared. It owns one session, signs whole batches in a tight synchronous
// C_SignInit + C_Sign loop (no per-signature thread hop) and answers each batch with one message.
// It never sees a PIN (the pool's login covers every session of the process) and never calls
// C_Finalize: the library belongs to the main thread's Pkcs11Module.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { Handle, RawMechanism } from './binding.js';
import { bindingRv, sessionLossRv } from './errors.js';
import { pkcs11js } from './native.js';
import type { BatchDone, Failure, FromWorker, ToWorker, WorkerInit } from './sign-workers.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const lib = new pkcs11js.PKCS11();
let slot = Buffer.from(init.slot, 'hex');
let session: Handle | undefined;
/** Why there is no session (every item fails with it until the pool sends a reset). */
let lost: Failure | undefined;

function failure(err: unknown, fn: string): Failure {
  // The CK_RV is read as the main thread reads it (errors.ts), which turns it into a typed error.
  const rv = bindingRv(err);
  if (rv !== undefined) return { fn, rv };
  return { fn, message: String((err as { message?: unknown } | undefined)?.message ?? err) };
}

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function closeSession(): void {
  if (session === undefined) return;
  try {
    lib.C_CloseSession(session);
  } catch {
    // Already invalid (token pulled, module finalized): nothing left to release.
  }
  session = undefined;
}

function openSession(): void {
  closeSession();
  try {
    session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    lost = undefined;
  } catch (err) {
    lost = failure(err, 'C_OpenSession');
  }
}

/**
 * How much lower than the event loop a worker runs, in nice steps. Measured with bench/sign.ts on
 * 2 CPUs (P-256, 128 callers): event-loop p99 3.5–3.9 ms at 0, 3.0–3.3 at 2, 2.9 at 5 on a quiet
 * machine, and at 2 it still passed 5 ms with other processes busy. The cost: on a busy machine
 * the workers also cede CPU to other processes.
 */
const NICENESS = 5;

/**
 * Lowers this thread's priority a little (Linux: nice is per thread). A saturated pool then
 * yields a core to the event loop whenever it wakes, instead of delaying its timers and I/O by a
 * scheduler slice; when the event loop sleeps, the workers still get every cycle.
 */
function yieldToEventLoop(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, Math.min(19, getPriority(tid) + NICENESS));
  } catch {
    // Not Linux (no /proc/thread-self), or not permitted: run at the process's priority.
  }
}

function start(): void {
  yieldToEventLoop();
  try {
    lib.load(init.modulePath);
  } catch (err) {
    return post({ type: 'ready', failure: failure(err, 'load') });
  }
  try {
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    // Success would mean nobody had initialised it; still shared, and still never finalized here.
  } catch (err) {
    const f = failure(err, 'C_Initialize');
    if (f.rv !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) return post({ type: 'ready', failure: f });
  }
  openSession();
  post({ type: 'ready', failure: lost });
}

function signBatch(batch: Extract<ToWorker, { type: 'sign' }>): void {
  const started = performance.now();
  const keys = batch.keys.map((hex) => Buffer.from(hex, 'hex'));
  const mechanisms: RawMechanism[] = batch.mechanisms;
  const layout = batch.layout; // per item: key index, mechanism index, input length, output length
  const count = layout.length / 4;
  let outputSize = 0;
  for (let i = 0; i < count; i++) outputSize += layout[i * 4 + 3]!;
  const input = Buffer.from(batch.data);
  const output = Buffer.from(new ArrayBuffer(outputSize));
  const lengths = new Int32Array(count);
  const failures: BatchDone['failures'] = [];
  let inAt = 0;
  let outAt = 0;
  for (let i = 0; i < count; i++) {
    const inLength = layout[i * 4 + 2]!;
    const outLength = layout[i * 4 + 3]!;
    const data = input.subarray(inAt, inAt + inLength);
    const out = output.subarray(outAt, outAt + outLength);
    inAt += inLength;
    outAt += outLength;
    lengths[i] = -1;
    if (session === undefined) {
      failures.push({ index: i, ...(lost ?? { fn: 'C_SignInit', message: 'no session' }) });
      continue;
    }
    let fn = 'C_SignInit';
    try {
      lib.C_SignInit(session, mechanisms[layout[i * 4 + 1]!]!, keys[layout[i * 4]!]!);
      fn = 'C_Sign';
      lengths[i] = lib.C_Sign(session, data, out).length;
    } catch (err) {
      const f = failure(err, fn);
      failures.push({ index: i, ...f });
      // The session is gone: the pool must log in again and send a reset.
      if (f.rv !== undefined && sessionLossRv(f.rv, f.fn)) {
        closeSession();
        lost = f;
      } else if (fn === 'C_Sign') {
        // A failed C_Sign may leave the operation active (CKR_BUFFER_TOO_SMALL does): start clean.
        openSession();
      }
    }
  }
  const done: BatchDone = {
    type: 'done',
    output: output.buffer as ArrayBuffer,
    lengths,
    failures,
    elapsedMs: performance.now() - started,
  };
  post(done, [done.output, lengths.buffer as ArrayBuffer]);
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'sign':
      return signBatch(message);
    case 'reset':
      slot = Buffer.from(message.slot, 'hex');
      return openSession();
    case 'close':
      closeSession();
      lib.close(); // drops this thread's dlopen reference; the main thread's keeps the library loaded
      port.close(); // nothing else keeps this thread alive: it exits
      return;
  }
});

start();
