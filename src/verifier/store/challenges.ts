// Challenges in the store. A challenge login is a handful of statements and, on PostgreSQL, each
// is a network round trip costing more than the statement itself: there, reading the user, the
// credential and the address's budget and inserting the challenge they allow are one statement,
// and consuming a challenge with the same reads another. SQLite has no INSERT or UPDATE inside
// WITH, but its statements are function calls: a few in a row.
import type { ChallengePurpose } from '../protocol.js';
import type { Database, SqlExecutor } from './database.js';
import { IP_BUDGET_COLUMNS, type IpBudgetColumns } from './ip-failures.js';
import type { UserRow } from './users.js';

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

export interface IssueLookup {
  /** Without a username, the credential (by serial or fingerprint) names its user. */
  readonly username?: string | undefined;
  readonly column: 'id' | 'serial' | 'fingerprint';
  readonly value: string;
  readonly clientIp: string;
}

/** What issuing reads of the user: only these columns (each costs the PostgreSQL driver ~2 µs a row). */
export type IssueUser = Pick<UserRow, 'id' | 'username' | 'active' | 'frozen' | 'challenge_policy'>;

/** The user, the credential asked for and the address's budget; `issued` when the challenge was stored with them. */
export type IssueRow = IssueUser & IpBudgetColumns & { credential_id: string | null; credential_status: string | null; issued: boolean };

/**
 * Reads what issuing a challenge depends on. On PostgreSQL the same statement stores `candidate`
 * when the reads allow it (user active and not frozen, credential active, address within
 * `budget`); the caller still checks the row, says why when it refuses, and stores the candidate
 * itself when `issued` is false. Should the two ever disagree, the worst left behind is an
 * unissued row nobody knows the id of, purged with the expired ones (housekeeping.ts).
 */
export async function lookUpForIssue(
  db: Database,
  lookup: IssueLookup,
  candidate: Omit<NewChallenge, 'userId' | 'credentialId'>,
  budget: { readonly windowMs: number; readonly limit: number },
): Promise<IssueRow | undefined> {
  const select = `SELECT u.id, u.username, u.active, u.frozen, u.challenge_policy, c.id AS credential_id, c.status AS credential_status, ${IP_BUDGET_COLUMNS} ${
    lookup.username === undefined
      ? `FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.${lookup.column} = ? AND c.kind = 'card'`
      : `FROM users u LEFT JOIN token_credentials c ON c.user_id = u.id AND c.${lookup.column} = ? AND c.kind = 'card' WHERE u.username = ?`
  }`;
  const params = [lookup.clientIp, lookup.clientIp, lookup.value, ...(lookup.username === undefined ? [] : [lookup.username])];
  if (db.dialect !== 'postgres') {
    const row = await db.get<Omit<IssueRow, 'issued'>>(select, params);
    return row && { ...row, issued: false };
  }
  return db.get<IssueRow>(
    `WITH found AS (${select}),
     inserted AS (
       INSERT INTO challenges (id, user_id, credential_id, purpose, challenge, expires_at, created_at)
       SELECT ?, found.id, found.credential_id, ?, ?, ?, ? FROM found
       WHERE found.active = 1 AND found.frozen = 0 AND found.credential_status = 'active'
         AND (found.ip_window_start IS NULL OR found.ip_window_start + ? <= ? OR found.ip_failures < ?)
       RETURNING 1)
     SELECT found.*, EXISTS (SELECT 1 FROM inserted) AS issued FROM found`,
    [...params, candidate.id, candidate.purpose, candidate.challenge, candidate.expiresAt, candidate.createdAt, budget.windowMs, candidate.createdAt, budget.limit],
  );
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
  /** Set when a security key's counter did not grow (a possible clone); refused until cleared. */
  readonly flagged_at: number | null;
}

const ANSWERER_COLUMNS = `u.id AS user_id, u.username, u.active, u.frozen, u.challenge_policy, c.id AS credential_id, c.spki, c.status,
  c.not_after, c.locked_until, c.failed_logins, c.in_flight, c.flagged_at, ${IP_BUDGET_COLUMNS}`;

/**
 * Marks the challenge used — of any number of concurrent callers, on any number of instances,
 * exactly one gets it — and returns it with its credential, user and the budget of `clientIp`.
 * Undefined when it was unknown or already used (or killed with its credential).
 */
export async function consumeChallenge(db: Database, id: string, clientIp: string, now: number): Promise<ConsumedChallenge | undefined> {
  if (db.dialect === 'postgres') {
    // As one JSON column: the driver's cost grows with the columns of a result (~2 µs each, a
    // third of this statement's), JSON.parse's hardly; bytea comes as '\x' and hex.
    const row = await db.get<{ found: Omit<ConsumedChallenge, 'spki'> & { spki: string } }>(
      `WITH h AS (UPDATE challenges SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL
                  RETURNING user_id, credential_id, purpose, challenge, expires_at),
       found AS (SELECT h.user_id AS challenge_user_id, h.purpose, h.challenge, h.expires_at, ${ANSWERER_COLUMNS}
                 FROM h JOIN token_credentials c ON c.id = h.credential_id JOIN users u ON u.id = c.user_id)
       SELECT row_to_json(found) AS found FROM found`,
      [now, id, clientIp, clientIp],
    );
    return row && { ...row.found, spki: Buffer.from(row.found.spki.slice(2), 'hex') };
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

// ---- security keys (WebAuthn) ----

/** `create`: a registration (makeCredential); `get`: a login (getAssertion). */
export type FidoCeremony = 'create' | 'get';

export interface NewFidoChallenge {
  readonly id: string;
  readonly ceremony: FidoCeremony;
  /** Unknown for a discoverable login: the credential that answers names its user. */
  readonly userId: string | null;
  /** Bound when exactly one credential may answer (its blocking then kills the challenge). */
  readonly credentialId: string | null;
  readonly purpose: ChallengePurpose;
  readonly challenge: string;
  readonly expiresAt: number;
  readonly createdAt: number;
}

export async function insertFidoChallenge(db: SqlExecutor, c: NewFidoChallenge): Promise<void> {
  const values = [c.id, c.ceremony, c.userId, c.credentialId, c.purpose, c.challenge, c.expiresAt, c.createdAt];
  await db.run('INSERT INTO fido_challenges (id, ceremony, user_id, credential_id, purpose, challenge, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', values);
}

export interface ConsumedFidoChallenge {
  readonly user_id: string | null;
  readonly credential_id: string | null;
  readonly purpose: ChallengePurpose;
  readonly challenge: string;
  readonly expires_at: number;
}

/** Marks the challenge used: of any number of concurrent callers, on any instance, one gets it. */
export function consumeFidoChallenge(db: SqlExecutor, id: string, ceremony: FidoCeremony, now: number): Promise<ConsumedFidoChallenge | undefined> {
  return db.get<ConsumedFidoChallenge>(
    'UPDATE fido_challenges SET consumed_at = ? WHERE id = ? AND ceremony = ? AND consumed_at IS NULL RETURNING user_id, credential_id, purpose, challenge, expires_at',
    [now, id, ceremony],
  );
}

/** What answering with a security key needs: the credential by its WebAuthn id, its user, the address's budget. */
export type FidoAnswerer = Omit<ConsumedChallenge, 'challenge_user_id' | 'purpose' | 'challenge' | 'expires_at'> & {
  readonly cose_public_key: Uint8Array;
  readonly sign_count: number;
};

export function fidoAnswerer(db: SqlExecutor, fidoCredentialId: string, clientIp: string): Promise<FidoAnswerer | undefined> {
  return db.get<FidoAnswerer>(
    `SELECT ${ANSWERER_COLUMNS}, c.cose_public_key, c.sign_count FROM token_credentials c JOIN users u ON u.id = c.user_id WHERE c.fido_credential_id = ? AND c.kind = 'fido'`,
    [clientIp, clientIp, fidoCredentialId],
  );
}

/** Why a security-key challenge could not be consumed: unknown, used already, or killed with its credential. */
export async function whyFidoNotConsumed(db: SqlExecutor, id: string): Promise<string> {
  const row = await db.get<{ status: string | null }>('SELECT c.status FROM fido_challenges h LEFT JOIN token_credentials c ON c.id = h.credential_id WHERE h.id = ?', [id]);
  if (!row) return 'challenge_unknown';
  return row.status !== null && row.status !== 'active' ? `credential_${row.status}` : 'challenge_replayed';
}

/**
 * Stores the new counter when it grew — compared and written in one statement, so racing answers
 * cannot both pass against one old value and the counter never goes back. A key that counts
 * nothing (0, and 0 stored) passes. False: the counter did not grow (a possible clone).
 */
export async function advanceSignCount(db: SqlExecutor, credentialId: string, signCount: number): Promise<boolean> {
  const { changes } = await db.run('UPDATE token_credentials SET sign_count = ? WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND sign_count = ?))', [
    signCount,
    credentialId,
    signCount,
    signCount,
  ]);
  return changes === 1;
}
