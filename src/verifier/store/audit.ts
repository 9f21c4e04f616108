// The append-only audit log: who did what to whom, from where, the result and a reason code.
// There is no update or delete here, by design (only the operator's retention drops old entries,
// store/retention.ts); callers never pass secrets in `detail`.
import type { Database, Dialect, SqlExecutor, SqlValue } from './database.js';

export type AuditResult = 'success' | 'failure' | 'refused';

export interface AuditEntry {
  readonly actor: string;
  readonly action: string;
  readonly subject?: string | undefined;
  readonly clientIp?: string | undefined;
  readonly result: AuditResult;
  readonly reason: string;
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface AuditRecord extends AuditEntry {
  readonly id: number;
  readonly at: Date;
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  subject: string | null;
  client_ip: string | null;
  result: AuditResult;
  reason: string;
  detail: string;
}

const COLUMNS = '(at, actor, action, subject, client_ip, result, reason, detail)';
const ROW = '(?, ?, ?, ?, ?, ?, ?, ?)';

function auditValues(entry: AuditEntry, now: number): SqlValue[] {
  // A whole millisecond: SQLite files an entry under its day by integer division (queryAudit).
  return [Math.floor(now), entry.actor, entry.action, entry.subject ?? null, entry.clientIp ?? null, entry.result, entry.reason, JSON.stringify(entry.detail ?? {})];
}

export async function appendAudit(db: SqlExecutor, entry: AuditEntry, now = Date.now()): Promise<void> {
  await db.run(`INSERT INTO audit_log ${COLUMNS} VALUES ${ROW}`, auditValues(entry, now));
}

interface Waiting {
  readonly values: SqlValue[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

// Logins write an audit entry each, outside any transaction. Those of one turn of the event loop
// go in one multi-row INSERT: on PostgreSQL one round trip instead of one each. Every caller is
// answered once its row is stored, as with appendAudit.
const waiting = new WeakMap<Database, Waiting[]>();
const ROWS_PER_INSERT = 32;

async function insertWaiting(db: Database, rows: readonly Waiting[]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + ROWS_PER_INSERT);
    try {
      await db.run(`INSERT INTO audit_log ${COLUMNS} VALUES ${chunk.map(() => ROW).join(', ')}`, chunk.flatMap((row) => row.values));
      for (const row of chunk) row.resolve();
    } catch (err) {
      for (const row of chunk) row.reject(err);
    }
  }
}

/** appendAudit for entries outside a transaction, stored together with others of the same moment. */
export function appendAuditBatched(db: Database, entry: AuditEntry, now = Date.now()): Promise<void> {
  return new Promise((resolve, reject) => {
    let rows = waiting.get(db);
    if (!rows) {
      const batch: Waiting[] = [];
      waiting.set(db, (rows = batch));
      setImmediate(() => {
        waiting.delete(db);
        void insertWaiting(db, batch);
      });
    }
    rows.push({ values: auditValues(entry, now), resolve, reject });
  });
}

export interface AuditQuery {
  readonly subject?: string | undefined;
  readonly action?: string | undefined;
  readonly result?: AuditResult | undefined;
  readonly reason?: string | undefined;
  readonly clientIp?: string | undefined;
  /** Entries after this one, by id (paging forward). */
  readonly after?: number | undefined;
  /** Entries before this one, by id (paging back through the newest first). */
  readonly before?: number | undefined;
  /** Entries at or after this time (ms since the epoch). */
  readonly since?: number | undefined;
  /** Entries before this time (ms since the epoch). */
  readonly until?: number | undefined;
  /** The newest `limit` entries, newest first (what a person looking at the log wants); default: oldest first. */
  readonly newestFirst?: boolean | undefined;
  readonly limit?: number | undefined;
}

/** Where an entry stands in the log's order: by time, ties by id. */
interface Position {
  readonly at: number;
  readonly id: number;
}

/** The position of entry `id`; an entry purged since (or never stored) stands at its id alone. */
async function positionOf(db: SqlExecutor, id: number): Promise<Position | undefined> {
  const row = await db.get<Position>('SELECT at, id FROM audit_log WHERE id = ?', [id]);
  return row && { at: Number(row.at), id: Number(row.id) };
}

/** SQLite's per-user index leads with this (migration 8): the entry's day, UTC, by integer division. */
const DAY_MS = 86_400_000;
const AUDIT_DAY = 'at / 86400000';

/**
 * The entries that match, in time order (ties by id), paged by keyset: `before` / `after` name an
 * entry and the page continues from its position, so each page is an index range read of `limit`
 * rows whatever the log's size, and new entries never shift a page. Every filter has an index
 * ordered by (filter, at, id) (migration 7), which serves it with or without a time range — but
 * for a user on SQLite, whose index is (day, subject, at, id) (migration 8): there the page is
 * read a span of days at a time, in its order, until it is full (dayByDay).
 */
export async function queryAudit(db: SqlExecutor & { readonly dialect: Dialect }, query: AuditQuery = {}): Promise<AuditRecord[]> {
  const where: string[] = [];
  const params: Array<string | number> = [];
  const add = (condition: string, ...values: Array<string | number>) => {
    where.push(condition);
    params.push(...values);
  };
  // The time bounds the filters put on the page, for reading it a day at a time.
  let low = -Infinity;
  let high = Infinity;
  if (query.subject !== undefined) add('subject = ?', query.subject);
  if (query.action !== undefined) add('action = ?', query.action);
  if (query.result !== undefined) add('result = ?', query.result);
  if (query.reason !== undefined) add('reason = ?', query.reason);
  if (query.clientIp !== undefined) add('client_ip = ?', query.clientIp);
  if (query.since !== undefined) {
    add('at >= ?', query.since);
    low = Math.max(low, query.since);
  }
  if (query.until !== undefined) {
    add('at < ?', query.until);
    high = Math.min(high, Math.ceil(query.until) - 1);
  }
  // The bare `at` bound gives the index its range; the OR settles ties within one millisecond.
  if (query.after !== undefined) {
    const from = await positionOf(db, query.after);
    if (from) add('at >= ? AND (at > ? OR id > ?)', from.at, from.at, from.id);
    else add('id > ?', query.after);
    if (from) low = Math.max(low, from.at);
  }
  if (query.before !== undefined) {
    const to = await positionOf(db, query.before);
    if (to) add('at <= ? AND (at < ? OR id < ?)', to.at, to.at, to.id);
    else add('id < ?', query.before);
    if (to) high = Math.min(high, to.at);
  }
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
  const order = query.newestFirst ? 'DESC' : 'ASC';
  const rows =
    query.subject !== undefined && db.dialect === 'sqlite'
      ? await dayByDay(db, where, params, { low, high, newestFirst: order === 'DESC', limit })
      : await db.all<AuditRow>(`SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at ${order}, id ${order} LIMIT ?`, [...params, limit]);
  return rows.map((r) => ({
    id: Number(r.id),
    at: new Date(r.at),
    actor: r.actor,
    action: r.action,
    subject: r.subject ?? undefined,
    clientIp: r.client_ip ?? undefined,
    result: r.result,
    reason: r.reason,
    detail: JSON.parse(r.detail) as Record<string, string | number | boolean>,
  }));
}

/** The most days one read of a user's entries spans (store/audit.ts: dayByDay). */
const MAX_DAYS_PER_READ = 256;

/**
 * Reads `where` (after the days; `params` its values) a span of days at a time until `limit` rows,
 * each span one index seek per day: one day first, and twice as many after each span that held
 * none of the user's entries (a user seen once a month is read in a few statements, not one per
 * day), back to one day after a span that had some (a busy user's page comes from its last day).
 */
async function dayByDay(db: SqlExecutor, where: readonly string[], params: readonly SqlValue[], page: { low: number; high: number; newestFirst: boolean; limit: number }): Promise<AuditRow[]> {
  // Each subquery is one step down (or up) an index; MIN and MAX together in one would read the table.
  const span = await db.get<{ first: number | null; last: number | null }>('SELECT (SELECT MIN(at) FROM audit_log) AS first, (SELECT MAX(at) FROM audit_log) AS last');
  if (span?.first == null || span.last == null) return [];
  const first = Math.floor(Math.max(Number(span.first), page.low) / DAY_MS);
  const last = Math.floor(Math.min(Number(span.last), page.high) / DAY_MS);
  const order = page.newestFirst ? 'DESC' : 'ASC';
  const step = page.newestFirst ? -1 : 1;
  const rows: AuditRow[] = [];
  let day = page.newestFirst ? last : first;
  for (let width = 1; rows.length < page.limit && day >= first && day <= last; ) {
    const days: number[] = [];
    for (; days.length < width && day >= first && day <= last; day += step) days.push(day);
    const found = await db.all<AuditRow>(
      `SELECT * FROM audit_log WHERE ${AUDIT_DAY} IN (${days.map(() => '?').join(', ')}) AND ${where.join(' AND ')} ORDER BY at ${order}, id ${order} LIMIT ?`,
      [...days, ...params, page.limit - rows.length],
    );
    rows.push(...found);
    width = found.length > 0 ? 1 : Math.min(width * 2, MAX_DAYS_PER_READ);
  }
  return rows;
}

/** The actions that are logins: password + token, temporary password, a token's challenge. */
export const LOGIN_ACTIONS = ['login', 'login.temporary', 'challenge.login'] as const;

export interface LoginCounts {
  /** The start of the bucket, ms since the epoch. */
  readonly start: number;
  readonly successes: number;
  readonly failures: number;
}

/** Logins that succeeded and that failed (or were refused), per bucket of `bucketMs` from `since` to `until`. */
export async function loginTimeline(db: SqlExecutor, range: { since: number; until: number; bucketMs: number }): Promise<LoginCounts[]> {
  const { since, until, bucketMs } = range;
  const rows = await db.all<{ bucket: number | string; result: AuditResult; n: number | string }>(
    `SELECT (at - ?) / ? AS bucket, result, COUNT(*) AS n FROM audit_log
     WHERE action IN (${LOGIN_ACTIONS.map(() => '?').join(', ')}) AND at >= ? AND at < ?
       AND NOT (action = 'login.temporary' AND reason = 'password') -- its password step, audited apart: one login, not two
     GROUP BY bucket, result`,
    [since, bucketMs, ...LOGIN_ACTIONS, since, until],
  );
  const buckets = Array.from({ length: Math.ceil((until - since) / bucketMs) }, (_, i) => ({ start: since + i * bucketMs, successes: 0, failures: 0 }));
  for (const row of rows) {
    const bucket = buckets[Math.floor(Number(row.bucket))];
    if (!bucket) continue;
    if (row.result === 'success') bucket.successes += Number(row.n);
    else bucket.failures += Number(row.n);
  }
  return buckets;
}
