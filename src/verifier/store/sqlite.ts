// The embedded engine: better-sqlite3 in WAL mode. Its calls are synchronous, so transactions are
// queued in this process (an async body must not interleave with another's statements) and take
// SQLite's write lock up front (BEGIN IMMEDIATE), which also queues other processes on the file;
// a lock another process holds is waited for without blocking the event loop (sqlite-lock.ts).
// Writes and transactions through the relaxed view are group-committed (sqlite-batch.ts), and WAL checkpoints run
// in a worker thread (sqlite-checkpointer.ts): one relaxed commit per turn, and no checkpoint, on
// the event loop; while the worker rewinds the WAL, new write transactions wait for it. The file
// and its -wal/-shm are created owner-only (sqlite-file.ts).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3, { type Statement } from 'better-sqlite3';
import { enableWal } from '../../util/sqlite-wal.js';
import type { Database, RunResult, SqlExecutor, SqlValue } from './database.js';
import { transactionStatements, WriteBatch } from './sqlite-batch.js';
import { WalCheckpointer } from './sqlite-checkpointer.js';
import { DEFAULT_LOCK_WAIT_MS, isBusy, LOCK_SLICE_MS, retryWhileBusy } from './sqlite-lock.js';
import { StoreUnavailableError } from '../errors.js';
import { prepareDatabaseFile, restrictCompanions, type VerifierWarning } from './sqlite-file.js';

type Params = readonly SqlValue[];

const PAGE_CACHE_KIB = 64 * 1024;
const MMAP_BYTES = 1024 * 1024 * 1024;

// Compiled once per SQL text and connection: preparing costs more than running most of our
// statements. The texts are the code's own (a fixed set), so a cache stays small.
// A statement that returns rows runs in raw mode (arrays) and its rows are made into objects
// here: better-sqlite3 builds each row's object in C++, looking every column name up in V8's
// string table each time, a third of a read's cost; the names kept once here cost nothing.
interface Prepared {
  readonly statement: Statement;
  /** Column names of a statement that returns rows (in raw mode); undefined for the others. */
  readonly columns: readonly string[] | undefined;
}

const statementCaches = new WeakMap<BetterSqlite3.Database, Map<string, Prepared>>();

function prepare(db: BetterSqlite3.Database, sql: string): Prepared {
  const statement = db.prepare(sql);
  if (!statement.reader) return { statement, columns: undefined };
  const columns = statement.columns().map((c) => c.name);
  statement.raw(true);
  return { statement, columns };
}

/** A raw row as better-sqlite3 would have made it: a later column of the same name wins. */
function rowObject<T>(columns: readonly string[], values: readonly unknown[]): T {
  const row: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]!] = values[i];
  return row as T;
}

class SqliteExecutor implements SqlExecutor {
  constructor(protected readonly db: BetterSqlite3.Database) {}

  protected prepared(sql: string): Prepared {
    let cache = statementCaches.get(this.db);
    if (!cache) statementCaches.set(this.db, (cache = new Map()));
    let prepared = cache.get(sql);
    if (!prepared) cache.set(sql, (prepared = prepare(this.db, sql)));
    return prepared;
  }

  async all<T>(sql: string, params: Params = []): Promise<T[]> {
    return this.allNow<T>(sql, params);
  }

  async get<T>(sql: string, params: Params = []): Promise<T | undefined> {
    return this.getNow<T>(sql, params);
  }

  async run(sql: string, params: Params = []): Promise<RunResult> {
    return this.runNow(sql, params);
  }

  protected allNow<T>(sql: string, params: Params): T[] {
    const { statement, columns } = this.prepared(sql);
    const rows = statement.all(...params) as unknown[];
    return columns ? rows.map((values) => rowObject<T>(columns, values as unknown[])) : (rows as T[]);
  }

  protected getNow<T>(sql: string, params: Params): T | undefined {
    const { statement, columns } = this.prepared(sql);
    const values = statement.get(...params) as unknown[] | undefined;
    return columns && values ? rowObject<T>(columns, values) : (values as T | undefined);
  }

  protected runNow(sql: string, params: Params): RunResult {
    const { statement } = this.prepared(sql);
    // A statement with RETURNING must be stepped like a query.
    if (statement.reader) return { changes: statement.all(...params).length };
    return { changes: statement.run(...params).changes };
  }
}

interface Shared {
  queue: Promise<unknown>;
  closed: boolean;
  /** The relaxed writes of this turn of the event loop, committed together on the next. */
  batch: WriteBatch | undefined;
  checkpointer: WalCheckpointer | undefined;
  /** How long a write waits for a lock another process holds (sqlite-lock.ts). */
  lockWaitMs: number;
  /** Writes now waiting (asynchronously) for that lock: the connection is idle meanwhile. */
  lockWaiters: number;
}

export interface SqliteOptions {
  /** How long a write waits for the write lock another process holds before 503 (default 5 s). */
  readonly lockWaitMs?: number;
}

export class SqliteDatabase extends SqliteExecutor implements Database {
  readonly dialect = 'sqlite' as const;
  readonly forUpdate = '';
  readonly #shared: Shared;
  readonly #relaxedView: boolean;
  #relaxed: SqliteDatabase | undefined;

  private constructor(db: BetterSqlite3.Database, shared: Shared, relaxed: boolean) {
    super(db);
    this.#shared = shared;
    this.#relaxedView = relaxed;
  }

  /**
   * Opens (creating, 0600) the database file; `:memory:` for a throwaway one. An existing file
   * that others may read is reported to `onWarning`, and opened all the same.
   */
  static open(path: string, onWarning: (warning: VerifierWarning) => void = () => undefined, options: SqliteOptions = {}): SqliteDatabase {
    const file = path !== ':memory:';
    if (file) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const warning = prepareDatabaseFile(path);
      if (warning) onWarning(warning);
    }
    const db = new BetterSqlite3(path);
    // Another process may hold the write lock: SQLite waits a slice, the rest is waited
    // asynchronously (sqlite-lock.ts), so the event loop never stalls on it.
    db.pragma(`busy_timeout = ${LOCK_SLICE_MS}`);
    enableWal(db);
    db.pragma('foreign_keys = ON');
    // Commits through `relaxed` do not wait for the disk; the durable view switches to FULL around
    // each of its operations (they are the rare ones: resets, enrollments, lifecycle changes).
    db.pragma('synchronous = NORMAL');
    // SQLite's default page cache is 2 MiB: at a million users each login's B-tree descents (its
    // user, card, audit indexes) would go to the OS for most pages. 64 MiB keeps every tree's
    // inner pages and the hot leaves here, and reads map the file (up to 1 GiB) rather than copy
    // it: challenge logins at 1M users went from 0.66 of the rate at 1k (2 MiB, no map) to 0.78.
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    db.pragma(`mmap_size = ${MMAP_BYTES}`);
    let checkpointer: WalCheckpointer | undefined;
    if (file) {
      // A first read opens the -wal and -shm; ones left wider by an older file are narrowed.
      db.pragma('schema_version');
      restrictCompanions(path);
      db.pragma('wal_autocheckpoint = 0');
      checkpointer = new WalCheckpointer(path);
    }
    return new SqliteDatabase(db, { queue: Promise.resolve(), closed: false, batch: undefined, checkpointer, lockWaitMs: options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, lockWaiters: 0 }, false);
  }

  /**
   * The same connection, committing without waiting for the disk (WAL, synchronous = NORMAL):
   * safe against a process crash, and the next durable commit (synchronous = FULL) flushes these too.
   */
  get relaxed(): Database {
    if (this.#relaxedView) return this;
    return (this.#relaxed ??= new SqliteDatabase(this.db, this.#shared, true));
  }

  /** Commits the open batch, if any: everything but a relaxed statement runs outside one. */
  #flush(): void {
    this.#shared.batch?.commit();
    this.#shared.batch = undefined;
  }

  /**
   * Runs `work` after everything queued before it on this connection, whatever their outcome. Its
   * deadline for the write lock counts from now, not from its turn: when another process holds
   * the lock, the writes queued behind the first give up with it, not one bound after another.
   */
  #enqueue<T>(work: (lockDeadline: number) => T | Promise<T>): Promise<T> {
    const lockDeadline = performance.now() + this.#shared.lockWaitMs;
    const run = () => work(lockDeadline);
    const result = this.#shared.queue.then(run, run);
    this.#shared.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs `work` alone on the connection. `work` that fails for want of the write lock before it
   * did anything (`retryable`: one statement, or a transaction's BEGIN) is tried again, waiting
   * asynchronously; otherwise a lock that cannot be had is the store being unavailable.
   */
  #serial<T>(work: (lockDeadline: number) => Promise<T>, retryable = true): Promise<T> {
    return this.#enqueue(async (lockDeadline) => {
      await this.#shared.checkpointer?.writable();
      this.#flush();
      if (this.#relaxedView) return this.#lockWaiting(work, retryable, lockDeadline);
      this.db.pragma('synchronous = FULL');
      try {
        return await this.#lockWaiting(work, retryable, lockDeadline);
      } finally {
        this.db.pragma('synchronous = NORMAL');
      }
    });
  }

  async #lockWaiting<T>(work: (lockDeadline: number) => Promise<T>, retryable: boolean, lockDeadline: number): Promise<T> {
    try {
      return await work(lockDeadline);
    } catch (err) {
      if (!isBusy(err) || this.db.inTransaction) throw err;
      if (!retryable) throw new StoreUnavailableError(err);
      return this.#waitForLock(() => work(lockDeadline), err, lockDeadline);
    }
  }

  async #waitForLock<T>(attempt: () => T | Promise<T>, failure: unknown, lockDeadline: number): Promise<T> {
    this.#shared.lockWaiters++;
    try {
      return await retryWhileBusy(attempt, failure, lockDeadline);
    } finally {
      this.#shared.lockWaiters--;
    }
  }

  /**
   * Whether a read may run now, ahead of the queue: while the queue's head only waits for another
   * process's lock, nothing is open on the connection, and a read issued meanwhile (by another
   * request: each caller awaits its own writes) has nothing to wait for.
   */
  #mayReadAhead(sql: string): boolean {
    return this.#shared.lockWaiters > 0 && !this.db.inTransaction && !this.#shared.batch?.open && this.prepared(sql).statement.readonly;
  }

  /** `attempt` now if the lock is free (no promise on this path: it is every relaxed write's), else once it is. */
  #whenLocked<T>(attempt: () => T, lockDeadline: number): T | Promise<T> {
    try {
      return attempt();
    } catch (err) {
      if (!isBusy(err)) throw err;
      return this.#waitForLock(attempt, err, lockDeadline);
    }
  }

  /**
   * The batch of this turn, opened if none is (after the checkpointer's rewind and another
   * process's lock); synchronous when it can be, as it is for nearly every relaxed write. It
   * commits on the next turn, through the queue: after whatever is running on the connection.
   */
  #batchOfThisTurn(lockDeadline: number): WriteBatch | Promise<WriteBatch> {
    const shared = this.#shared;
    if (shared.batch?.open) return shared.batch;
    const start = (batch: WriteBatch) => {
      shared.batch = batch;
      setImmediate(() =>
        void this.#enqueue(() => {
          if (shared.batch === batch) shared.batch = undefined;
          batch.commit();
        }),
      );
      return batch;
    };
    const begin = () => {
      const begun = this.#whenLocked(() => WriteBatch.begin(this.db), lockDeadline);
      return begun instanceof Promise ? begun.then(start) : start(begun);
    };
    // A new batch waits while the checkpointer rewinds the WAL (sqlite-checkpointer.ts).
    const held = shared.checkpointer?.writable();
    return held ? held.then(begin) : begin();
  }

  /**
   * A relaxed statement: a read runs at once (seeing the open batch); a write joins the batch,
   * and its result is given out once the batch has committed.
   */
  async #batched<T>(sql: string, execute: () => T): Promise<T> {
    const join = (batch: WriteBatch) => ({ value: batch.add(execute), batch });
    const { value, batch } = await this.#enqueue((lockDeadline) => {
      if (this.prepared(sql).statement.readonly) return { value: execute(), batch: undefined };
      const batch = this.#batchOfThisTurn(lockDeadline);
      return batch instanceof Promise ? batch.then(join) : join(batch);
    });
    if (batch) await batch.committed;
    return value;
  }

  /**
   * A relaxed transaction: one savepoint of the batch of this turn, alone on the connection while
   * it runs (the queue), undone alone if it throws, and resolved once the batch has committed —
   * the commit it would have made on its own shared with the other logins of the moment.
   */
  async #batchedTransaction<T>(body: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const { value, batch } = await this.#enqueue(async (lockDeadline) => {
      const batch = await this.#batchOfThisTurn(lockDeadline);
      return { value: await batch.nest(() => body(new SqliteExecutor(this.db))), batch };
    });
    await batch.committed;
    return value;
  }

  override all<T>(sql: string, params?: Params): Promise<T[]> {
    if (this.#mayReadAhead(sql)) return super.all<T>(sql, params);
    if (this.#relaxedView) return this.#batched(sql, () => this.allNow<T>(sql, params ?? []));
    return this.#serial(() => super.all<T>(sql, params));
  }

  override get<T>(sql: string, params?: Params): Promise<T | undefined> {
    if (this.#mayReadAhead(sql)) return super.get<T>(sql, params);
    if (this.#relaxedView) return this.#batched(sql, () => this.getNow<T>(sql, params ?? []));
    return this.#serial(() => super.get<T>(sql, params));
  }

  override run(sql: string, params?: Params): Promise<RunResult> {
    if (this.#relaxedView) return this.#batched(sql, () => this.runNow(sql, params ?? []));
    return this.#serial(() => super.run(sql, params));
  }

  transaction<T>(body: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    if (this.#relaxedView) return this.#batchedTransaction(body);
    // Only the BEGIN waits for the lock (it takes it for the whole transaction) and is retried; the
    // body may have done work outside the store, so a lock it met itself is not.
    return this.#serial(async (lockDeadline) => {
      const statements = transactionStatements(this.db);
      const begun = this.#whenLocked(statements.begin, lockDeadline);
      if (begun instanceof Promise) await begun;
      try {
        const result = await body(new SqliteExecutor(this.db));
        statements.commit();
        return result;
      } catch (err) {
        if (this.db.inTransaction) statements.rollback();
        throw err;
      }
    }, false);
  }

  exec(script: string): Promise<void> {
    // A script may have done part of its work when it meets the lock: never tried again.
    return this.#serial(async () => void this.db.exec(script), false);
  }

  /** Closes the connection (the relaxed view shares it: closing either closes both). */
  async close(): Promise<void> {
    if (this.#shared.closed) return;
    this.#shared.closed = true;
    await this.#shared.queue;
    this.#flush();
    await this.#shared.checkpointer?.stop();
    this.db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
