// The PostgreSQL store prepares each statement once per connection, by name. When another
// instance changes a table under it (a migration during a rolling upgrade), the statement is
// prepared again rather than failing for as long as the connection lives.
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresDatabase } from '../src/verifier/store/postgres.js';
import { useStoreEngines } from './helpers/verifier.js';

const engines = useStoreEngines(['postgres']);
let open: PostgresDatabase[] = [];
afterEach(async () => {
  for (const db of open) await db.close();
  open = [];
});

async function connect(url: string): Promise<PostgresDatabase> {
  // One connection each, so the second read surely runs where the first was prepared.
  const db = PostgresDatabase.open(url, { maxConnections: 1 });
  open.push(db);
  return db;
}

describe('PostgreSQL prepared statements', () => {
  it('a prepared SELECT * keeps working after another connection adds a column, and sees it', async () => {
    const url = await engines.newDatabase('postgres');
    const ours = await connect(url);
    const theirs = await connect(url);
    await ours.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO things VALUES (1, \'one\')');
    expect(await ours.all('SELECT * FROM things WHERE id = ?', [1])).toEqual([{ id: 1, name: 'one' }]);
    await theirs.exec("ALTER TABLE things ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue'");
    expect(await ours.all('SELECT * FROM things WHERE id = ?', [1])).toEqual([{ id: 1, name: 'one', colour: 'blue' }]);
    // And the statement stays usable afterwards, as a prepared one again.
    expect(await ours.get('SELECT * FROM things WHERE id = ?', [1])).toEqual({ id: 1, name: 'one', colour: 'blue' });
  });

  it('inside a transaction the stale plan fails the transaction, which rolls back', async () => {
    const url = await engines.newDatabase('postgres');
    const ours = await connect(url);
    const theirs = await connect(url);
    await ours.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO things VALUES (1, \'one\')');
    const read = (db: PostgresDatabase, name: string) =>
      db.transaction(async (tx) => {
        await tx.run('UPDATE things SET name = ? WHERE id = ?', [name, 1]);
        return tx.all('SELECT * FROM things ORDER BY id');
      });
    await read(ours, 'changed');
    await theirs.exec('ALTER TABLE things ADD COLUMN colour TEXT');
    await expect(read(ours, 'again')).rejects.toMatchObject({ code: '0A000' });
    // Nothing half-done: and outside a transaction, the statement is prepared afresh.
    expect(await ours.all('SELECT * FROM things ORDER BY id')).toEqual([{ id: 1, name: 'changed', colour: null }]);
  });
});
