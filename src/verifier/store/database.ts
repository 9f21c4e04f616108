// The two engines the verifier's store runs on, behind one small interface: SQLite (embedded, one
// file) and PostgreSQL (several verifier instances sharing state). SQL is written once, with `?`
// placeholders and a few dialect words filled in by `sql()`; every state change that matters runs
// in `transaction()`, which row-locks what it reads with `forUpdate`.

export type SqlValue = string | number | bigint | Uint8Array | null;

export interface RunResult {
  readonly changes: number;
}

export interface SqlExecutor {
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
}

export type Dialect = 'sqlite' | 'postgres';

export interface Database extends SqlExecutor, AsyncDisposable {
  readonly dialect: Dialect;
  /** ` FOR UPDATE` on PostgreSQL; nothing on SQLite, whose write transactions lock the database. */
  readonly forUpdate: string;
  /**
   * Runs `body` in one transaction, committed when it resolves and rolled back when it throws.
   * Only database work belongs inside: hashing or network calls would hold the lock.
   */
  transaction<T>(body: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * The same store, committing without waiting for the disk: for login bookkeeping (challenges,
   * counters, their audit entries), which a power cut may cost a fraction of a second of, never
   * its consistency. Resets, enrollments and lifecycle changes always commit durably.
   */
  readonly relaxed: Database;
  /** Runs DDL (several statements). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/** Dialect words used by the schema: binary columns and auto-increment keys. */
export function ddl(dialect: Dialect, script: string): string {
  const words: Record<string, string> =
    dialect === 'postgres'
      ? { blob: 'BYTEA', serial: 'BIGSERIAL PRIMARY KEY', bigint: 'BIGINT' }
      : { blob: 'BLOB', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', bigint: 'INTEGER' };
  return script.replace(/\{(\w+)\}/g, (whole, word: string) => words[word] ?? whole);
}

/**
 * ` COLLATE "C"` on PostgreSQL: byte order, in which every string with a prefix sorts together (a
 * locale's order need not keep them so). SQLite compares text byte-wise already.
 */
export function byteOrder(dialect: Dialect): string {
  return dialect === 'postgres' ? ' COLLATE "C"' : '';
}
