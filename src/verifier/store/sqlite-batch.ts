// Group commit for the relaxed view. Each SQLite commit costs ~50 µs (the WAL write and the lock
// dance) against ~5 µs for the statement itself, and a challenge login writes three times. So
// relaxed writes made in the same turn of the event loop share one transaction, committed on the
// next turn; each writer's promise settles only when that commit has happened (or failed), so
// nobody answers a client on the strength of a write that was then lost.
// Reads on this connection see the open batch; other processes see it after the commit, and
// wait (busy_timeout) for the write lock it holds for that one turn.
import type BetterSqlite3 from 'better-sqlite3';

export class WriteBatch {
  readonly committed: Promise<void>;
  #settle!: (error?: unknown) => void;
  #done = false;

  private constructor(private readonly db: BetterSqlite3.Database) {
    this.committed = new Promise<void>((resolve, reject) => {
      this.#settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Every writer awaits `committed`; nobody may be left with an unobserved rejection here.
    this.committed.catch(() => undefined);
  }

  /** Opens a batch: takes the write lock now, so the statements that join it cannot hit BUSY. */
  static begin(db: BetterSqlite3.Database): WriteBatch {
    db.exec('BEGIN IMMEDIATE');
    return new WriteBatch(db);
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

  commit(): void {
    if (this.#done) return;
    try {
      this.db.exec('COMMIT');
      this.#finish();
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.#finish(err);
    }
  }

  #finish(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#settle(error);
  }
}
