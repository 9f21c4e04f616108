// Bulk seeding for bench/scale.ts and bench/faults.ts, straight into a migrated store (not through
// the API, which would hash a million passwords): `user<i>` for i < users, each with the same
// password hash, the same security token (hashed once) and a card credential `c<i>` holding the
// same public key, token-only; and audit rows spread over the last 400 days (a mix of actions,
// results, reasons, addresses and users). The secondary indexes are dropped first and built
// again after (a sorted build instead of millions of random inserts) — on SQLite all but the
// audit log's per-user index, which the rows, coming in time order from users at random, fill as
// a live verifier's does: a sorted build packs every leaf full, and then nearly every login's
// audit entry splits one (1,925 bytes of growth per login at a million users, against 451 at a
// thousand and 475 grown this way), a state a running verifier leaves after its first hundred
// thousand logins. (SEED_PACKED=1 builds it sorted like the others.) SQLite: one transaction of
// prepared statements on the file; PostgreSQL: INSERT … SELECT over generate_series.
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

export interface SeedSpec {
  readonly users: number;
  readonly auditRows: number;
  readonly passwordHash: string;
  readonly tokenHash: Buffer;
  /** The card key's SubjectPublicKeyInfo (DER), its type and algorithms as the registry stores them. */
  readonly spki: Buffer;
  readonly keyType: string;
  readonly algorithms: string;
  readonly now: number;
}

const TABLES = ['users', 'security_tokens', 'token_credentials', 'audit_log'];
const DAY = 86_400_000;
const SPAN = 400 * DAY;
const ACTIONS = ['login', 'login', 'login', 'login', 'challenge.login', 'challenge.issue', 'user.unlock', 'token.reset'];
// Per hundred rows: 90 successes, 8 failures (of three kinds), 2 refusals.
const OUTCOMES: Array<[string, string]> = [
  ...Array.from({ length: 90 }, (): [string, string] => ['success', 'ok']),
  ...Array.from({ length: 4 }, (): [string, string] => ['failure', 'bad_password']),
  ...Array.from({ length: 3 }, (): [string, string] => ['failure', 'bad_token']),
  ['failure', 'bad_signature'],
  ['refused', 'locked'],
  ['refused', 'outside_login_ranges'],
];

export async function seedSqlite(path: string, spec: SeedSpec): Promise<void> {
  const db = new BetterSqlite3(path);
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const indexes = db
      .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (${TABLES.map(() => '?').join(', ')})`)
      .all(...TABLES) as Array<{ name: string; sql: string }>;
    const rebuilt = indexes.filter((index) => process.env.SEED_PACKED || !index.name.startsWith('audit_log_subject'));
    for (const index of rebuilt) db.exec(`DROP INDEX ${index.name}`);
    const user = db.prepare("INSERT INTO users (id, username, email, password_hash, challenge_policy, password_changed_at, created_at) VALUES (?, ?, ?, ?, 'token-only', ?, ?)");
    const token = db.prepare("INSERT INTO security_tokens (user_id, name, token_hash, created_at) VALUES (?, 'default', ?, ?)");
    const card = db.prepare(
      "INSERT INTO token_credentials (id, user_id, label, fingerprint, key_fingerprint, spki, key_type, algorithms, status, status_reason, status_changed_at, created_at) VALUES (?, ?, 'card', ?, ?, ?, ?, ?, 'active', 'enrolled', ?, ?)",
    );
    const audit = db.prepare("INSERT INTO audit_log (at, actor, action, subject, client_ip, result, reason, detail) VALUES (?, 'api', ?, ?, ?, ?, ?, '{}')");
    db.transaction(() => {
      for (let i = 0; i < spec.users; i++) {
        user.run(`u${i}`, `user${i}`, `user${i}@example.test`, spec.passwordHash, spec.now, spec.now);
        token.run(`u${i}`, spec.tokenHash, spec.now);
        card.run(`c${i}`, `u${i}`, `f${i}`, `k${i}`, spec.spki, spec.keyType, spec.algorithms, spec.now, spec.now);
      }
      const start = spec.now - SPAN;
      for (let i = 0; i < spec.auditRows; i++) {
        const [result, reason] = OUTCOMES[i % 100]!;
        audit.run(start + Math.floor((i * SPAN) / spec.auditRows), ACTIONS[i % ACTIONS.length]!, `user${Math.floor(Math.random() * spec.users)}`, `198.51.${(i >> 8) % 4}.${i % 250}`, result, reason);
      }
    })();
    for (const index of rebuilt) db.exec(index.sql);
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

export async function seedPostgres(url: string, spec: SeedSpec): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET maintenance_work_mem = '512MB'");
    await client.query('SET synchronous_commit = off');
    const { rows: indexes } = await client.query<{ indexname: string; indexdef: string }>(
      `SELECT i.indexname, i.indexdef FROM pg_indexes i
       WHERE i.schemaname = 'public' AND i.tablename = ANY($1)
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
      [TABLES],
    );
    for (const index of indexes) await client.query(`DROP INDEX ${index.indexname}`);
    const n = spec.users;
    await client.query(
      `INSERT INTO users (id, username, email, password_hash, challenge_policy, password_changed_at, created_at)
       SELECT 'u' || g, 'user' || g, 'user' || g || '@example.test', $1, 'token-only', $2, $2 FROM generate_series(0, $3 - 1) g`,
      [spec.passwordHash, spec.now, n],
    );
    await client.query(`INSERT INTO security_tokens (user_id, name, token_hash, created_at) SELECT 'u' || g, 'default', $1, $2 FROM generate_series(0, $3 - 1) g`, [spec.tokenHash, spec.now, n]);
    await client.query(
      `INSERT INTO token_credentials (id, user_id, label, fingerprint, key_fingerprint, spki, key_type, algorithms, status, status_reason, status_changed_at, created_at)
       SELECT 'c' || g, 'u' || g, 'card', 'f' || g, 'k' || g, $1, $2, $3, 'active', 'enrolled', $4, $4 FROM generate_series(0, $5 - 1) g`,
      [spec.spki, spec.keyType, spec.algorithms, spec.now, n],
    );
    const outcomes = `(ARRAY[${OUTCOMES.map(([r]) => `'${r}'`).join(',')}])[1 + g % 100]`;
    const reasons = `(ARRAY[${OUTCOMES.map(([, r]) => `'${r}'`).join(',')}])[1 + g % 100]`;
    const actions = `(ARRAY[${ACTIONS.map((a) => `'${a}'`).join(',')}])[1 + g % ${ACTIONS.length}]`;
    await client.query(
      `INSERT INTO audit_log (at, actor, action, subject, client_ip, result, reason, detail)
       SELECT $1::bigint + (g::bigint * $2::bigint) / $3::bigint, 'api', ${actions}, 'user' || floor(random() * $4)::int,
              '198.51.' || ((g >> 8) % 4) || '.' || (g % 250), ${outcomes}, ${reasons}, '{}'
       FROM generate_series(0, $3 - 1) g`,
      [spec.now - SPAN, SPAN, spec.auditRows, n],
    );
    for (const index of indexes) await client.query(index.indexdef);
    await client.query('VACUUM ANALYZE');
  } finally {
    await client.end();
  }
}
