// The console's queries on both stores, with small data: the user search (username prefix, email
// prefix with an @, byte-wise so LIKE's wildcards are plain characters) paged forward and back by
// keyset, and the audit query's filters paged by time then id even where ids and times disagree.
// On SQLite the plans are checked too: each filter read through its index, never sorted.
import { describe, expect, it } from 'vitest';
import { appendAudit, queryAudit, type AuditQuery } from '../src/verifier/store/audit.js';
import type { Database } from '../src/verifier/store/database.js';
import { migrate } from '../src/verifier/store/migrations.js';
import { searchUsers, countUsers } from '../src/verifier/store/user-search.js';
import { insertUser } from '../src/verifier/store/users.js';
import { openDatabase } from '../src/verifier/verifier.js';
import { ENGINES, useStoreEngines } from './helpers/verifier.js';

const stores = useStoreEngines();

async function storeWith(engine: (typeof ENGINES)[number]): Promise<Database> {
  const db = openDatabase(await stores.newDatabase(engine));
  await migrate(db);
  const names = [...Array.from({ length: 30 }, (_, i) => `user-${String(i).padStart(2, '0')}`), 'a_b', 'axb', 'a%c', 'zoë'];
  for (const [i, username] of names.entries()) {
    await insertUser(db, { id: `id-${i}`, username, email: `${username.replace(/[^a-z0-9]/g, '')}@Example.test`, passwordHash: 'x', loginIpRanges: [], now: 0 });
  }
  return db;
}

describe.each(ENGINES)('the console queries on %s', (engine) => {
  it('searches users by username or email prefix and pages forward and back by keyset', async () => {
    await using db = await storeWith(engine);
    const names = async (text: string, page: { after?: string; before?: string } = {}) => (await searchUsers(db, { text, limit: 10, ...page })).users.map((u) => u.username);
    const first = await searchUsers(db, { text: 'USER-', limit: 12 });
    expect(first.users.map((u) => u.username)).toEqual(Array.from({ length: 12 }, (_, i) => `user-${String(i).padStart(2, '0')}`));
    expect(first.previous).toBeUndefined();
    const second = await searchUsers(db, { text: 'user-', limit: 12, after: first.next });
    expect(second.users[0]?.username).toBe('user-12');
    const third = await searchUsers(db, { text: 'user-', limit: 12, after: second.next });
    expect(third.users.map((u) => u.username)).toEqual(['user-24', 'user-25', 'user-26', 'user-27', 'user-28', 'user-29']);
    expect(third.next).toBeUndefined();
    const back = await searchUsers(db, { text: 'user-', limit: 12, before: third.previous });
    expect(back.users).toEqual(second.users);
    expect((await searchUsers(db, { text: 'user-', limit: 12, before: back.previous })).users).toEqual(first.users);
    // LIKE's wildcards are characters like any other; a non-ASCII end of a prefix still bounds it.
    expect(await names('a_')).toEqual(['a_b']);
    expect(await names('a%')).toEqual(['a%c']);
    expect(await names('zo')).toEqual(['zoë']);
    expect(await names('zoë')).toEqual(['zoë']);
    // With an @, the start of an email address, compared without case.
    expect(await names('USER01@')).toEqual(['user-01']);
    expect(await names('USER0')).toEqual([]);
    expect(await names('user1')).toEqual([]);
    expect(await names('ab@example')).toEqual(['a_b']);
    const byEmail = await searchUsers(db, { text: 'user2', limit: 1 });
    expect(byEmail.users).toEqual([]);
    expect(await countUsers(db, 'user-', 1000)).toBe(30);
    expect(await countUsers(db, 'user-', 5)).toBe(5);
    expect(await countUsers(db, '', 1000)).toBe(34);
  });

  it('filters the audit log and pages it newest first by time, ties by id', async () => {
    await using db = await storeWith(engine);
    // Written out of time order (two instances' clocks): ids 1..40, times going back and forth.
    const times = Array.from({ length: 40 }, (_, i) => 1_000_000 + (i % 2 ? i * 1000 : (40 - i) * 1000) + (i % 3 === 0 ? 0 : 7));
    for (const [i, at] of times.entries()) {
      await appendAudit(db, { actor: 'test', action: 'login', subject: `user-${String(i % 4).padStart(2, '0')}`, clientIp: `192.0.2.${i % 5}`, result: i % 2 ? 'success' : 'failure', reason: i % 2 ? 'ok' : 'bad_password' }, at);
      if (i === 20) await appendAudit(db, { actor: 'test', action: 'login', subject: 'user-00', result: 'success', reason: 'ok' }, at);
    }
    const all = await queryAudit(db, { newestFirst: true, limit: 1000 });
    const sorted = [...all].sort((a, b) => b.at.getTime() - a.at.getTime() || b.id - a.id);
    expect(all.map((e) => e.id)).toEqual(sorted.map((e) => e.id));
    // Paging by the last id shown walks the same order, however many share a millisecond.
    const paged = [];
    for (let before: number | undefined; ; ) {
      const page = await queryAudit(db, { newestFirst: true, limit: 7, before });
      paged.push(...page);
      if (page.length < 7) break;
      before = page.at(-1)!.id;
    }
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const oldestFirst = await queryAudit(db, { after: all.at(-1)!.id, limit: 1000 });
    expect(oldestFirst.map((e) => e.id)).toEqual(all.slice(0, -1).reverse().map((e) => e.id));

    const filters: AuditQuery[] = [
      { subject: 'user-01' },
      { result: 'failure' },
      { reason: 'bad_password', clientIp: '192.0.2.3' },
      { since: 1_010_000, until: 1_020_000 },
      { subject: 'user-00', since: 1_015_000 },
    ];
    for (const filter of filters) {
      const expected = all.filter(
        (e) =>
          (filter.subject === undefined || e.subject === filter.subject) &&
          (filter.result === undefined || e.result === filter.result) &&
          (filter.reason === undefined || e.reason === filter.reason) &&
          (filter.clientIp === undefined || e.clientIp === filter.clientIp) &&
          (filter.since === undefined || e.at.getTime() >= filter.since) &&
          (filter.until === undefined || e.at.getTime() < filter.until),
      );
      expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(1);
      const firstPage = await queryAudit(db, { ...filter, newestFirst: true, limit: 2 });
      const rest = await queryAudit(db, { ...filter, newestFirst: true, before: firstPage.at(-1)!.id, limit: 1000 });
      expect([...firstPage, ...rest].map((e) => e.id), JSON.stringify(filter)).toEqual(expected.map((e) => e.id));
    }
    // A page after an entry purged since continues from its id.
    expect((await queryAudit(db, { before: 1_000_000, newestFirst: true, limit: 3 })).length).toBe(3);
  });

  it("pages a user's entries across days, with empty days between, both ways and within a time range", async () => {
    await using db = await storeWith(engine);
    const DAY = 86_400_000;
    const start = Date.UTC(2026, 0, 1);
    // Two users over 40 days; user-01 only on some days, several times on a few, at a day's edges too.
    for (let d = 0; d < 40; d++) {
      for (const offset of [0, DAY / 2, DAY - 1]) await appendAudit(db, { actor: 'test', action: 'login', subject: 'user-00', result: 'success', reason: 'ok' }, start + d * DAY + offset);
      if (d % 7 === 3) for (const offset of d === 10 ? [5, 5, DAY - 1] : [5]) await appendAudit(db, { actor: 'test', action: 'login', subject: 'user-01', result: 'failure', reason: 'bad_password' }, start + d * DAY + offset);
    }
    const all = await queryAudit(db, { newestFirst: true, limit: 1000 });
    for (const filter of [{ subject: 'user-01' }, { subject: 'user-00' }, { subject: 'user-01', since: start + 10 * DAY + 5, until: start + 31 * DAY }, { subject: 'user-00', since: start + 3 * DAY - 1, until: start + 5 * DAY }, { subject: 'nobody' }]) {
      const expected = all.filter((e) => e.subject === filter.subject && (filter.since === undefined || e.at.getTime() >= filter.since) && (filter.until === undefined || e.at.getTime() < filter.until));
      for (const newestFirst of [true, false]) {
        const order = newestFirst ? expected : [...expected].reverse();
        const paged = [];
        for (let cursor: number | undefined; ; ) {
          const page = await queryAudit(db, { ...filter, newestFirst, limit: 2, ...(cursor === undefined ? {} : newestFirst ? { before: cursor } : { after: cursor }) });
          paged.push(...page);
          if (page.length < 2) break;
          cursor = page.at(-1)!.id;
        }
        expect(paged.map((e) => e.id), JSON.stringify({ ...filter, newestFirst })).toEqual(order.map((e) => e.id));
      }
    }
    expect((await queryAudit(db, { subject: 'user-01', newestFirst: true, limit: 1000 })).length).toBe(8);
  });

});

describe('the console queries on sqlite', () => {
  it('reads each filter through its index, in order, without sorting', async () => {
    await using db = await storeWith('sqlite');
    const plan = async (sql: string, params: Array<string | number>) =>
      (await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params)).map((r) => r.detail).join(' | ');
    const page = 'ORDER BY at DESC, id DESC LIMIT 51';
    // A user's entries a span of days at a time (store/audit.ts): each day and the user pin a range;
    // one day's comes in order, a longer span's rows (only that user's) are sorted.
    const byUser = (days: number[]) =>
      plan(`SELECT * FROM audit_log WHERE at / 86400000 IN (${days.map(() => '?').join(', ')}) AND subject = ? AND at >= ? AND at < ? AND at <= ? AND (at < ? OR id < ?) ${page}`, [...days, 'x', 0, 9, 9, 9, 9]);
    const oneDay = await byUser([0]);
    expect(oneDay).toContain('USING INDEX audit_log_subject_day (<expr>=? AND subject=? AND at>? AND at<?)');
    expect(oneDay).not.toContain('TEMP B-TREE');
    expect(await byUser([0, 1, 2])).toContain('USING INDEX audit_log_subject_day (<expr>=? AND subject=? AND at>? AND at<?)');
    for (const [column, index] of [['result', 'audit_log_result'], ['reason', 'audit_log_reason'], ['client_ip', 'audit_log_client_ip'], ['action', 'audit_log_action']]) {
      const text = await plan(`SELECT * FROM audit_log WHERE ${column} = ? AND at >= ? AND at < ? AND at <= ? AND (at < ? OR id < ?) ${page}`, ['x', 0, 9, 9, 9, 9]);
      expect(text).toContain(`USING INDEX ${index} (${column}=? AND at>? AND at<?)`);
      expect(text).not.toContain('TEMP B-TREE');
    }
    const range = await plan(`SELECT * FROM audit_log WHERE at >= ? AND at < ? ${page}`, [0, 9]);
    expect(range).toMatch(/USING INDEX audit_log_at|USING INTEGER PRIMARY KEY/);
    expect(range).not.toContain('TEMP B-TREE');
    const users = await plan('SELECT * FROM users WHERE username >= ? AND username < ? AND username > ? ORDER BY username ASC LIMIT 26', ['a', 'b', 'a']);
    expect(users).toContain('USING INDEX sqlite_autoindex_users_2');
    const emails = await plan('SELECT * FROM users WHERE lower(email) >= ? AND lower(email) < ? ORDER BY lower(email) ASC, username ASC LIMIT 26', ['a', 'b']);
    expect(emails).toContain('USING INDEX users_email_prefix');
    expect(users + emails).not.toContain('TEMP B-TREE');
  });
});
