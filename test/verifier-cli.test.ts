// `tokengate verifier …` end to end: the embedded defaults (SQLite, generated secret, .eml
// outbox) in a private state directory; `serve` answers a real login with a token from the outbox.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tokenIn } from './helpers/verifier.js';
import { servedAddress } from './helpers/cli.js';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const state = mkdtempSync(join(tmpdir(), 'tokengate-vcli-'));
const env = { ...process.env, TOKENGATE_STATE_DIR: state, TOKENGATE_PASSWORD: 'correct horse battery' };
afterAll(() => rmSync(state, { recursive: true, force: true }));

function tokengate(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'verifier', ...args], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The security token in the newest outbox mail that carries one. */
function outboxToken(): string {
  const dir = join(state, 'outbox');
  const mails = readdirSync(dir)
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
    .map((path) => ({ path, text: readFileSync(path, 'utf8').replace(/=\r?\n/g, '') }))
    .filter((m) => m.text.includes('Security token'));
  const newest = mails.at(-1)!;
  expect(statSync(newest.path).mode & 0o077).toBe(0);
  return tokenIn(newest.text);
}

describe('tokengate verifier', () => {
  it('adds a user (token to the outbox, password from the environment), lists, freezes, audits', () => {
    const added = tokengate('user', 'add', 'carol', '--email', 'carol@example.test', '--json');
    expect(added.status).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ username: 'carol', securityTokens: [{ name: 'default' }] });
    expect(outboxToken()).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(statSync(join(state, 'verifier.secret')).mode & 0o077).toBe(0);
    expect(tokengate('user', 'freeze', 'carol').status).toBe(0);
    expect(JSON.parse(tokengate('user', 'show', 'carol', '--json').stdout)).toMatchObject({ frozen: true, challengePolicy: 'password+token' });
    const audit = JSON.parse(tokengate('audit', '--subject', 'carol', '--json').stdout) as Array<{ action: string; actor: string }>;
    // Newest first.
    expect(audit.map((e) => e.action)).toEqual(['user.freeze', 'user.create']);
    expect(audit.every((e) => e.actor === 'cli')).toBe(true);
    expect(tokengate('user', 'unfreeze', 'carol').status).toBe(0);
  });

  it('issues a temporary password (shown once with --show), lists credentials and the blocklist', () => {
    const shown = tokengate('temporary-password', 'carol', '--show', '--json');
    expect(shown.status).toBe(0);
    expect((JSON.parse(shown.stdout) as { password: string }).password).toMatch(/^[A-Za-z0-9]{20}$/);
    const mailed = JSON.parse(tokengate('temporary-password', 'carol', '--json').stdout) as { password?: string };
    expect(mailed.password).toBeUndefined();
    expect(JSON.parse(tokengate('credential', 'list', 'carol', '--json').stdout)).toEqual([]);
    expect(JSON.parse(tokengate('blocklist', '--json').stdout)).toMatchObject({ serials: [], certificateFingerprints: [] });
    expect(tokengate('credential', 'block', 'no-such-id').stderr).toContain('[ERR_CREDENTIAL_NOT_FOUND]');
  });

  it('exit codes: 2 for usage, 1 with the error code for a failure', () => {
    const usage = tokengate('user', 'show');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('USERNAME');
    const missing = tokengate('user', 'show', 'nobody');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('[ERR_USER_NOT_FOUND]');
    const badRange = tokengate('ip-range', 'add', '10.0.0.0/99');
    expect(badRange.status).toBe(1);
    expect(badRange.stderr).toContain('[ERR_INVALID_INPUT]');
    expect(tokengate('frobnicate').status).toBe(2);
  });

  it('serves the HTTP API: a login with the mailed token succeeds, an API key made by the CLI works', async () => {
    const key = JSON.parse(tokengate('api-key', 'create', '--label', 'ops', '--scope', 'admin', '--json').stdout) as { key: string };
    const server = spawn(process.execPath, ['--import', 'tsx', main, 'verifier', 'serve', '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      // Port 0: the address is read from the "listening on" line, waited for by event.
      const address = await servedAddress(server);
      const token = outboxToken();
      const ok = await fetch(`${address}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', password: 'correct horse battery', securityToken: token }) });
      expect(ok.status).toBe(200);
      const users = await fetch(`${address}/v1/admin/users`, { headers: { authorization: `Bearer ${key.key}` } });
      expect(((await users.json()) as Array<{ username: string }>).map((u) => u.username)).toEqual(['carol']);
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    expect(server.exitCode).toBe(0);
  });
});
