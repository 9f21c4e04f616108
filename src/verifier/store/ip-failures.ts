// Failed logins per client address in a fixed window, shared by every verifier instance: one
// source that fails too often is slowed down itself, before it can lock out the users it guesses.
import type { SqlExecutor } from './database.js';

export interface IpBudget {
  readonly failures: number;
  readonly windowEnds: number;
}

/**
 * Columns for a read that wants the address's budget too (one round trip instead of two): put
 * them in its select list, with the address as their two parameters, and read the row with
 * `budgetOf`.
 */
export const IP_BUDGET_COLUMNS =
  '(SELECT window_start FROM ip_failures WHERE ip = ?) AS ip_window_start, (SELECT failures FROM ip_failures WHERE ip = ?) AS ip_failures';

export interface IpBudgetColumns {
  readonly ip_window_start: number | null;
  readonly ip_failures: number | null;
}

export function budgetOf(row: IpBudgetColumns, windowMs: number, now: number): IpBudget {
  if (row.ip_window_start === null || row.ip_failures === null || row.ip_window_start + windowMs <= now) return { failures: 0, windowEnds: now + windowMs };
  return { failures: row.ip_failures, windowEnds: row.ip_window_start + windowMs };
}

/** The failures this address has in the current window (0 when the window has passed). */
export async function ipFailures(db: SqlExecutor, ip: string, windowMs: number, now = Date.now()): Promise<IpBudget> {
  const row = await db.get<IpBudgetColumns>(`SELECT ${IP_BUDGET_COLUMNS}`, [ip, ip]);
  return budgetOf(row ?? { ip_window_start: null, ip_failures: null }, windowMs, now);
}

export async function countIpFailure(db: SqlExecutor, ip: string, windowMs: number, now = Date.now()): Promise<void> {
  // One statement: a new window starts when the old one has passed, else the count grows.
  await db.run(
    `INSERT INTO ip_failures (ip, window_start, failures) VALUES (?, ?, 1)
     ON CONFLICT (ip) DO UPDATE SET
       failures = CASE WHEN ip_failures.window_start + ? <= ? THEN 1 ELSE ip_failures.failures + 1 END,
       window_start = CASE WHEN ip_failures.window_start + ? <= ? THEN excluded.window_start ELSE ip_failures.window_start END`,
    [ip, now, windowMs, now, windowMs, now],
  );
}
