// The verifier's schema, as numbered migrations applied in order, once. Times are milliseconds
// since the epoch (BIGINT); secrets never appear in clear: tokens, API keys and temporary
// passwords as keyed hashes, passwords as argon2id strings, queued mail bodies sealed.
import { byteOrder, ddl, type Database, type Dialect } from './database.js';

// A migration is one script for both engines, or one per engine where their SQL differs.
const MIGRATIONS: ReadonlyArray<string | ((dialect: Dialect) => string)> = [
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     username TEXT NOT NULL UNIQUE,
     email TEXT NOT NULL,
     password_hash TEXT NOT NULL,
     active INTEGER NOT NULL DEFAULT 1,
     frozen INTEGER NOT NULL DEFAULT 0,
     login_ip_ranges TEXT NOT NULL DEFAULT '[]',
     failed_logins INTEGER NOT NULL DEFAULT 0,
     lockouts INTEGER NOT NULL DEFAULT 0,
     locked_until {bigint},
     password_changed_at {bigint} NOT NULL,
     created_at {bigint} NOT NULL
   );
   CREATE TABLE security_tokens (
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     token_hash {blob} NOT NULL,
     created_at {bigint} NOT NULL,
     reminded_at {bigint},
     PRIMARY KEY (user_id, name)
   );
   CREATE TABLE trusted_ip_ranges (
     cidr TEXT PRIMARY KEY,
     description TEXT NOT NULL,
     created_at {bigint} NOT NULL
   );
   CREATE TABLE ip_failures (
     ip TEXT PRIMARY KEY,
     window_start {bigint} NOT NULL,
     failures INTEGER NOT NULL
   );
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     key_hash {blob} NOT NULL UNIQUE,
     label TEXT NOT NULL,
     scopes TEXT NOT NULL,
     created_at {bigint} NOT NULL,
     revoked_at {bigint}
   );
   CREATE TABLE audit_log (
     id {serial},
     at {bigint} NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     subject TEXT,
     client_ip TEXT,
     result TEXT NOT NULL,
     reason TEXT NOT NULL,
     detail TEXT NOT NULL
   );
   CREATE INDEX audit_log_subject ON audit_log (subject, id);
   CREATE TABLE mail_outbox (
     id TEXT PRIMARY KEY,
     to_address TEXT NOT NULL,
     subject TEXT NOT NULL,
     sealed_body {blob},
     attempts INTEGER NOT NULL DEFAULT 0,
     due_at {bigint} NOT NULL,
     lease_until {bigint},
     sent_at {bigint},
     last_error TEXT,
     created_at {bigint} NOT NULL
   );
   CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, due_at);`,
  // Attempts in flight are counted apart from settled failures (policy/lockout.ts).
  `ALTER TABLE users ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE users ADD COLUMN in_flight_since {bigint};`,
  // Hardware-token credentials, their challenges, temporary replacement passwords, and the
  // challenge-response policy per user and per client range.
  `CREATE TABLE token_credentials (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     label TEXT NOT NULL,
     serial TEXT UNIQUE,
     fingerprint TEXT NOT NULL UNIQUE,
     key_fingerprint TEXT NOT NULL UNIQUE,
     spki {blob} NOT NULL,
     certificate {blob},
     key_type TEXT NOT NULL,
     algorithms TEXT NOT NULL,
     not_after {bigint},
     status TEXT NOT NULL,
     status_reason TEXT NOT NULL,
     status_changed_at {bigint} NOT NULL,
     failed_logins INTEGER NOT NULL DEFAULT 0,
     lockouts INTEGER NOT NULL DEFAULT 0,
     locked_until {bigint},
     in_flight INTEGER NOT NULL DEFAULT 0,
     in_flight_since {bigint},
     created_at {bigint} NOT NULL
   );
   CREATE INDEX token_credentials_user ON token_credentials (user_id);
   CREATE TABLE challenges (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     credential_id TEXT NOT NULL REFERENCES token_credentials(id) ON DELETE CASCADE,
     purpose TEXT NOT NULL,
     challenge TEXT NOT NULL,
     expires_at {bigint} NOT NULL,
     consumed_at {bigint},
     created_at {bigint} NOT NULL
   );
   CREATE INDEX challenges_credential ON challenges (credential_id, consumed_at);
   CREATE TABLE temporary_passwords (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     password_hash TEXT NOT NULL,
     expires_at {bigint} NOT NULL,
     created_at {bigint} NOT NULL
   );
   CREATE TABLE challenge_policy_ranges (
     cidr TEXT PRIMARY KEY,
     policy TEXT NOT NULL,
     created_at {bigint} NOT NULL
   );
   CREATE TABLE blocklist_version (
     id INTEGER PRIMARY KEY,
     version {bigint} NOT NULL
   );
   INSERT INTO blocklist_version (id, version) VALUES (1, 0);
   ALTER TABLE users ADD COLUMN challenge_policy TEXT NOT NULL DEFAULT 'password+token';`,
  // Every challenge login inserts and updates a challenge; the index only served blocking a
  // credential (rare, and the table holds an hour of challenges): not worth its upkeep.
  `DROP INDEX challenges_credential;`,
  // FIDO security keys are token credentials too (one lifecycle, one blocklist, one key one
  // user): `kind` tells them from cards, the WebAuthn fields ride along, and a key whose counter
  // did not grow is flagged for the helpdesk. Their challenges live apart: a discoverable login
  // knows neither the user nor the credential when the challenge is issued.
  `ALTER TABLE token_credentials ADD COLUMN kind TEXT NOT NULL DEFAULT 'card';
   ALTER TABLE token_credentials ADD COLUMN fido_credential_id TEXT;
   CREATE UNIQUE INDEX token_credentials_fido_id ON token_credentials (fido_credential_id);
   ALTER TABLE token_credentials ADD COLUMN cose_public_key {blob};
   ALTER TABLE token_credentials ADD COLUMN aaguid TEXT;
   ALTER TABLE token_credentials ADD COLUMN rp_id TEXT;
   ALTER TABLE token_credentials ADD COLUMN transports TEXT NOT NULL DEFAULT '';
   ALTER TABLE token_credentials ADD COLUMN sign_count {bigint} NOT NULL DEFAULT 0;
   ALTER TABLE token_credentials ADD COLUMN flagged_at {bigint};
   ALTER TABLE token_credentials ADD COLUMN flag_reason TEXT;
   CREATE TABLE fido_challenges (
     id TEXT PRIMARY KEY,
     ceremony TEXT NOT NULL,
     user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
     credential_id TEXT REFERENCES token_credentials(id) ON DELETE CASCADE,
     purpose TEXT NOT NULL,
     challenge TEXT NOT NULL,
     expires_at {bigint} NOT NULL,
     consumed_at {bigint},
     created_at {bigint} NOT NULL
   );`,
  // The web pages' sessions (web/): a keyed hash of the cookie, never the cookie itself; a user's
  // (self-service) or an API key's (the console). Ended by deleting the row: at sign-out, on a
  // password or token reset, and with the user (a revoked key's are refused and deleted when used).
  `CREATE TABLE web_sessions (
     id_hash {blob} PRIMARY KEY,
     user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
     api_key_id TEXT REFERENCES api_keys(id) ON DELETE CASCADE,
     client_ip TEXT NOT NULL,
     created_at {bigint} NOT NULL,
     last_seen_at {bigint} NOT NULL,
     expires_at {bigint} NOT NULL
   );
   CREATE INDEX web_sessions_user ON web_sessions (user_id);
   CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);`,
  // Queries that stay fast at a million users and ten million audit rows (store/user-search.ts,
  // store/audit.ts, store/retention.ts). The audit log is read newest first by time (ties by id)
  // with one of the console's filters: an index per filter, ordered the same way. Users are
  // searched by username or email prefix, compared byte-wise (PostgreSQL's "C" collation: a
  // locale's order would scatter a prefix, and pg_trgm cannot be assumed installed); SQLite's
  // unique username index compares byte-wise already. Purges find expired challenges and old
  // audit rows by index instead of reading the whole table.
  (dialect) => `DROP INDEX audit_log_subject;
   CREATE INDEX audit_log_subject ON audit_log (subject, at, id);
   CREATE INDEX audit_log_at ON audit_log (at, id);
   CREATE INDEX audit_log_action ON audit_log (action, at, id);
   CREATE INDEX audit_log_result ON audit_log (result, at, id);
   CREATE INDEX audit_log_reason ON audit_log (reason, at, id);
   CREATE INDEX audit_log_client_ip ON audit_log (client_ip, at, id);
   ${dialect === 'postgres' ? `CREATE INDEX users_username_prefix ON users (username${byteOrder(dialect)});` : ''}
   CREATE INDEX users_email_prefix ON users (lower(email)${byteOrder(dialect)}, username${byteOrder(dialect)});
   CREATE INDEX challenges_expiry ON challenges (expires_at);
   CREATE INDEX fido_challenges_expiry ON fido_challenges (expires_at);`,
  // SQLite's per-user audit index leads with the entry's day (UTC): each new entry goes into
  // today's part of it, a few pages every login shares, instead of its user's page among all of
  // history's — at a million users one of ~90,000 per login, read, written whole to the WAL and
  // copied back by the checkpointer (challenge logins ran at 0.79–0.85 of the rate at a thousand
  // users). A user's entries are read a day at a time (store/audit.ts). PostgreSQL keeps
  // (subject, at, id): its shared buffers and background writer keep that cost off the login.
  (dialect) =>
    dialect === 'sqlite'
      ? `DROP INDEX audit_log_subject;
   CREATE INDEX audit_log_subject_day ON audit_log (at / 86400000, subject, at, id);`
      : '',
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema up to date; safe when several verifier instances start at once. */
export async function migrate(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    // PostgreSQL: one migrating instance at a time (SQLite's BEGIN IMMEDIATE already serialises).
    if (db.dialect === 'postgres') {
      // Building an index on millions of audit rows takes longer than a request's statement may,
      // and so may waiting for another instance doing it.
      await tx.run('SET LOCAL statement_timeout = 0');
      await tx.run('SELECT pg_advisory_xact_lock(7071)');
    }
    await tx.run(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at ${ddl(db.dialect, '{bigint}')} NOT NULL)`);
    const row = await tx.get<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_migrations');
    for (let version = (row?.version ?? 0) + 1; version <= MIGRATIONS.length; version++) {
      const migration = MIGRATIONS[version - 1]!;
      const script = typeof migration === 'string' ? migration : migration(db.dialect);
      for (const statement of ddl(db.dialect, script).split(/;\s*(?:\n|$)/)) {
        if (statement.trim()) await tx.run(statement);
      }
      await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [version, Date.now()]);
    }
  });
}
