// The per-user lockout. Every attempt takes a slot BEFORE the password is hashed, in a transaction
// with the user's row locked: settled failures plus attempts in flight never exceed the threshold,
// so fifty concurrent guesses get exactly `threshold` hashed and the rest are refused unhashed
// once those failures lock the account. Attempts that find every slot taken by others in flight
// wait for them to settle (a busy integration's parallel logins are not failures).
//
// Reaching the threshold locks the account for a while that doubles with every lock. When a lock
// runs out the user gets ONE attempt (the others wait for its outcome), and a wrong one locks
// again: the counter never clears on a timer (privacyIDEA #1578). Only a correct password or an
// admin unlock resets it.
import type { Database, SqlExecutor } from '../store/database.js';
import { findUser, updateUser, type UserRow } from '../store/users.js';

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
  if (!Number.isInteger(policy.threshold) || policy.threshold < 1 || policy.threshold > 100) throw new RangeError('lockout threshold must be 1..100');
  if (!(policy.baseMs > 0) || !(policy.maxMs >= policy.baseMs)) throw new RangeError('lockout durations must be positive, max ≥ base');
  return policy;
}

export function lockDuration(policy: LockoutPolicy, previousLocks: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(previousLocks, 30));
}

export function isLocked(user: UserRow, now: number): boolean {
  return user.locked_until !== null && user.locked_until > now;
}

export type Reservation = { kind: 'unknown' } | { kind: 'locked'; user: UserRow } | { kind: 'busy' } | { kind: 'counted'; user: UserRow };

async function tryReserve(db: Database, username: string, policy: LockoutPolicy, now: number): Promise<Reservation> {
  return db.transaction(async (tx) => {
    const user = await findUser(tx, username, db.forUpdate);
    if (!user) return { kind: 'unknown' };
    if (isLocked(user, now)) return { kind: 'locked', user };
    const inFlight = user.in_flight_since !== null && user.in_flight_since < now - STALE_IN_FLIGHT_MS ? 0 : user.in_flight;
    // After a lock ran out, one attempt at a time; otherwise up to the failures still allowed.
    const slots = user.failed_logins >= policy.threshold ? 1 : policy.threshold - user.failed_logins;
    if (inFlight >= slots) return { kind: 'busy' };
    await updateUser(tx, user.id, { in_flight: inFlight + 1, in_flight_since: inFlight === 0 ? now : user.in_flight_since });
    return { kind: 'counted', user };
  });
}

/** Takes a slot for one attempt at `username`'s password, waiting while others hold them all. */
export async function reserveAttempt(db: Database, username: string, policy: LockoutPolicy, now: () => number): Promise<Reservation> {
  const deadline = Date.now() + WAIT_FOR_SLOT_MS;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    const reservation = await tryReserve(db, username, policy, now());
    if (reservation.kind !== 'busy' || Date.now() > deadline) return reservation;
    // Polled, not signalled: the slot may be freed by another verifier instance.
    await new Promise((resolve) => setTimeout(resolve, pause + Math.random() * pause));
  }
}

/** The attempt was wrong: its slot becomes a failure, and the threshold locks the account. */
export async function settleFailure(db: SqlExecutor, forUpdate: string, userId: string, policy: LockoutPolicy, now: number): Promise<void> {
  const user = await db.get<UserRow>(`SELECT * FROM users WHERE id = ?${forUpdate}`, [userId]);
  if (!user) return;
  const failures = user.failed_logins + 1;
  const lock = failures >= policy.threshold ? { lockouts: user.lockouts + 1, locked_until: now + lockDuration(policy, user.lockouts) } : {};
  await updateUser(db, userId, { in_flight: Math.max(0, user.in_flight - 1), failed_logins: failures, ...lock });
}

/** The attempt was right: its slot, the count and any lock are gone. */
export async function settleSuccess(db: SqlExecutor, forUpdate: string, userId: string): Promise<void> {
  const user = await db.get<UserRow>(`SELECT in_flight FROM users WHERE id = ?${forUpdate}`, [userId]);
  await updateUser(db, userId, { in_flight: Math.max(0, (user?.in_flight ?? 1) - 1), failed_logins: 0, lockouts: 0, locked_until: null });
}
