// WAL checkpoints off the event loop. SQLite copies the WAL back into the database file every
// 1,000 pages, inside whichever commit crosses the mark, with an fsync: a stall of milliseconds
// that lands on one unlucky login. The store turns that off and a worker thread, with its own
// connection, runs a PASSIVE checkpoint (it never blocks writers or readers) a few times a second.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const CHECKPOINT_EVERY_MS = 250;

// Inline, so the worker needs no file of its own next to the compiled or the TypeScript sources.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = NORMAL');
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or closing: the next tick tries again */ }
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

  constructor(path: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER, { eval: true, workerData: { driver, path, everyMs: CHECKPOINT_EVERY_MS } });
    // A process may end without closing its store: the checkpointer must not keep it alive.
    this.#worker.unref();
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    // A failing checkpointer costs only the WAL's size (the last connection to close checkpoints).
    this.#worker.on('error', () => undefined);
  }

  /** Runs a last checkpoint and stops the worker. */
  async stop(): Promise<void> {
    this.#worker.ref();
    this.#worker.postMessage('stop');
    await this.#exited;
  }
}
