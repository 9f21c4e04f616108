// The administrators' user search, served by an index at any number of users: a username prefix,
// or — when the text has an `@` — an email-address prefix, compared byte-wise (database.ts
// byteOrder; migration 7 indexes both), paged by keyset on the username: each page reads its own
// rows and no more, where OFFSET would read every row before it. Substring search would need
// trigrams (pg_trgm, not assumed installed on PostgreSQL) or a scan of every user.
import { byteOrder, type Database, type SqlValue } from './database.js';
import { canonicalUsername, type UserRow } from './users.js';

export interface UserSearch {
  /** The start of a username, or of an email address when it has an `@`; empty: everyone. */
  readonly text: string;
  /** The page after this username (paging forward). */
  readonly after?: string | undefined;
  /** The page before this username (paging back). */
  readonly before?: string | undefined;
  readonly limit: number;
}

export interface UserPage {
  readonly users: UserRow[];
  /** Set when there is a page after this one: its `after`. */
  readonly next: string | undefined;
  /** Set when there is a page before this one: its `before`. */
  readonly previous: string | undefined;
}

/** The smallest string greater than every string that starts with `prefix` (code-point order, as UTF-8 bytes sort). */
function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix];
  const last = points.pop()?.codePointAt(0);
  if (last === undefined || last >= 0x10ffff) return undefined;
  // The next code point, stepping over the surrogates (not characters of their own).
  return points.join('') + String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1);
}

interface Key {
  /** The column searched and ordered by, first; the username settles ties. */
  readonly column: string;
  readonly value: string;
}

/** What the search compares: the canonical username, or the lower-cased email address. */
function keyOf(db: Database, text: string): Key {
  const c = byteOrder(db.dialect);
  return text.includes('@') ? { column: `lower(email)${c}`, value: text.toLowerCase() } : { column: `username${c}`, value: canonicalUsername(text) };
}

/** The conditions of the prefix, without paging. */
function prefixWhere(key: Key): { where: string[]; params: SqlValue[] } {
  if (!key.value) return { where: [], params: [] };
  const end = prefixEnd(key.value);
  return end === undefined ? { where: [`${key.column} >= ?`], params: [key.value] } : { where: [`${key.column} >= ?`, `${key.column} < ?`], params: [key.value, end] };
}

export async function searchUsers(db: Database, search: UserSearch): Promise<UserPage> {
  const key = keyOf(db, search.text);
  const byEmail = key.column.startsWith('lower');
  const username = `username${byteOrder(db.dialect)}`;
  const { where, params } = prefixWhere(key);
  const cursor = search.before ?? search.after;
  const backwards = search.before !== undefined;
  if (cursor !== undefined) {
    const op = backwards ? '<' : '>';
    if (byEmail) {
      // Continue from the cursor user's address (their username settles ties between addresses).
      const row = await db.get<{ key: string }>('SELECT lower(email) AS key FROM users WHERE username = ?', [cursor]);
      if (row) {
        where.push(`${key.column} ${op}= ?`, `(${key.column} ${op} ? OR ${username} ${op} ?)`);
        params.push(row.key, row.key, cursor);
      } else {
        where.push('1 = 0');
      }
    } else {
      where.push(`${username} ${op} ?`);
      params.push(cursor);
    }
  }
  const direction = backwards ? 'DESC' : 'ASC';
  const order = byEmail ? `${key.column} ${direction}, ${username} ${direction}` : `${username} ${direction}`;
  const rows = await db.all<UserRow>(`SELECT * FROM users ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`, [...params, search.limit + 1]);
  const more = rows.length > search.limit;
  const users = rows.slice(0, search.limit);
  if (backwards) users.reverse();
  const first = users[0]?.username;
  const last = users.at(-1)?.username;
  return {
    users,
    next: backwards ? last : more ? last : undefined,
    previous: backwards ? (more ? first : undefined) : search.after !== undefined ? first : undefined,
  };
}

/** How many users match, counted up to `cap` (a count of all of a million users would read them all). */
export async function countUsers(db: Database, text: string, cap: number): Promise<number> {
  const { where, params } = prefixWhere(keyOf(db, text));
  const row = await db.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM users ${where.length ? `WHERE ${where.join(' AND ')}` : ''} LIMIT ?) matching`, [...params, cap]);
  return Number(row?.n ?? 0);
}
