// The web pages' session records: one row per signed-in browser, keyed by a hash of its cookie.
// A session is a user's (self-service) or an API key's (the console); deleting the row ends it,
// whatever the browser still holds.
import type { SqlExecutor } from './database.js';

export interface WebSessionRow {
  readonly user_id: string | null;
  readonly api_key_id: string | null;
  readonly created_at: number;
  readonly last_seen_at: number;
  readonly expires_at: number;
  /** The user's, for a user's session: their state is read fresh with every request. */
  readonly username: string | null;
  readonly email: string | null;
  readonly active: number | null;
  readonly frozen: number | null;
  readonly login_ip_ranges: string | null;
}

export interface NewWebSession {
  readonly idHash: Uint8Array;
  readonly userId?: string;
  readonly apiKeyId?: string;
  readonly clientIp: string;
  readonly now: number;
  readonly expiresAt: number;
}

export async function insertWebSession(db: SqlExecutor, session: NewWebSession): Promise<void> {
  await db.run('INSERT INTO web_sessions (id_hash, user_id, api_key_id, client_ip, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    session.idHash,
    session.userId ?? null,
    session.apiKeyId ?? null,
    session.clientIp,
    session.now,
    session.now,
    session.expiresAt,
  ]);
}

export function findWebSession(db: SqlExecutor, idHash: Uint8Array): Promise<WebSessionRow | undefined> {
  return db.get<WebSessionRow>(
    `SELECT s.user_id, s.api_key_id, s.created_at, s.last_seen_at, s.expires_at, u.username, u.email, u.active, u.frozen, u.login_ip_ranges
     FROM web_sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`,
    [idHash],
  );
}

export async function touchWebSession(db: SqlExecutor, idHash: Uint8Array, now: number): Promise<void> {
  await db.run('UPDATE web_sessions SET last_seen_at = ? WHERE id_hash = ?', [now, idHash]);
}

export async function deleteWebSession(db: SqlExecutor, idHash: Uint8Array): Promise<void> {
  await db.run('DELETE FROM web_sessions WHERE id_hash = ?', [idHash]);
}

/** Ends every session of the user: a password or token reset signs them out everywhere. */
export async function endSessionsOf(db: SqlExecutor, userId: string): Promise<number> {
  return (await db.run('DELETE FROM web_sessions WHERE user_id = ?', [userId])).changes;
}

export async function deleteExpiredWebSessions(db: SqlExecutor, now: number): Promise<void> {
  await db.run('DELETE FROM web_sessions WHERE expires_at <= ?', [now]);
}
