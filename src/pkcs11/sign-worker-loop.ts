// What a signing worker does, on a thread of the pool's process (sign-worker-thread.ts) or in a
// process of its own (sign-worker-process.ts). It owns one session, signs whole batches in a tight
// synchronous C_SignInit + C_Sign loop (no per-signature thread hop) and answers each batch with
// one message.
//
// A thread loads its own pkcs11js handle on the pool's module path: in one process dlopen returns
// the library the main thread already initialised, so login state and object handles are shared;
// it never sees a PIN and never calls C_Finalize (the library is the main thread's). A process has
// a library of its own: it initialises and finalises it, finds the slot by the token's serial and
// label, is logged in by the pool (a `login` message: the PIN travels over the process's pipe, counted by
// the pool like every login, and is not kept here) and finds each key by label and id, handles
// being per process.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Handle, RawMechanism } from './binding.js';
import { bindingRv, sessionLossRv } from './errors.js';
import { pkcs11js } from './native.js';
import type { BatchDone, Failure, FromWorker, KeyName, ToWorker, WorkerInit } from './sign-workers.js';

/** How a worker talks to the pool: a thread's parentPort, or a child process's pipe (sign-worker-frames.ts). */
export interface WorkerChannel {
  post(message: FromWorker, transfer: ArrayBuffer[]): void;
  onMessage(handler: (message: ToWorker) => void): void;
  /** After `close`: lets the thread or process end. */
  end(): void;
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

function failure(err: unknown, fn: string): Failure {
  // The CK_RV is read as the main thread reads it (errors.ts), which turns it into a typed error.
  const rv = bindingRv(err);
  if (rv !== undefined) return { fn, rv };
  return { fn, message: String((err as { message?: unknown } | undefined)?.message ?? err) };
}

export function serveSigning(channel: WorkerChannel, init: WorkerInit): void {
  const own = init.ownProcess;
  const lib = new pkcs11js.PKCS11();
  let slot: Buffer | undefined = init.slot === undefined ? undefined : Buffer.from(init.slot, 'hex');
  let session: Handle | undefined;
  /** Why there is no session (every item fails with it until the pool sends a reset). */
  let lost: Failure | undefined;
  /** A process's own handles for the keys it was asked for, by label and id. */
  const keyHandles = new Map<string, Handle>();

  const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void => channel.post(message, transfer);

  function closeSession(): void {
    keyHandles.clear();
    if (session === undefined) return;
    try {
      lib.C_CloseSession(session);
    } catch {
      // Already invalid (token pulled, module finalized): nothing left to release.
    }
    session = undefined;
  }

  /**
   * A process finds the slot again by the token's serial and label (slot ids are the module's to
   * choose), and only if exactly one token matches: signing with a namesake's keys would be wrong.
   */
  function findSlot(token: { serial: string; label: string }): Buffer {
    const found = lib.C_GetSlotList(true).filter((s) => {
      const info = lib.C_GetTokenInfo(s);
      return info.serialNumber.trim() === token.serial && info.label.trim() === token.label;
    });
    if (found.length !== 1) throw new Error(`${found.length === 0 ? 'no' : 'more than one'} token with serial ${token.serial} and label ${token.label}`);
    return found[0]!;
  }

  function openSession(): void {
    closeSession();
    try {
      if (own) slot = findSlot(own);
      session = lib.C_OpenSession(slot!, pkcs11js.CKF_SERIAL_SESSION);
      lost = undefined;
    } catch (err) {
      lost = failure(err, 'C_OpenSession');
    }
  }

  /** The key as this process knows it: the thread's handle is the pool's own. */
  function keyHandle(name: KeyName): Handle {
    if (!own) return Buffer.from(name.handle, 'hex');
    const cacheKey = `${name.label}\u0000${name.id}`;
    let handle = keyHandles.get(cacheKey);
    if (handle === undefined) {
      lib.C_FindObjectsInit(session!, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_LABEL, value: name.label },
        { type: pkcs11js.CKA_ID, value: Buffer.from(name.id, 'hex') },
      ]);
      const found = lib.C_FindObjects(session!, 2);
      lib.C_FindObjectsFinal(session!);
      // The pool found exactly one such key; two here would make the choice a guess.
      if (found.length !== 1) throw new Error(found.length === 0 ? 'key not found' : 'more than one key with that label and id');
      keyHandles.set(cacheKey, (handle = found[0]!));
    }
    return handle;
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
      // In a thread, success would mean nobody had initialised it; still shared, never finalized here.
    } catch (err) {
      const f = failure(err, 'C_Initialize');
      if (f.rv !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) return post({ type: 'ready', failure: f });
    }
    openSession();
    post({ type: 'ready', failure: lost });
  }

  function login(message: Extract<ToWorker, { type: 'login' }>): void {
    if (session === undefined) return post({ type: 'login', failure: lost ?? { fn: 'C_Login', message: 'no session' } });
    try {
      lib.C_Login(session, message.userType, message.pin);
      post({ type: 'login', failure: undefined });
    } catch (err) {
      post({ type: 'login', failure: failure(err, 'C_Login') });
    }
  }

  function signBatch(batch: Extract<ToWorker, { type: 'sign' }>): void {
    const started = performance.now();
    const keys: Array<Handle | Failure> = batch.keys.map((name) => {
      try {
        return keyHandle(name);
      } catch (err) {
        return failure(err, 'C_FindObjects');
      }
    });
    const mechanisms: RawMechanism[] = batch.mechanisms;
    const layout = batch.layout; // per item: key index, mechanism index, input length, output length
    const count = layout.length / 4;
    let outputSize = 0;
    for (let i = 0; i < count; i++) outputSize += layout[i * 4 + 3]!;
    const input = Buffer.from(batch.data.buffer, batch.data.byteOffset, batch.data.byteLength);
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
      const key = keys[layout[i * 4]!]!;
      if (session === undefined || !Buffer.isBuffer(key)) {
        failures.push({ index: i, ...(session === undefined ? (lost ?? { fn: 'C_SignInit', message: 'no session' }) : (key as Failure)) });
        continue;
      }
      let fn = 'C_SignInit';
      try {
        lib.C_SignInit(session, mechanisms[layout[i * 4 + 1]!]!, key);
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
    const done: BatchDone = { type: 'done', output, lengths, failures, elapsedMs: performance.now() - started };
    post(done, [output.buffer as ArrayBuffer, lengths.buffer as ArrayBuffer]);
  }

  channel.onMessage((message) => {
    switch (message.type) {
      case 'sign':
        return signBatch(message);
      case 'login':
        return login(message);
      case 'reset':
        slot = Buffer.from(message.slot, 'hex');
        return openSession();
      case 'close':
        closeSession();
        if (own) {
          try {
            lib.C_Finalize();
          } catch {
            // Nothing more to release in a process that is about to end.
          }
        }
        lib.close(); // a thread drops its dlopen reference; the main thread's keeps the library loaded
        return channel.end(); // nothing else keeps the thread or process alive: it exits
    }
  });

  start();
}
