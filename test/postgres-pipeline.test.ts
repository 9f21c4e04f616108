// The relaxed view's statements outside transactions share a few pipelined connections
// (store/postgres-pipeline.ts): many in flight at once must each get their own answer, a failing
// one must fail alone, and connections the server drops must be replaced by themselves.
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresDatabase } from '../src/verifier/store/postgres.js';
import { useStoreEngines } from './helpers/verifier.js';

const engines = useStoreEngines(['postgres']);
let open: PostgresDatabase[] = [];
afterEach(async () => {
  for (const db of open) await db.close();
  open = [];
});

async function store(): Promise<PostgresDatabase> {
  const db = PostgresDatabase.open(await engines.newDatabase('postgres'));
  open.push(db);
  await db.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  return db;
}

/** Retries `attempt` until it resolves or the deadline passes (a dropped connection is noticed asynchronously). */
async function eventually<T>(attempt: () => Promise<T>, deadlineMs: number): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > end) throw err;
    }
  }
}

describe('PostgreSQL pipelined statements (the relaxed view)', () => {
  it('two hundred statements in flight at once each get their own answer; a failing one fails alone', async () => {
    const db = await store();
    await db.relaxed.run('INSERT INTO things (id, name) VALUES (?, ?)', [1000, 'first']);
    const writes = Array.from({ length: 200 }, (_, i) => db.relaxed.run('INSERT INTO things (id, name) VALUES (?, ?)', [i, `thing ${i}`]));
    // A key stored already, in the middle of the stream: a constraint error of its own.
    const clash = db.relaxed.run('INSERT INTO things (id, name) VALUES (?, ?)', [1000, 'again']).catch((err: unknown) => err);
    const reads = Array.from({ length: 200 }, (_, i) => db.relaxed.get<{ n: number }>('SELECT ? + 1 AS n', [i]));
    expect((await Promise.all(writes)).every((r) => r.changes === 1)).toBe(true);
    expect(await clash).toMatchObject({ code: '23505' });
    expect((await Promise.all(reads)).map((r) => r?.n)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(await db.get<{ n: number }>('SELECT count(*)::int AS n FROM things')).toEqual({ n: 201 });
  });

  it('connections the server terminates are replaced: later statements succeed', async () => {
    const db = await store();
    await Promise.all(Array.from({ length: 20 }, (_, i) => db.relaxed.run('INSERT INTO things (id, name) VALUES (?, ?)', [i, 'x'])));
    // Every other backend of this database goes, the pipelined ones among them.
    const { n } = (await db.get<{ n: number }>('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()'))!;
    expect(n).toBeGreaterThanOrEqual(1);
    // Statements sent before a connection's end is noticed fail; soon every one succeeds again.
    const counts = await eventually(() => Promise.all(Array.from({ length: 20 }, () => db.relaxed.get<{ n: number }>('SELECT count(*)::int AS n FROM things'))), 10_000);
    expect(counts.every((c) => c?.n === 20)).toBe(true);
  });
});
