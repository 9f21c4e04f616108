// The SQLite store's group commit: relaxed writes made together share one transaction, and each
// writer hears back only once that transaction has committed — checked from a second connection.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../src/verifier/store/sqlite.js';

let dir: string;
let path: string;
let db: SqliteDatabase;
let observer: BetterSqlite3.Database;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tokengate-sqlite-'));
  path = join(dir, 'store.sqlite');
  db = SqliteDatabase.open(path);
  await db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL)');
  // Another connection, as another process would have: it sees only committed data.
  observer = new BetterSqlite3(path, { readonly: true });
});

afterEach(async () => {
  observer.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const countSeenElsewhere = () => (observer.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n;

describe('SQLite relaxed writes (group commit)', () => {
  it('a write has committed by the time its promise resolves', async () => {
    await db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [1, 'one']);
    expect(countSeenElsewhere()).toBe(1);
  });

  it('writes issued together share commits, and every one is visible once awaited', async () => {
    const writes = Array.from({ length: 50 }, (_, i) => db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [i + 1, `item ${i}`]));
    // Nothing is committed before the event loop turns: the batch is still open.
    expect(countSeenElsewhere()).toBe(0);
    const results = await Promise.all(writes);
    expect(results.every((r) => r.changes === 1)).toBe(true);
    expect(countSeenElsewhere()).toBe(50);
  });

  it("one write's constraint error is its own: the rest of its batch commits", async () => {
    await db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [7, 'taken']);
    const outcomes = await Promise.allSettled([
      db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [1, 'a']),
      db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [7, 'duplicate']),
      db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [2, 'b']),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(observer.prepare('SELECT id, label FROM items ORDER BY id').all()).toEqual([
      { id: 1, label: 'a' },
      { id: 2, label: 'b' },
      { id: 7, label: 'taken' },
    ]);
  });

  it('an atomic consume inside a batch succeeds once, however many race for it', async () => {
    await db.run('INSERT INTO items (id, label) VALUES (1, ?)', ['fresh']);
    const claims = await Promise.all(
      Array.from({ length: 20 }, () => db.relaxed.get<{ id: number }>("UPDATE items SET label = 'spent' WHERE id = 1 AND label = 'fresh' RETURNING id")),
    );
    expect(claims.filter((row) => row !== undefined)).toHaveLength(1);
    expect(observer.prepare('SELECT label FROM items WHERE id = 1').get()).toEqual({ label: 'spent' });
  });

  it('a transaction started while a batch is open runs after it, and sees its writes', async () => {
    const early = db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [1, 'early']);
    const counted = db.transaction(async (tx) => (await tx.get<{ n: number }>('SELECT count(*) AS n FROM items'))!.n);
    const late = db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [2, 'late']);
    await Promise.all([early, late]);
    expect(await counted).toBe(1);
    expect(countSeenElsewhere()).toBe(2);
  });

  it('closing commits an open batch first', async () => {
    const write = db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [1, 'last']);
    await db.close();
    await write;
    expect(countSeenElsewhere()).toBe(1);
  });
});

/** Polls `condition` until it holds or the deadline passes; there is no event for a checkpoint. */
async function until(condition: () => boolean, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

describe('SQLite WAL checkpoints (in a worker thread)', () => {
  it("copies committed pages into the database file by itself, though the writer's own checkpoints are off", async () => {
    expect(await db.get<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint')).toEqual({ wal_autocheckpoint: 0 });
    const before = statSync(path).size;
    // ~4 MB in 1,000 rows: far more than one checkpoint's worth of pages.
    await Promise.all(Array.from({ length: 1000 }, (_, i) => db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [i + 1, 'x'.repeat(4000)])));
    expect(await until(() => statSync(path).size > before + 3_000_000, 10_000)).toBe(true);
    expect(countSeenElsewhere()).toBe(1000);
  });

  it('under steady writes the WAL is rewound, not grown without end', async () => {
    // ~200 KB every few ms (a busy server's pace, and more) for 1.5 s and 30 MB, several
    // checkpoint ticks: a WAL never rewound would be as large as everything written.
    const start = Date.now();
    let written = 0;
    for (let batch = 0; (written < 30_000_000 || Date.now() - start < 1_500) && Date.now() - start < 20_000; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => db.relaxed.run('INSERT OR REPLACE INTO items (id, label) VALUES (?, ?)', [batch * 50 + i, 'z'.repeat(4000)])));
      written += 50 * 4096;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(written).toBeGreaterThanOrEqual(30_000_000);
    expect(statSync(`${path}-wal`).size).toBeLessThan(written / 2);
  });

  it('closing checkpoints what is left and removes the WAL', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.relaxed.run('INSERT INTO items (id, label) VALUES (?, ?)', [i + 1, 'y'.repeat(2000)])));
    observer.close();
    await db.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    observer = new BetterSqlite3(path, { readonly: true });
    expect(countSeenElsewhere()).toBe(200);
  });
});
