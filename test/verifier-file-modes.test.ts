// The SQLite store's files hold password hashes: created owner-only (0600) wherever --database
// points, the -wal and -shm included, and an existing file that others can read is reported.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerifierWarning } from '../src/verifier/verifier.js';
import { openVerifier, useVerifierStack } from './helpers/verifier.js';

const mode = (path: string) => statSync(path).mode & 0o777;
const dir = mkdtempSync(join(tmpdir(), 'tokengate-modes-'));
beforeAll(async () => {
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

const stack = useVerifierStack(['sqlite']);

describe('the SQLite file modes', () => {
  it('creates a fresh database 0600, and its -wal and -shm, even under a permissive umask', async () => {
    const database = join(dir, 'elsewhere', 'fresh.sqlite');
    const warnings: VerifierWarning[] = [];
    // 0 would leave SQLite's own default (0644) untouched: the mode must come from us.
    const umask = process.umask(0);
    try {
      const verifier = await openVerifier(database, stack.smtp, { onWarning: (w) => warnings.push(w) });
      try {
        await verifier.admin.create('test', { username: 'dana', email: 'dana@example.test', password: 'correct horse battery' });
        expect({ db: mode(database), wal: mode(`${database}-wal`), shm: mode(`${database}-shm`) }).toEqual({ db: 0o600, wal: 0o600, shm: 0o600 });
      } finally {
        await verifier.close();
      }
    } finally {
      process.umask(umask);
    }
    expect(warnings).toEqual([]);
  });

  it('reports an existing 0644 database, opens it all the same, and narrows its -wal and -shm', async () => {
    const database = join(dir, 'wide.sqlite');
    for (const file of [database, `${database}-wal`, `${database}-shm`]) {
      closeSync(openSync(file, 'w'));
      chmodSync(file, 0o644);
    }
    const warnings: VerifierWarning[] = [];
    const verifier = await openVerifier(database, stack.smtp, { onWarning: (w) => warnings.push(w) });
    try {
      expect(warnings.map((w) => w.code)).toEqual(['WARN_DATABASE_MODE']);
      expect(warnings[0]!.message).toContain('0644');
      expect(mode(database)).toBe(0o644);
      expect({ wal: mode(`${database}-wal`), shm: mode(`${database}-shm`) }).toEqual({ wal: 0o600, shm: 0o600 });
      await expect(verifier.admin.search({ text: '', limit: 10 })).resolves.toMatchObject({ users: [] });
    } finally {
      await verifier.close();
    }
  });

  it('the CLI prints the warning as one line on stderr', () => {
    const database = join(dir, 'cli-wide.sqlite');
    closeSync(openSync(database, 'w'));
    chmodSync(database, 0o644);
    const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
    const env = { ...process.env, TOKENGATE_STATE_DIR: join(dir, 'state') };
    const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'verifier', 'user', 'list', '--database', database], { encoding: 'utf8', env });
    expect(r.status).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes('WARN_DATABASE_MODE'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tokengate: warning: .*0644.*\[WARN_DATABASE_MODE\]$/);
  });
});
