// The verifier's housekeeping, on a timer of its own (never on a login's path): spent challenges
// are purged once they are older than the time kept for telling "replayed" from "unknown", and
// audit entries older than the operator's retention (none by default: kept for ever). Deletes go
// in small batches (store/retention.ts), so a purge of a million rows never holds the store for
// more than a few milliseconds at a time. One run at a time per instance; errors (a store that is
// away) wait for the next run.
import type { Database } from './store/database.js';
import { deleteOlderThan, type BatchOptions, type PurgedTable } from './store/retention.js';

export interface HousekeepingOptions {
  /** How long spent and expired challenges are kept (default 1 hour). */
  readonly challengeRetentionMs?: number;
  /** How long audit entries are kept; undefined: for ever. */
  readonly auditRetentionMs?: number | undefined;
  /** Time between runs (default 1 minute). */
  readonly intervalMs?: number;
}

export const DEFAULT_CHALLENGE_RETENTION_MS = 3_600_000;

export type Purged = Record<PurgedTable, number>;

export class Housekeeping {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #challengeRetentionMs: number;
  readonly #auditRetentionMs: number | undefined;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<Purged> | undefined;

  constructor(db: Database, now: () => number, options: HousekeepingOptions, private readonly onError: (error: unknown) => void = () => undefined) {
    this.#db = db;
    this.#now = now;
    this.#challengeRetentionMs = options.challengeRetentionMs ?? DEFAULT_CHALLENGE_RETENTION_MS;
    this.#auditRetentionMs = options.auditRetentionMs;
    this.#timer = setInterval(() => void this.run().catch(this.onError), options.intervalMs ?? 60_000).unref();
  }

  /** One run now (or the one under way): how many rows went, per table. */
  run(batch: BatchOptions = {}): Promise<Purged> {
    return (this.#running ??= this.#purge(batch).finally(() => (this.#running = undefined)));
  }

  async #purge(batch: BatchOptions): Promise<Purged> {
    // Relaxed commits: a crash may bring back a batch of old rows, to go at the next run.
    const db = this.#db.relaxed;
    const now = this.#now();
    const spent = now - this.#challengeRetentionMs;
    return {
      challenges: await deleteOlderThan(db, 'challenges', spent, batch),
      fido_challenges: await deleteOlderThan(db, 'fido_challenges', spent, batch),
      audit_log: this.#auditRetentionMs === undefined ? 0 : await deleteOlderThan(db, 'audit_log', now - this.#auditRetentionMs, batch),
    };
  }

  /** Stops the timer and waits for a run under way. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }
}
