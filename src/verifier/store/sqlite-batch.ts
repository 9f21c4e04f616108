// Group commit for the relaxed view. Each SQLite commit costs ~50 µs (the WAL write and the lock
// dance) against ~5 µs for the statement itself, and a challenge login writes three times. So
// relaxed writes made in the same turn of the event loop — and relaxed transactions, each a
// savepoint — share one transaction, committed on the next turn; each writer's promise settles
// only when that commit has happened (or failed), so nobody answers a client on the strength of a
// write that was then lost.
// Reads on this connection see the open batch; other processes see it after the commit, and
// wait (busy_timeout) for the write lock it holds for that one turn.
import type BetterSqlite3 from 'better-sqlite3';

/** The transaction statements, prepared once per connection: exec() would parse each every time. */
export interface TransactionStatements {
  begin(): void;
  commit(): void;
  rollback(): void;
  savepoint(): void;
  release(): void;
  rollbackToSavepoint(): void;
}

const prepared = new WeakMap<BetterSqlite3.Database, TransactionStatements>();

export function transactionStatements(db: BetterSqlite3.Database): TransactionStatements {
  let statements = prepared.get(db);
  if (!statements) {
    const run = (sql: string) => {
      const statement = db.prepare(sql);
      return () => void statement.run();
    };
    const release = run('RELEASE batch_item');
    const rollbackTo = run('ROLLBACK TO batch_item');
    statements = {
      begin: run('BEGIN IMMEDIATE'),
      commit: run('COMMIT'),
      rollback: run('ROLLBACK'),
      savepoint: run('SAVEPOINT batch_item'),
      release,
      rollbackToSavepoint: () => {
        rollbackTo();
        release();
      },
    };
    prepared.set(db, statements);
  }
  return statements;
}

export class WriteBatch {
  readonly committed: Promise<void>;
  #settle!: (error?: unknown) => void;
  #done = false;

  private constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly statements: TransactionStatements,
  ) {
    this.committed = new Promise<void>((resolve, reject) => {
      this.#settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Every writer awaits `committed`; nobody may be left with an unobserved rejection here.
    this.committed.catch(() => undefined);
  }

  /** Opens a batch: takes the write lock now, so the statements that join it cannot hit BUSY. */
  static begin(db: BetterSqlite3.Database): WriteBatch {
    const statements = transactionStatements(db);
    statements.begin();
    return new WriteBatch(db, statements);
  }

  get open(): boolean {
    return !this.#done;
  }

  /**
   * Runs one write in the batch. A statement's own error (a constraint) is that caller's alone:
   * SQLite undid only the statement. An error that ended the transaction fails the whole batch.
   */
  add<T>(write: () => T): T {
    try {
      return write();
    } catch (err) {
      if (!this.db.inTransaction) this.#finish(err);
      throw err;
    }
  }

  /**
   * Runs `body` — database work only, on this batch's connection — as one savepoint of the batch:
   * its error undoes its own statements and no one else's, unless it ended the transaction.
   */
  async nest<T>(body: () => Promise<T>): Promise<T> {
    this.statements.savepoint();
    try {
      const value = await body();
      this.statements.release();
      return value;
    } catch (err) {
      if (this.db.inTransaction) this.statements.rollbackToSavepoint();
      else this.#finish(err);
      throw err;
    }
  }

  commit(): void {
    if (this.#done) return;
    try {
      this.statements.commit();
      this.#finish();
    } catch (err) {
      if (this.db.inTransaction) this.statements.rollback();
      this.#finish(err);
    }
  }

  #finish(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#settle(error);
  }
}
