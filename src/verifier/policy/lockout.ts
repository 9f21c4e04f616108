// The per-user lockout. Every attempt takes a slot BEFORE the password is hashed, in a transaction
// with the user's row locked: settled failures plus attempts in flight never exceed the threshold,
// so fifty concurrent guesses get exactly `threshold` checked and the rest are refused unchecked
// once those failures lock the account (against the dummy hash: the same time, accounts/authenticator.ts). Attempts that find every slot taken by others in flight
// wait for them to settle (a busy integration's parallel logins are not failures).
//
// Reaching the threshold locks the account for a while that doubles with every lock. When a lock
// runs out the user gets ONE attempt (the others wait for its outcome), and a wrong one locks
// again: the counter never clears on a timer (privacyIDEA #1578). Only a correct password or an
// admin unlock resets it.
import type { Database, SqlExecutor } from '../store/database.js';
import { InvalidInputError } from '../errors.js';

export interface LockoutPolicy {
  /** Consecutive failures that lock the account; 1..100 (NIST SP 800-63B's ceiling). */
  readonly threshold: number;
  /** The first lock's length; each further lock doubles it. */
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { threshold: 10, baseMs: 60_000, maxMs: 24 * 3_600_000 };

/** In-flight slots older than this belong to a process that died mid-check: they are released. */
const STALE_IN_FLIGHT_MS = 60_000;
/** How long an attempt waits for slots held by others before it gives up (answered as a failure). */
const WAIT_FOR_SLOT_MS = 10_000;

export function checkLockoutPolicy(policy: LockoutPolicy): LockoutPolicy {
  if (!Number.isInteger(policy.threshold) || policy.threshold < 1 || policy.threshold > 100) throw new InvalidInputError('lockout threshold must be 1..100');
  if (!(policy.baseMs > 0) || !(policy.maxMs >= policy.baseMs)) throw new InvalidInputError('lockout durations must be positive, max ≥ base');
  return policy;
}

export function lockDuration(policy: LockoutPolicy, previousLocks: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(previousLocks, 30));
}

/** The tables whose rows carry a failure counter: users (passwords) and token credentials (signatures). */
export type CountedTable = 'users' | 'token_credentials';

interface CounterRow {
  readonly id: string;
  readonly failed_logins: number;
  readonly lockouts: number;
  readonly locked_until: number | null;
  readonly in_flight: number;
  readonly in_flight_since: number | null;
}

export function isLocked(row: Pick<CounterRow, 'locked_until'>, now: number): boolean {
  return row.locked_until !== null && row.locked_until > now;
}

export type Reservation<Row> = { kind: 'unknown' } | { kind: 'locked'; row: Row } | { kind: 'busy' } | { kind: 'counted'; row: Row };

async function setCounter(db: SqlExecutor, table: CountedTable, id: string, fields: Partial<Record<Exclude<keyof CounterRow, 'id'>, number | null>>): Promise<void> {
  const names = Object.keys(fields) as Array<keyof typeof fields>;
  await db.run(`UPDATE ${table} SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE id = ?`, [...names.map((n) => fields[n] ?? null), id]);
}

async function tryReserve<Row extends CounterRow>(db: Database, table: CountedTable, id: string, policy: LockoutPolicy, now: number): Promise<Reservation<Row>> {
  return db.transaction(async (tx) => {
    const row = await tx.get<Row>(`SELECT * FROM ${table} WHERE id = ?${db.forUpdate}`, [id]);
    if (!row) return { kind: 'unknown' };
    if (isLocked(row, now)) return { kind: 'locked', row };
    const inFlight = row.in_flight_since !== null && row.in_flight_since < now - STALE_IN_FLIGHT_MS ? 0 : row.in_flight;
    // After a lock ran out, one attempt at a time; otherwise up to the failures still allowed.
    const slots = row.failed_logins >= policy.threshold ? 1 : policy.threshold - row.failed_logins;
    if (inFlight >= slots) return { kind: 'busy' };
    await setCounter(tx, table, id, { in_flight: inFlight + 1, in_flight_since: inFlight === 0 ? now : row.in_flight_since });
    return { kind: 'counted', row };
  });
}

/** Takes a slot for one attempt on the row `id` of `table`, waiting while others hold them all. */
export async function reserveAttempt<Row extends CounterRow>(db: Database, table: CountedTable, id: string, policy: LockoutPolicy, now: () => number): Promise<Reservation<Row>> {
  const deadline = Date.now() + WAIT_FOR_SLOT_MS;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    const reservation = await tryReserve<Row>(db, table, id, policy, now());
    if (reservation.kind !== 'busy' || Date.now() > deadline) return reservation;
    // Polled, not signalled: the slot may be freed by another verifier instance.
    await new Promise((resolve) => setTimeout(resolve, pause + Math.random() * pause));
  }
}

/** The attempt was wrong: its slot becomes a failure, and the threshold locks the row. */
export async function settleFailure(db: SqlExecutor, forUpdate: string, table: CountedTable, id: string, policy: LockoutPolicy, now: number): Promise<void> {
  const row = await db.get<CounterRow>(`SELECT * FROM ${table} WHERE id = ?${forUpdate}`, [id]);
  if (!row) return;
  const failures = row.failed_logins + 1;
  const lock = failures >= policy.threshold ? { lockouts: row.lockouts + 1, locked_until: now + lockDuration(policy, row.lockouts) } : {};
  await setCounter(db, table, id, { in_flight: Math.max(0, row.in_flight - 1), failed_logins: failures, ...lock });
}

/** The attempt was right: its slot, the count and any lock are gone (one statement: it locks the row itself). */
export async function settleSuccess(db: SqlExecutor, table: CountedTable, id: string): Promise<void> {
  await db.run(`UPDATE ${table} SET in_flight = CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END, failed_logins = 0, lockouts = 0, locked_until = NULL WHERE id = ?`, [id]);
}

/** An admin's unlock: the count, the lock and any stuck slots are cleared. */
export async function clearCounter(db: SqlExecutor, table: CountedTable, id: string): Promise<void> {
  await setCounter(db, table, id, { failed_logins: 0, lockouts: 0, locked_until: null, in_flight: 0, in_flight_since: null });
}
