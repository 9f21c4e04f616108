// Deleting old rows without stalling logins: spent challenges and, when the operator sets a
// retention, old audit entries go a batch at a time, each batch its own statement (its own commit
// on SQLite, where a write holds the one writer lock and runs on the event loop), found through
// the index on the time column (migration 7), with the event loop free between batches. The batch
// size adapts so that one batch takes about `targetMs`, and a pause after each leaves the logins
// most of the time (`dutyCycle`). PostgreSQL takes the same batched delete,
// with SKIP LOCKED so that instances purging at once split the work instead of waiting on each
// other; partitions would drop a day in one step but need a partitioned audit table (a primary
// key including the time), partitions made ahead of time, and a second schema beside SQLite's.
import type { Database } from './database.js';

/** The tables purged by age, and the column their age is read from. */
export const PURGED = {
  challenges: 'expires_at',
  fido_challenges: 'expires_at',
  audit_log: 'at',
} as const;

export type PurgedTable = keyof typeof PURGED;

export interface BatchOptions {
  /** Rows in the first batch (default 256); later ones grow or shrink toward `targetMs`. */
  readonly batch?: number;
  /** What one batch should take (default 3 ms). */
  readonly targetMs?: number;
  /**
   * The share of the time the purge may take while it runs (default 0.25): after a batch of t ms
   * it waits 3t. A purge competes with logins for the same cores and, on SQLite, the one writer;
   * housekeeping is in no hurry.
   */
  readonly dutyCycle?: number;
  /** Called after each batch with its size and time (for tests and the bench). */
  readonly onBatch?: (rows: number, ms: number) => void;
}

const MIN_BATCH = 16;
const MAX_BATCH = 8192;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Deletes the rows of `table` older than `before` (ms since the epoch), in batches; returns how many. */
export async function deleteOlderThan(db: Database, table: PurgedTable, before: number, options: BatchOptions = {}): Promise<number> {
  const column = PURGED[table];
  const skipLocked = db.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  const sql = `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE ${column} < ? ORDER BY ${column} LIMIT ?${skipLocked})`;
  const targetMs = options.targetMs ?? 3;
  const rest = 1 / Math.min(1, Math.max(0.01, options.dutyCycle ?? 0.25)) - 1;
  let batch = options.batch ?? 256;
  let deleted = 0;
  for (;;) {
    const started = performance.now();
    const { changes } = await db.run(sql, [before, batch]);
    const ms = performance.now() - started;
    options.onBatch?.(changes, ms);
    deleted += changes;
    if (changes < batch) return deleted;
    batch = Math.round(Math.min(MAX_BATCH, Math.max(MIN_BATCH, ms < targetMs / 2 ? batch * 2 : ms > targetMs ? batch / 2 : batch)));
    await pause(ms * rest);
  }
}
