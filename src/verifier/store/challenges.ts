// Challenges in the store. A challenge login is a handful of statements and, on PostgreSQL, each
// is a network round trip costing more than the statement itself: consuming a challenge, reading
// its credential and user, and reading the client address's failure budget are one statement
// there. SQLite has no UPDATE inside WITH, but its statements are function calls: three in a row.
import type { ChallengePurpose } from '../protocol.js';
import type { Database, SqlExecutor } from './database.js';
import { IP_BUDGET_COLUMNS, type IpBudgetColumns } from './ip-failures.js';

export interface NewChallenge {
  readonly id: string;
  readonly userId: string;
  readonly credentialId: string;
  readonly purpose: ChallengePurpose;
  readonly challenge: string;
  readonly expiresAt: number;
  readonly createdAt: number;
}

export async function insertChallenge(db: SqlExecutor, c: NewChallenge): Promise<void> {
  await db.run('INSERT INTO challenges (id, user_id, credential_id, purpose, challenge, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    c.id,
    c.userId,
    c.credentialId,
    c.purpose,
    c.challenge,
    c.expiresAt,
    c.createdAt,
  ]);
}

/** A consumed challenge with what answering it needs: its credential, its user, the address's budget. */
export interface ConsumedChallenge extends IpBudgetColumns {
  /** The user the challenge was issued to. */
  readonly challenge_user_id: string;
  readonly purpose: ChallengePurpose;
  readonly challenge: string;
  readonly expires_at: number;
  readonly user_id: string;
  readonly username: string;
  readonly active: number;
  readonly frozen: number;
  readonly challenge_policy: string;
  readonly credential_id: string;
  readonly spki: Uint8Array;
  readonly status: string;
  readonly not_after: number | null;
  readonly locked_until: number | null;
  readonly failed_logins: number;
  readonly in_flight: number;
}

const ANSWERER_COLUMNS = `u.id AS user_id, u.username, u.active, u.frozen, u.challenge_policy, c.id AS credential_id, c.spki, c.status,
  c.not_after, c.locked_until, c.failed_logins, c.in_flight, ${IP_BUDGET_COLUMNS}`;

/**
 * Marks the challenge used — of any number of concurrent callers, on any number of instances,
 * exactly one gets it — and returns it with its credential, user and the budget of `clientIp`.
 * Undefined when it was unknown or already used (or killed with its credential).
 */
export async function consumeChallenge(db: Database, id: string, clientIp: string, now: number): Promise<ConsumedChallenge | undefined> {
  if (db.dialect === 'postgres') {
    return db.get<ConsumedChallenge>(
      `WITH h AS (UPDATE challenges SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL
                  RETURNING user_id, credential_id, purpose, challenge, expires_at)
       SELECT h.user_id AS challenge_user_id, h.purpose, h.challenge, h.expires_at, ${ANSWERER_COLUMNS}
       FROM h JOIN token_credentials c ON c.id = h.credential_id JOIN users u ON u.id = c.user_id`,
      [now, id, clientIp, clientIp],
    );
  }
  const h = await db.get<{ user_id: string; credential_id: string; purpose: ChallengePurpose; challenge: string; expires_at: number }>(
    'UPDATE challenges SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL RETURNING user_id, credential_id, purpose, challenge, expires_at',
    [now, id],
  );
  if (!h) return undefined;
  const answerer = await db.get<Omit<ConsumedChallenge, 'challenge_user_id' | 'purpose' | 'challenge' | 'expires_at'>>(
    `SELECT ${ANSWERER_COLUMNS} FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.id = ?`,
    [clientIp, clientIp, h.credential_id],
  );
  return answerer && { ...answerer, challenge_user_id: h.user_id, purpose: h.purpose, challenge: h.challenge, expires_at: h.expires_at };
}

/** Why a challenge could not be consumed: unknown, used already, or killed with its credential. */
export async function whyNotConsumed(db: SqlExecutor, id: string): Promise<string> {
  const row = await db.get<{ status: string }>('SELECT c.status FROM challenges h JOIN token_credentials c ON c.id = h.credential_id WHERE h.id = ?', [id]);
  if (!row) return 'challenge_unknown';
  return row.status !== 'active' ? `credential_${row.status}` : 'challenge_replayed';
}

/** Drops challenges that expired before `before` (used or not): the table holds recent ones only. */
export async function purgeChallenges(db: SqlExecutor, before: number): Promise<void> {
  await db.run('DELETE FROM challenges WHERE expires_at < ?', [before]);
}
