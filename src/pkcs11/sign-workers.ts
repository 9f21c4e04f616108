// Signing on workers, for throughput. pkcs11js's C_SignAsync hops to the libuv pool once per
// signature while every C_SignInit still runs on the JS thread; here each worker — a thread, or a
// process of its own (sign-worker-spawn.ts) — owns a session and signs a whole batch synchronously
// (sign-worker-loop.ts), so the event loop only queues requests, packs them into one message per
// batch and resolves the results.
import { availableParallelism } from 'node:os';
import type { Handle, RawMechanism } from './binding.js';
import { errorForRv, InvalidArgumentError, ModuleLoadError, Pkcs11Error, SessionClosedError, type TokengateError } from './errors.js';
import { spawnProcess, spawnThread, type WorkerHandle } from './sign-worker-spawn.js';

/** What a worker starts with. Never a PIN. */
export interface WorkerInit {
  modulePath: string;
  /** A thread's slot: the token's slot handle, hex. */
  slot?: string;
  /** A process's token, found by serial and label in its own library (which it initialises and finalises). */
  ownProcess?: { serial: string; label: string };
}

/** A key as a batch names it: the pool's handle (a thread's too), and what a process finds it by. */
export interface KeyName {
  handle: string;
  label: string;
  /** CKA_ID, hex. */
  id: string;
}

export interface Failure {
  fn: string;
  /** The CK_RV, when the module returned one; else `message` says what went wrong. */
  rv?: number;
  message?: string;
}

export type ToWorker =
  | { type: 'sign'; keys: KeyName[]; mechanisms: RawMechanism[]; layout: Uint32Array; data: Uint8Array }
  /** A process's login: sent by the pool through its PIN counting (session-set.ts: loginElsewhere). */
  | { type: 'login'; userType: number; pin: string }
  /** A thread's fresh session after the token came back (processes are started again instead). */
  | { type: 'reset'; slot: string }
  | { type: 'close' };

export interface BatchDone {
  type: 'done';
  /** Signatures at fixed offsets: item i starts after the output lengths of items before it. */
  output: Uint8Array;
  /** Bytes written per item; -1 where the item failed (see `failures`). */
  lengths: Int32Array;
  failures: Array<Failure & { index: number }>;
  elapsedMs: number;
}

export type FromWorker = { type: 'ready'; failure: Failure | undefined } | { type: 'login'; failure: Failure | undefined } | BatchDone;

/** One signature for a worker: everything prepared on the main thread (mechanism, hashed input). */
export interface SignJob {
  key: Handle;
  keyLabel: string;
  keyId: Buffer;
  mechanism: RawMechanism;
  /** Names mechanism and parameters, so a batch carries each mechanism once. */
  mechanismId: string;
  input: Buffer;
  outputLength: number;
}

interface Pending {
  job: SignJob;
  resolve(output: Buffer): void;
  reject(err: unknown): void;
}

// A batch should take some milliseconds: long enough that one message costs little per signature,
// short enough that a slow mechanism (RSA) does not hold many callers back. Each batch costs the
// event loop some 200 µs of CPU on a shared 2-CPU VM (wake-ups, a message each way); the cost per item is
// measured in wall time, which a busy machine stretches: at 4 ms an RSA-2048 batch shrank to 1.5
// items and the event loop spent 60–100 µs of CPU per signature; at 32 ms, 23–25 items and
// 13–14 µs (P-384: 72–93 → 15–20 µs; 128 callers, /proc/thread-self/schedstat). A short queue
// gets smaller batches anyway: it is shared among the workers' free slots.
const BATCH_TARGET_MS = 32;
const MAX_BATCH = 256;
// Batches sent ahead per worker: the next one is already waiting when the current one ends, so
// a worker never idles for a round trip through the event loop.
const DEPTH = 2;

/** `'auto'`: one worker per CPU, at most 4 (more only contend for the token's locks). */
export function workerCount(option: number | 'auto' | undefined): number {
  if (option === undefined || option === 'auto') return Math.min(4, availableParallelism());
  if (!Number.isInteger(option) || option < 0) throw new InvalidArgumentError('workers must be a non-negative integer or "auto"');
  return option;
}

function failureError(f: Failure): TokengateError {
  if (f.rv !== undefined) return errorForRv(f.rv, f.fn);
  return new Pkcs11Error(`${f.fn} failed in a signing worker: ${f.message ?? 'unknown error'}`);
}

class SignWorker {
  readonly handle: WorkerHandle;
  /** Batches sent and not yet answered, oldest first. */
  readonly batches: Pending[][] = [];
  readonly ready: Promise<void>;
  /** Where answered batches go, once the set has adopted this worker. */
  onDone: ((done: BatchDone) => void) | undefined;
  #answer: { resolve(): void; reject(err: unknown): void } | undefined;
  #stopping: Promise<void> | undefined;
  #exited = false;

  constructor(init: WorkerInit) {
    this.handle = init.ownProcess ? spawnProcess(init) : spawnThread(init);
    this.handle.onExit(() => (this.#exited = true));
    this.ready = new Promise((resolve, reject) => {
      this.#answer = { resolve, reject };
      this.handle.onError((err) => this.#fail(new ModuleLoadError('a signing worker could not start', { cause: err })));
      this.handle.onExit(() => this.#fail(new ModuleLoadError('a signing worker stopped while starting')));
    });
    this.handle.onMessage((m) => {
      if (m.type === 'done') return this.onDone?.(m);
      // `ready`, then (a process) `login`: each answers the one question asked.
      const answer = this.#answer;
      this.#answer = undefined;
      if (m.failure === undefined) answer?.resolve();
      else answer?.reject(failureError(m.failure));
    });
  }

  #fail(err: unknown): void {
    const answer = this.#answer;
    this.#answer = undefined;
    answer?.reject(err);
  }

  /** A process logs in with the PIN it is given here (the caller counts the attempt); it does not keep it. */
  login(userType: number, pin: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#answer = { resolve, reject };
      this.handle.postMessage({ type: 'login', userType, pin });
    });
  }

  send(items: Pending[]): void {
    const keys: KeyName[] = [];
    const keyIndex = new Map<Handle, number>();
    const mechanisms: RawMechanism[] = [];
    const mechanismIndex = new Map<string, number>();
    const layout = new Uint32Array(items.length * 4);
    let size = 0;
    for (const { job } of items) size += job.input.length;
    // One transferred buffer for all inputs: cloning many small Buffers would copy their pool slabs.
    const data = new Uint8Array(size);
    for (let i = 0, at = 0; i < items.length; i++) {
      const job = items[i]!.job;
      let k = keyIndex.get(job.key);
      if (k === undefined) keyIndex.set(job.key, (k = keys.push({ handle: job.key.toString('hex'), label: job.keyLabel, id: job.keyId.toString('hex') }) - 1));
      let m = mechanismIndex.get(job.mechanismId);
      if (m === undefined) mechanismIndex.set(job.mechanismId, (m = mechanisms.push(job.mechanism) - 1));
      layout[i * 4] = k;
      layout[i * 4 + 1] = m;
      layout[i * 4 + 2] = job.input.length;
      layout[i * 4 + 3] = job.outputLength;
      data.set(job.input, at);
      at += job.input.length;
    }
    this.batches.push(items);
    // Busy workers keep the process alive (a caller is waiting); idle ones must not.
    if (this.batches.length === 1) this.handle.ref();
    const message: ToWorker = { type: 'sign', keys, mechanisms, layout, data };
    this.handle.postMessage(message, [data.buffer, layout.buffer]);
  }

  /** Settles the oldest batch from the worker's answer. */
  finish(done: BatchDone): Pending[] {
    const items = this.batches.shift() ?? [];
    if (this.batches.length === 0 && !this.#stopping) this.handle.unref();
    const output = Buffer.from(done.output.buffer, done.output.byteOffset, done.output.byteLength);
    for (let i = 0, at = 0; i < items.length; i++) {
      const length = done.lengths[i]!;
      // Views on the batch's buffer, like Node's own pooled Buffers: no copy per signature.
      if (length >= 0) items[i]!.resolve(output.subarray(at, at + length));
      at += items[i]!.job.outputLength;
    }
    for (const f of done.failures) items[f.index]?.reject(failureError(f));
    return items;
  }

  /** Asks the worker to finish its batches, close its session and exit; resolves when it has. */
  stop(): Promise<void> {
    this.#stopping ??= new Promise<void>((resolve) => {
      if (this.#exited) return resolve();
      this.handle.ref(); // an awaited close must not be cut short by an idle-looking process
      this.handle.onExit(() => resolve());
      this.handle.postMessage({ type: 'close' } satisfies ToWorker);
    });
    return this.#stopping;
  }

  /** Fails whatever is still in flight: the worker is gone. */
  abandon(err: () => unknown): void {
    for (const batch of this.batches.splice(0)) for (const item of batch) item.reject(err());
  }
}

/** A set of signing workers on one token, fed from one queue. */
export class SignWorkers {
  readonly #workers = new Set<SignWorker>();
  #queue: Pending[] = [];
  #pumpScheduled = false;
  /** Measured cost of one signature, to size batches; starts at a fast EC key's. */
  #msPerItem = 0.2;
  #closing: Promise<void> | undefined;
  /** Processes being started again after the token came back. */
  #relaunching: Promise<void> | undefined;
  readonly #launch: WorkerLaunch;
  readonly #count: number;

  private constructor(launch: WorkerLaunch, count: number) {
    this.#launch = launch;
    this.#count = count;
  }

  /** Starts `count` workers with sessions on the token; fails if any cannot load the module, open a session or log in. */
  static async start(launch: WorkerLaunch, count: number): Promise<SignWorkers> {
    const set = new SignWorkers(launch, count);
    for (const worker of await launchWorkers(launch, count)) set.#adopt(worker);
    return set;
  }

  #adopt(worker: SignWorker): void {
    this.#workers.add(worker);
    worker.handle.unref();
    worker.onDone = (m) => {
      const items = worker.finish(m);
      if (items.length > 0) this.#msPerItem = 0.8 * this.#msPerItem + 0.2 * (m.elapsedMs / items.length);
      this.#pump();
    };
    worker.handle.onError((err) => this.#lose(worker, err));
    worker.handle.onExit(() => this.#lose(worker, undefined));
  }

  #lose(worker: SignWorker, cause: unknown): void {
    const current = this.#workers.delete(worker);
    worker.abandon(() =>
      this.#closing ? new SessionClosedError('the session pool is closed') : new Pkcs11Error('a signing worker stopped', { cause }),
    );
    // A worker retired by a relaunch leaves the queue to its successors.
    if (current && this.#workers.size === 0) this.#rejectQueue(new Pkcs11Error('no signing worker is running', { cause }));
    this.#pump();
  }

  #rejectQueue(err: unknown): void {
    for (const item of this.#queue.splice(0)) item.reject(err);
  }

  /** What the workers are: threads or processes. */
  get kind(): WorkerKind {
    return this.#launch.kind;
  }

  /** Running workers. */
  get size(): number {
    return this.#workers.size;
  }

  /** Signs on a worker; resolves with the token's raw output, or rejects with the typed error for its CK_RV. */
  sign(job: SignJob): Promise<Buffer> {
    if (this.#closing) return Promise.reject(new SessionClosedError('the session pool is closed'));
    if (this.#workers.size === 0) return Promise.reject(new Pkcs11Error('no signing worker is running'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      // Jobs queued in the same tick travel together.
      if (!this.#pumpScheduled) {
        this.#pumpScheduled = true;
        queueMicrotask(() => {
          this.#pumpScheduled = false;
          this.#pump();
        });
      }
    });
  }

  /** Hands queued jobs to workers with room, least loaded first, in fair shares of bounded size. */
  #pump(): void {
    while (this.#queue.length > 0) {
      let target: SignWorker | undefined;
      let room = 0;
      for (const w of this.#workers) {
        if (w.batches.length >= DEPTH) continue;
        room += DEPTH - w.batches.length;
        if (!target || w.batches.length < target.batches.length) target = w;
      }
      if (!target) return;
      const cap = Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_TARGET_MS / this.#msPerItem)));
      target.send(this.#queue.splice(0, Math.min(cap, Math.ceil(this.#queue.length / room))));
    }
  }

  /**
   * After the token came back and the pool logged in again: every thread opens a fresh session on
   * the pool's login. A process's login went with the token, so processes are started again, and
   * log in again; meanwhile the pool signs on its own sessions (no worker running).
   */
  reset(slot: Handle): void {
    if (this.#launch.kind === 'thread') {
      const message: ToWorker = { type: 'reset', slot: slot.toString('hex') };
      for (const w of this.#workers) w.handle.postMessage(message);
      return;
    }
    const retired = [...this.#workers];
    this.#workers.clear();
    const retiring = Promise.all(retired.map((w) => w.stop()));
    const relaunch = launchWorkers(this.#launch, this.#count).then(
      async (workers) => {
        if (this.#closing) return void (await Promise.all(workers.map((w) => w.stop())));
        for (const worker of workers) this.#adopt(worker);
        this.#pump();
      },
      (err: unknown) => this.#rejectQueue(err), // none came up: the pool keeps signing on its own sessions
    );
    // close() waits for this: the retired processes gone, the new ones adopted (or stopped).
    const tracked: Promise<void> = Promise.all([retiring, relaunch]).then(() => undefined).finally(() => {
      if (this.#relaunching === tracked) this.#relaunching = undefined;
    });
    this.#relaunching = tracked;
  }

  /** Rejects queued jobs, lets batches in flight finish, then each worker closes its session and exits. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#rejectQueue(new SessionClosedError('the session pool is closed'));
      await this.#relaunching;
      await Promise.all([...this.#workers].map((w) => w.stop()));
    })();
    return this.#closing;
  }
}

/** Threads of the pool's process, or processes of their own. */
export type WorkerKind = 'thread' | 'process';

/** How workers start: threads on the pool's own login, or processes that each log in (through `login`, which counts the attempt). */
export type WorkerLaunch =
  | { kind: 'thread'; modulePath: string; slot: Handle }
  | { kind: 'process'; modulePath: string; serial: string; label: string; login(send: (userType: number, pin: string) => Promise<void>): Promise<void> };

async function launchWorkers(launch: WorkerLaunch, count: number): Promise<SignWorker[]> {
  const init: WorkerInit = launch.kind === 'thread' ? { modulePath: launch.modulePath, slot: launch.slot.toString('hex') } : { modulePath: launch.modulePath, ownProcess: { serial: launch.serial, label: launch.label } };
  const workers = Array.from({ length: count }, () => new SignWorker(init));
  const started = await Promise.allSettled(
    workers.map(async (w) => {
      await w.ready;
      if (launch.kind === 'process') await launch.login((userType, pin) => w.login(userType, pin));
    }),
  );
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Those that did start close their sessions on the way out; the others have none.
    await Promise.all(workers.map((w, i) => (started[i]!.status === 'fulfilled' ? w.stop() : w.handle.terminate())));
    throw failed.reason;
  }
  return workers;
}
