// Failed logins per client address in a fixed window, shared by every verifier instance: one
// source that fails too often is slowed down itself, before it can lock out the users it guesses.
import type { SqlExecutor } from './database.js';

/** The failures this address has in the current window (0 when the window has passed). */
export async function ipFailures(db: SqlExecutor, ip: string, windowMs: number, now = Date.now()): Promise<{ failures: number; windowEnds: number }> {
  const row = await db.get<{ window_start: number; failures: number }>('SELECT window_start, failures FROM ip_failures WHERE ip = ?', [ip]);
  if (!row || row.window_start + windowMs <= now) return { failures: 0, windowEnds: now + windowMs };
  return { failures: row.failures, windowEnds: row.window_start + windowMs };
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
