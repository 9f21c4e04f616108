// Signing on worker threads, for throughput. pkcs11js's C_SignAsync hops to the libuv pool once
// per signature while every C_SignInit still runs on the JS thread; here each worker thread owns
// a session and signs a whole batch synchronously (see sign-worker-thread.ts), so the event loop
// only queues requests, packs them into one message per batch and resolves the results.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Handle, RawMechanism } from './binding.js';
import { errorForRv, InvalidArgumentError, ModuleLoadError, Pkcs11Error, SessionClosedError, type TokengateError } from './errors.js';

/** What a worker starts with. Never a PIN. */
export interface WorkerInit {
  modulePath: string;
  /** The token's slot handle, hex. */
  slot: string;
}

export interface Failure {
  fn: string;
  /** The CK_RV, when the module returned one; else `message` says what went wrong. */
  rv?: number;
  message?: string;
}

export type ToWorker =
  | { type: 'sign'; keys: string[]; mechanisms: RawMechanism[]; layout: Uint32Array; data: ArrayBuffer }
  | { type: 'reset'; slot: string }
  | { type: 'close' };

export interface BatchDone {
  type: 'done';
  /** Signatures at fixed offsets: item i starts after the output lengths of items before it. */
  output: ArrayBuffer;
  /** Bytes written per item; -1 where the item failed (see `failures`). */
  lengths: Int32Array;
  failures: Array<Failure & { index: number }>;
  elapsedMs: number;
}

export type FromWorker = { type: 'ready'; failure: Failure | undefined } | BatchDone;

/** One signature for a worker: everything prepared on the main thread (mechanism, hashed input). */
export interface SignJob {
  key: Handle;
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

/** Starts the worker thread: the built .js next to this file, or the .ts source through tsx. */
function spawnThread(init: WorkerInit): Worker {
  const js = new URL('./sign-worker-thread.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: init });
  // Running from the TypeScript sources (tsx, vitest). On Node 20 a worker does not inherit the
  // parent's module hooks and `--import tsx` in execArgv does not reach a worker's entry, so a
  // one-line bootstrap loads the entry through tsx's tsImport (found via tsx's export map).
  const ts = new URL('./sign-worker-thread.ts', import.meta.url).href;
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as TsxManifest).exports['./esm/api'].import.default;
  const api = new URL(exports, pathToFileURL(manifest)).href;
  const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(ts)}, ${JSON.stringify(ts)}))`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

interface TsxManifest {
  exports: { './esm/api': { import: { default: string } } };
}

function failureError(f: Failure): TokengateError {
  if (f.rv !== undefined) return errorForRv(f.rv, f.fn);
  return new Pkcs11Error(`${f.fn} failed in a signing worker: ${f.message ?? 'unknown error'}`);
}

class SignWorker {
  readonly thread: Worker;
  /** Batches sent and not yet answered, oldest first. */
  readonly batches: Pending[][] = [];
  readonly ready: Promise<void>;
  #stopping: Promise<void> | undefined;
  #exited = false;

  constructor(init: WorkerInit) {
    this.thread = spawnThread(init);
    this.thread.once('exit', () => (this.#exited = true));
    this.ready = new Promise((resolve, reject) => {
      this.thread.once('message', (m: FromWorker) => {
        if (m.type === 'ready' && m.failure === undefined) resolve();
        else reject(m.type === 'ready' ? failureError(m.failure!) : new Pkcs11Error('signing worker spoke out of turn'));
      });
      this.thread.once('error', (err) => reject(new ModuleLoadError('a signing worker could not start', { cause: err })));
      this.thread.once('exit', () => reject(new ModuleLoadError('a signing worker stopped while starting')));
    });
  }

  send(items: Pending[]): void {
    const keys: string[] = [];
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
      if (k === undefined) keyIndex.set(job.key, (k = keys.push(job.key.toString('hex')) - 1));
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
    if (this.batches.length === 1) this.thread.ref();
    const message: ToWorker = { type: 'sign', keys, mechanisms, layout, data: data.buffer };
    this.thread.postMessage(message, [data.buffer, layout.buffer]);
  }

  /** Settles the oldest batch from the worker's answer. */
  finish(done: BatchDone): Pending[] {
    const items = this.batches.shift() ?? [];
    if (this.batches.length === 0 && !this.#stopping) this.thread.unref();
    const output = Buffer.from(done.output);
    for (let i = 0, at = 0; i < items.length; i++) {
      const length = done.lengths[i]!;
      // Views on the batch's buffer, like Node's own pooled Buffers: no copy per signature.
      if (length >= 0) items[i]!.resolve(output.subarray(at, at + length));
      at += items[i]!.job.outputLength;
    }
    for (const f of done.failures) items[f.index]?.reject(failureError(f));
    return items;
  }

  /** Asks the thread to finish its batches, close its session and exit; resolves when it has. */
  stop(): Promise<void> {
    this.#stopping ??= new Promise<void>((resolve) => {
      if (this.#exited) return resolve();
      this.thread.ref(); // an awaited close must not be cut short by an idle-looking process
      this.thread.once('exit', () => resolve());
      this.thread.postMessage({ type: 'close' } satisfies ToWorker);
    });
    return this.#stopping;
  }

  /** Fails whatever is still in flight: the thread is gone. */
  abandon(err: () => unknown): void {
    for (const batch of this.batches.splice(0)) for (const item of batch) item.reject(err());
  }
}

/** A set of signing threads on one token, fed from one queue. */
export class SignWorkers {
  readonly #workers = new Set<SignWorker>();
  #queue: Pending[] = [];
  #pumpScheduled = false;
  /** Measured cost of one signature, to size batches; starts at a fast EC key's. */
  #msPerItem = 0.2;
  #closing: Promise<void> | undefined;

  private constructor() {}

  /** Starts `count` threads with sessions on `slot`; fails if any cannot load the module or open a session. */
  static async start(modulePath: string, slot: Handle, count: number): Promise<SignWorkers> {
    const set = new SignWorkers();
    const init: WorkerInit = { modulePath, slot: slot.toString('hex') };
    const workers = Array.from({ length: count }, () => new SignWorker(init));
    const started = await Promise.allSettled(workers.map((w) => w.ready));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Those that did start close their sessions on the way out; the others have none.
      await Promise.all(workers.map((w, i) => (started[i]!.status === 'fulfilled' ? w.stop() : w.thread.terminate())));
      throw failed.reason;
    }
    for (const worker of workers) set.#adopt(worker);
    return set;
  }

  #adopt(worker: SignWorker): void {
    this.#workers.add(worker);
    worker.thread.unref();
    worker.thread.on('message', (m: FromWorker) => {
      if (m.type !== 'done') return;
      const items = worker.finish(m);
      if (items.length > 0) this.#msPerItem = 0.8 * this.#msPerItem + 0.2 * (m.elapsedMs / items.length);
      this.#pump();
    });
    worker.thread.on('error', (err) => this.#lose(worker, err));
    worker.thread.on('exit', () => this.#lose(worker, undefined));
  }

  #lose(worker: SignWorker, cause: unknown): void {
    this.#workers.delete(worker);
    worker.abandon(() =>
      this.#closing ? new SessionClosedError('the session pool is closed') : new Pkcs11Error('a signing worker stopped', { cause }),
    );
    if (this.#workers.size === 0) {
      for (const item of this.#queue.splice(0)) item.reject(new Pkcs11Error('no signing worker is running', { cause }));
    }
    this.#pump();
  }

  /** Running threads. */
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

  /** After the token came back and the pool logged in again: every worker opens a fresh session. */
  reset(slot: Handle): void {
    const message: ToWorker = { type: 'reset', slot: slot.toString('hex') };
    for (const w of this.#workers) w.thread.postMessage(message);
  }

  /** Rejects queued jobs, lets batches in flight finish, then each thread closes its session and exits. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const item of this.#queue.splice(0)) item.reject(new SessionClosedError('the session pool is closed'));
      await Promise.all([...this.#workers].map((w) => w.stop()));
    })();
    return this.#closing;
  }
}
