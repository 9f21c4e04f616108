// The private PostgreSQL server the verifier's tests run on: it must really serve queries, hold up
// under concurrent writers, and leave nothing behind (no process, no files) once stopped.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../native-fixtures/postgres/server.js';

let server: PostgresServer;

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

async function withClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startPostgres', () => {
  it('serves the requested database on loopback', async () => {
    expect(server.url).toBe(`postgres://tokengate@127.0.0.1:${server.port}/tokengate`);
    const name = await withClient(async (c) => (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db);
    expect(name).toBe('tokengate');
  });

  it('round-trips a row through a new table', async () => {
    const row = await withClient(async (c) => {
      await c.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, at timestamptz NOT NULL)');
      await c.query('INSERT INTO notes (body, at) VALUES ($1, $2)', ['héllo ✓', new Date('2024-01-02T03:04:05Z')]);
      return (await c.query<{ id: number; body: string; at: Date }>('SELECT id, body, at FROM notes')).rows;
    });
    expect(row).toEqual([{ id: 1, body: 'héllo ✓', at: new Date('2024-01-02T03:04:05Z') }]);
  });

  it('loses no increment when 20 clients update one row at once', async () => {
    await withClient((c) => c.query('CREATE TABLE t (n integer NOT NULL); INSERT INTO t VALUES (0)'));
    const clients = Array.from({ length: 20 }, () => new pg.Client({ connectionString: server.url }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      // Every client holds a transaction open across the update, so they really contend for the row.
      await Promise.all(clients.map((c) => c.query('BEGIN')));
      await Promise.all(clients.map(async (c) => {
        await c.query('UPDATE t SET n = n + 1');
        await c.query('COMMIT');
      }));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const n = await withClient(async (c) => (await c.query<{ n: number }>('SELECT n FROM t')).rows[0]!.n);
    expect(n).toBe(20);
  });

  it('stops for good: no connections, no postmaster, no data directory', async () => {
    const postmaster = Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isAlive(postmaster)).toBe(true);

    await server.stop();
    await server.stop(); // idempotent

    expect(isAlive(postmaster)).toBe(false);
    expect(existsSync(server.dataDir)).toBe(false);
    const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 2000 });
    await expect(client.connect()).rejects.toThrow();
    await client.end().catch(() => {});
  });
});
