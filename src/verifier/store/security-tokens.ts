// Named security tokens per user, stored as keyed hashes. A reset replaces the hash in place (the
// old token is dead the moment the transaction commits); a revoke deletes the row.
import type { SqlExecutor } from './database.js';

export interface SecurityTokenRow {
  readonly name: string;
  readonly token_hash: Uint8Array;
  readonly created_at: number;
  readonly reminded_at: number | null;
}

export function tokensOf(db: SqlExecutor, userId: string): Promise<SecurityTokenRow[]> {
  return db.all<SecurityTokenRow>('SELECT name, token_hash, created_at, reminded_at FROM security_tokens WHERE user_id = ? ORDER BY name', [userId]);
}

/** The tokens of several users in one read (a page of the console's users), by user id. */
export async function tokensOfUsers(db: SqlExecutor, userIds: readonly string[]): Promise<Map<string, SecurityTokenRow[]>> {
  const byUser = new Map<string, SecurityTokenRow[]>(userIds.map((id) => [id, []]));
  if (userIds.length === 0) return byUser;
  const rows = await db.all<SecurityTokenRow & { user_id: string }>(
    `SELECT user_id, name, token_hash, created_at, reminded_at FROM security_tokens WHERE user_id IN (${userIds.map(() => '?').join(', ')}) ORDER BY user_id, name`,
    userIds,
  );
  for (const { user_id, ...row } of rows) byUser.get(user_id)?.push(row);
  return byUser;
}

/** Creates or replaces the token `name` of a user. */
export async function putToken(db: SqlExecutor, userId: string, name: string, hash: Uint8Array, now: number): Promise<void> {
  await db.run(
    `INSERT INTO security_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (user_id, name) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at, reminded_at = NULL`,
    [userId, name, hash, now],
  );
}

export async function deleteToken(db: SqlExecutor, userId: string, name: string): Promise<boolean> {
  return (await db.run('DELETE FROM security_tokens WHERE user_id = ? AND name = ?', [userId, name])).changes === 1;
}

export async function deleteTokensOf(db: SqlExecutor, userId: string): Promise<void> {
  await db.run('DELETE FROM security_tokens WHERE user_id = ?', [userId]);
}

export interface StaleToken {
  readonly user_id: string;
  readonly username: string;
  readonly email: string;
  readonly name: string;
  readonly created_at: number;
}

/** Tokens of active users created before `createdBefore` and not reminded since. */
export function staleTokens(db: SqlExecutor, createdBefore: number): Promise<StaleToken[]> {
  return db.all<StaleToken>(
    `SELECT t.user_id, u.username, u.email, t.name, t.created_at FROM security_tokens t JOIN users u ON u.id = t.user_id
     WHERE u.active = 1 AND t.created_at < ? AND t.reminded_at IS NULL`,
    [createdBefore],
  );
}

export async function markReminded(db: SqlExecutor, userId: string, name: string, now: number): Promise<boolean> {
  const { changes } = await db.run('UPDATE security_tokens SET reminded_at = ? WHERE user_id = ? AND name = ? AND reminded_at IS NULL', [now, userId, name]);
  return changes === 1;
}
