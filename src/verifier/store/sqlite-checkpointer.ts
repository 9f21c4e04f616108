// WAL checkpoints off the event loop. SQLite copies the WAL back into the database file every
// 1,000 pages, inside whichever commit crosses the mark, with an fsync: a stall of milliseconds
// that lands on one unlucky login. The store turns that off and a worker thread, with its own
// connection, runs a PASSIVE checkpoint (it never blocks writers or readers) a few times a second.
//
// PASSIVE alone never lets the WAL start over under steady writes: SQLite rewinds it only when a
// checkpoint has caught up with the last commit, and commits keep arriving while it copies. The
// WAL would grow without end, and every commit would extend the file (new blocks for the file
// system to allocate and zero: the costliest part of a login's commit). So once the WAL holds
// RESTART_FRAMES or more, the worker raises a flag (shared memory), the store opens no new write
// transaction while it is up (its writers wait asynchronously: the event loop never blocks on
// it), and the worker runs a RESTART checkpoint — the few frames PASSIVE left, then the next
// commit writes from the WAL's start again, over blocks the file already has. Two PASSIVE runs
// first leave the RESTART little to copy: the hold lasts about a millisecond.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const CHECKPOINT_EVERY_MS = 250;
/** 4 MiB of 4 KiB pages: past this the WAL is rewound. */
const RESTART_FRAMES = 1024;
/** The longest the store holds its writes for a RESTART (a hung worker must not stop logins). */
const HOLD_MAX_MS = 50;

/** Atomics.waitAsync: in Node since 16, in TypeScript's lib only from ES2024 (newer than ours). */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: unknown } }).waitAsync;

// Inline, so the worker needs no file of its own next to the compiled or the TypeScript sources.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const hold = new Int32Array(workerData.hold);
const db = new Database(workerData.path);
db.pragma('busy_timeout = ' + workerData.holdMaxMs);
db.pragma('synchronous = NORMAL');
const checkpoint = () => {
  try {
    const [{ log }] = db.pragma('wal_checkpoint(PASSIVE)');
    if (log < workerData.restartFrames) return;
    // Again, for what was committed meanwhile: the RESTART that holds writers has little left to copy.
    db.pragma('wal_checkpoint(PASSIVE)');
    Atomics.store(hold, 0, 1);
    try { db.pragma('wal_checkpoint(RESTART)'); } finally { Atomics.store(hold, 0, 0); Atomics.notify(hold, 0); }
  } catch { /* busy or closing: the next tick tries again */ }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.once('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  /** [0] is 1 while the worker wants writers held off for a RESTART checkpoint. */
  readonly #hold = new Int32Array(new SharedArrayBuffer(4));

  constructor(path: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const workerData = { driver, path, everyMs: CHECKPOINT_EVERY_MS, restartFrames: RESTART_FRAMES, holdMaxMs: HOLD_MAX_MS, hold: this.#hold.buffer };
    this.#worker = new Worker(WORKER, { eval: true, workerData });
    // A process may end without closing its store: the checkpointer must not keep it alive.
    this.#worker.unref();
    this.#exited = new Promise((resolve) =>
      this.#worker.once('exit', () => {
        // A worker that died holding writers back must not leave them waiting on every batch.
        Atomics.store(this.#hold, 0, 0);
        Atomics.notify(this.#hold, 0);
        resolve();
      }),
    );
    // A failing checkpointer costs only the WAL's size (the last connection to close checkpoints).
    this.#worker.on('error', () => undefined);
  }

  /**
   * Undefined when a write transaction may begin now; else a promise that resolves once the
   * worker's RESTART is over (or HOLD_MAX_MS has passed).
   */
  writable(): Promise<unknown> | undefined {
    if (Atomics.load(this.#hold, 0) === 0) return undefined;
    const wait = waitAsync(this.#hold, 0, 1, HOLD_MAX_MS);
    if (!wait.async) return undefined;
    // A pending waitAsync alone does not keep the process alive: the timer does, meanwhile.
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, HOLD_MAX_MS);
      void (wait.value as Promise<unknown>).then(() => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  /** Runs a last checkpoint and stops the worker. */
  async stop(): Promise<void> {
    this.#worker.ref();
    this.#worker.postMessage('stop');
    await this.#exited;
  }
}
