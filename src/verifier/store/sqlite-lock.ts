// Waiting for SQLite's write lock without stalling the server. Another process on the same file
// (the CLI, a second server, a backup) may hold the lock; better-sqlite3 is synchronous, so a
// busy_timeout long enough to outwait it would freeze the event loop — every other request —
// for as long. SQLite therefore waits only a short slice (LOCK_SLICE_MS) and the rest is waited
// here, asynchronously, up to a bound; past it the store is unavailable for now (503 with
// Retry-After, as on PostgreSQL when a statement outlives its timeout).
import { setTimeout as delay } from 'node:timers/promises';
import { StoreUnavailableError } from '../errors.js';

/** How long one synchronous attempt may wait inside SQLite (busy_timeout). */
export const LOCK_SLICE_MS = 10;
/** How long a write waits for the lock in all, as PostgreSQL's statement timeout (postgres.ts). */
export const DEFAULT_LOCK_WAIT_MS = 5_000;
const LONGEST_PAUSE_MS = 50;

/** SQLITE_BUSY or SQLITE_LOCKED (and their extended codes): the lock was not to be had. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * Tries `attempt` again, with growing pauses, while it fails for want of the lock — it must have
 * done nothing when it does — until `deadline` (performance.now() time); then the store is
 * unavailable. Any other error is the attempt's own.
 */
export async function retryWhileBusy<T>(attempt: () => T | Promise<T>, firstFailure: unknown, deadline: number): Promise<T> {
  let failure = firstFailure;
  for (let pause = 1; ; pause = Math.min(pause * 2, LONGEST_PAUSE_MS)) {
    const left = deadline - performance.now();
    if (left <= 0) throw new StoreUnavailableError(failure);
    await delay(Math.min(pause, left));
    try {
      return await attempt();
    } catch (err) {
      if (!isBusy(err)) throw err;
      failure = err;
    }
  }
}
