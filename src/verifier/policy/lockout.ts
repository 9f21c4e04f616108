// The per-user lockout. An attempt is counted BEFORE the password is checked, in one transaction
// with the row locked, so fifty concurrent guesses count exactly up to the threshold and the rest
// are refused without hashing anything. Reaching the threshold locks the account for a while that
// doubles with every lock; when a lock runs out the user gets ONE more attempt, counted and
// pre-locked like the others, so the counter never clears on a timer (privacyIDEA #1578). Only a
// correct password or an admin unlock resets it.
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

export type Reservation = { kind: 'unknown' } | { kind: 'locked'; user: UserRow } | { kind: 'counted'; user: UserRow };

/** Counts one attempt for `username` up front, unless the account is locked. */
export function reserveAttempt(db: Database, username: string, policy: LockoutPolicy, now: number): Promise<Reservation> {
  return db.transaction(async (tx) => {
    const user = await findUser(tx, username, db.forUpdate);
    if (!user) return { kind: 'unknown' };
    if (isLocked(user, now)) return { kind: 'locked', user };
    const failures = user.failed_logins + 1;
    if (failures >= policy.threshold) {
      await updateUser(tx, user.id, { failed_logins: failures, lockouts: user.lockouts + 1, locked_until: now + lockDuration(policy, user.lockouts) });
    } else {
      await updateUser(tx, user.id, { failed_logins: failures });
    }
    return { kind: 'counted', user };
  });
}

/** The attempt was right: the count and any lock are gone. */
export async function settleSuccess(db: SqlExecutor, user: UserRow): Promise<void> {
  await updateUser(db, user.id, { failed_logins: 0, lockouts: 0, locked_until: null });
}
