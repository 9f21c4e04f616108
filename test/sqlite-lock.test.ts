// Another process holding the SQLite file's write lock (the CLI, a backup, a second server): the
// verifier waits for it without stalling its event loop, and past the bound answers 503 with
// Retry-After (ERR_STORE_UNAVAILABLE), never a 500 and never a frozen server; once the lock is
// free, everything works again. The lock is held by a second connection, as another process's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/verifier/errors.js';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import { SqliteDatabase } from '../src/verifier/store/sqlite.js';
import { openVerifier, tokenIn, useVerifierStack } from './helpers/verifier.js';

/** The longest the event loop went without a turn while `work` ran (a 1 ms interval's gaps). */
async function longestStall<T>(work: Promise<T>): Promise<{ result: PromiseSettledResult<T>; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 1);
  const [result] = await Promise.allSettled([work]);
  clearInterval(timer);
  return { result, stallMs };
}

/** Takes the write lock on another connection, as another process would, until `release()`. */
function holdWriteLock(path: string): { release(): void } {
  const other = new BetterSqlite3(path);
  other.exec('BEGIN IMMEDIATE');
  return {
    release() {
      if (other.open) {
        other.exec('COMMIT');
        other.close();
      }
    },
  };
}

describe('the SQLite store while another connection holds the write lock', () => {
  let dir: string;
  let path: string;
  let db: SqliteDatabase;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokengate-lock-'));
    path = join(dir, 'store.sqlite');
    db = SqliteDatabase.open(path, undefined, { lockWaitMs: 400 });
    await db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL)');
  });
  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a relaxed write, a statement and a transaction wait for it, and the event loop keeps turning', async () => {
    const lock = holdWriteLock(path);
    setTimeout(() => lock.release(), 150);
    const { result, stallMs } = await longestStall(
      Promise.all([
        db.relaxed.run('INSERT INTO items (id, label) VALUES (1, ?)', ['relaxed']),
        db.run('INSERT INTO items (id, label) VALUES (2, ?)', ['durable']),
        db.transaction(async (tx) => tx.run('INSERT INTO items (id, label) VALUES (3, ?)', ['transaction'])),
      ]),
    );
    expect(result.status, String((result as PromiseRejectedResult).reason)).toBe('fulfilled');
    // SQLite's own wait is one slice (10 ms); the rest is waited with the loop free.
    expect(stallMs).toBeLessThan(60);
    expect(await db.all('SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it('past the bound each is refused as the store being unavailable, with nothing half-done; then all is well', async () => {
    const lock = holdWriteLock(path);
    try {
      const started = performance.now();
      const { result, stallMs } = await longestStall(
        Promise.allSettled([
          db.relaxed.run('INSERT INTO items (id, label) VALUES (1, ?)', ['relaxed']),
          db.transaction(async (tx) => tx.run('INSERT INTO items (id, label) VALUES (2, ?)', ['transaction'])),
          db.exec("INSERT INTO items (id, label) VALUES (3, 'script')"),
        ]),
      );
      const outcomes = (result as PromiseFulfilledResult<PromiseSettledResult<unknown>[]>).value;
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
      for (const o of outcomes) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
      expect(performance.now() - started).toBeGreaterThanOrEqual(400);
      expect(stallMs).toBeLessThan(60);
    } finally {
      lock.release();
    }
    expect(await db.all('SELECT id FROM items')).toEqual([]);
    await db.relaxed.run('INSERT INTO items (id, label) VALUES (1, ?)', ['later']);
    expect(await db.all('SELECT id FROM items')).toEqual([{ id: 1 }]);
  });
});

describe('the verifier on SQLite while another process holds the write lock', () => {
  const stack = useVerifierStack(['sqlite']);
  const PASSWORD = 'correct horse battery';
  let closers: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    closers = [];
  });

  it('answers logins 503 with Retry-After past the bound, stays responsive meanwhile, and logs in once the lock is free', async () => {
    const database = await stack.newDatabase('sqlite');
    const verifier = await openVerifier(database, stack.smtp);
    const app = await buildVerifierServer(verifier);
    closers.push(() => verifier.close(), () => app.close());
    await verifier.admin.create('test', { username: 'lena', email: 'lena@example.test', password: PASSWORD });
    const token = tokenIn((await stack.smtp.nextMail('lena@example.test')).text);
    const login = () => app.inject({ method: 'POST', url: '/v1/login', payload: { username: 'lena', password: PASSWORD, securityToken: token }, remoteAddress: '203.0.113.9' });

    const lock = holdWriteLock(database);
    let health: number | undefined;
    try {
      const loginStarted = performance.now();
      const refused = login();
      // While the login waits for the lock, the server answers others at once — store reads too.
      const healthStarted = performance.now();
      health = (await app.inject({ method: 'GET', url: '/health' })).statusCode;
      expect(performance.now() - healthStarted).toBeLessThan(1_000);
      const answer = await refused;
      // Within the documented bound (5 s from the write's start), not one bound per queued write.
      expect(performance.now() - loginStarted).toBeLessThan(6_500);
      expect([answer.statusCode, answer.headers['retry-after'], answer.json()]).toMatchObject([503, '1', { error: { code: 'ERR_STORE_UNAVAILABLE' } }]);
    } finally {
      lock.release();
    }
    expect(health).toBe(200);
    expect((await login()).statusCode).toBe(200);
  }, 30_000);
});
