// A newcomer's first hour with `tokengate verifier …`, run as the real CLI in a private state
// directory: the challenge-policy step a kiosk needs (and `serve` refusing a password-less kiosk
// with ERR_PASSWORD_REQUIRED until it is taken), messages for unknown options and bad values
// (one line, exit 2), the API key shown once and unquoted, the audit log newest first between two
// times, and a line for every lifecycle change.
import { spawn, spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerifierClient } from '../src/client/verifier-client.js';
import { ServerSecret } from '../src/verifier/server-secret.js';
import { Verifier } from '../src/verifier/verifier.js';
import { issue, type Issued } from './helpers/pki.js';
import { servedAddress } from './helpers/cli.js';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const state = mkdtempSync(join(tmpdir(), 'tokengate-vfirst-'));
const env = { ...process.env, TOKENGATE_STATE_DIR: state, TOKENGATE_PASSWORD: 'correct horse battery' };
afterAll(() => rmSync(state, { recursive: true, force: true }));

function tokengate(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'verifier', ...args], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(...args: string[]): T {
  const r = tokengate(...args, '--json');
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** A refusal: exit 2, one line on stderr, no stack trace. */
function usage(...args: string[]): string {
  const r = tokengate(...args);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr;
}

type Entry = { id: number; at: string; action: string; subject?: string };

beforeAll(() => {
  expect(tokengate('user', 'add', 'dana', '--email', 'dana@example.test').status).toBe(0);
});

describe('tokengate verifier policy', () => {
  it('a new user is password+token: user add and user show say so, with the command that changes it', () => {
    const added = tokengate('user', 'add', 'erik', '--email', 'erik@example.test');
    expect(added.stdout).toContain('tokengate verifier policy set erik token-only');
    const shown = tokengate('user', 'show', 'dana');
    expect(shown.stdout).toMatch(/^challenge policy\s+password\+token$/m);
    expect(shown.stdout).toMatch(/^range overrides\s+\(none\)$/m);
  });

  it('sets a user\'s policy and a range override, lists them, clears the range; each change audited as cli', () => {
    expect(tokengate('policy', 'range', '192.0.2.10/24', 'token-only').stdout).toContain('192.0.2.0/24');
    expect(tokengate('user', 'show', 'dana').stdout).toMatch(/^range overrides\s+192\.0\.2\.0\/24 token-only/m);
    expect(json('user', 'show', 'dana')).toMatchObject({ challengePolicy: 'password+token', challengePolicyRanges: [{ cidr: '192.0.2.0/24', policy: 'token-only' }] });
    expect(tokengate('policy', 'set', 'dana', 'token-only').status).toBe(0);
    expect(json('policy', 'list')).toEqual({
      ranges: [{ cidr: '192.0.2.0/24', policy: 'token-only' }],
      users: [
        { username: 'dana', challengePolicy: 'token-only' },
        { username: 'erik', challengePolicy: 'password+token' },
      ],
    });
    expect(tokengate('policy', 'list').stdout).toMatch(/^user dana\s+token-only$/m);
    expect(tokengate('policy', 'range', '192.0.2.0/24', '--clear').status).toBe(0);
    expect(json<{ ranges: unknown[] }>('policy', 'list').ranges).toEqual([]);
    const audit = json<Array<Entry & { actor: string; reason: string }>>('audit', '--action', 'org.challenge-policy');
    expect(audit.map((e) => `${e.actor}:${e.reason}`)).toEqual(['cli:removed', 'cli:token-only']);
  });

  it('help for the policy, and usage errors for a bad policy or a range with neither a policy nor --clear', () => {
    const help = tokengate('policy', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('policy range CIDR token-only|password+token');
    expect(help.stdout).toContain('A kiosk sends no password');
    expect(tokengate('--help').stdout).toContain('policy set USERNAME token-only|password+token');
    expect(tokengate('policy').status).toBe(2);
    usage('policy', 'set', 'dana', 'password-only');
    usage('policy', 'range', '192.0.2.0/24');
    usage('policy', 'range', '192.0.2.0/24', 'token-only', '--clear');
    usage('policy', 'frobnicate');
  });
});

describe('tokengate verifier user list', () => {
  it('shows a page and says on stderr, not stdout, how to see the next one', () => {
    for (const name of ['list-b', 'list-a']) expect(tokengate('user', 'add', name, '--email', `${name}@lists.test`).status).toBe(0);
    const first = tokengate('user', 'list', '--search', 'list-', '--limit', '1');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^list-a\s/m);
    expect(first.stdout).not.toContain('list-b');
    expect(first.stderr.trim()).toBe("more users after list-a: tokengate verifier user list --search 'list-' --after list-a");
    const next = tokengate('user', 'list', '--search', 'list-', '--limit', '1', '--after', 'list-a');
    expect(next.stdout).toMatch(/^list-b\s/m);
    expect(next.stderr).toBe('');
    expect(json<Array<{ username: string }>>('user', 'list', '--search', 'list-b@').map((u) => u.username)).toEqual(['list-b']);
    expect(json<Array<{ username: string }>>('user', 'list').map((u) => u.username)).toContain('dana');
    expect(usage('user', 'list', '--limit', '0')).toContain('--limit');
  });
});

describe('messages and exit codes', () => {
  it('an unknown option is one sentence naming it and the help, never a value given with it', () => {
    const policy = usage('user', 'list', '--policy', 'token-only');
    expect(policy).toContain('unknown option --policy');
    expect(policy).toContain('tokengate verifier --help');
    expect(policy).not.toContain('positional');
    const password = usage('user', 'list', '--password=hunter2 horse');
    expect(password).toContain('unknown option --password');
    expect(password).not.toContain('hunter2');
  });

  it('a bad --scope, --limit, --since or --until is a usage error, and nothing is created', () => {
    expect(usage('api-key', 'create', '--label', 'ops', '--scope', 'admin,root')).toContain('--scope');
    expect(json('api-key', 'list')).toEqual([]);
    for (const limit of ['0', 'abc', '1001']) expect(usage('audit', '--limit', limit)).toContain('--limit');
    expect(usage('audit', '--since', '3')).toContain('--since');
    expect(usage('audit', '--until', 'yesterday')).toContain('--until');
  });

  it('an API key is printed unquoted, once, with that said; --json keeps stdout one JSON document', () => {
    const created = tokengate('api-key', 'create', '--label', 'ops', '--scope', 'admin');
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(/^tgk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\s/m);
    expect(created.stdout).not.toMatch(/['"]tgk_/);
    expect(created.stdout).toContain('store it now: it is shown only once');
    const scripted = tokengate('api-key', 'create', '--label', 'ci', '--scope', 'audit', '--json');
    expect((JSON.parse(scripted.stdout) as { key: string }).key).toMatch(/^tgk_/);
    expect(scripted.stderr).toContain('shown only once');
  });
});

describe('tokengate verifier audit', () => {
  it('--limit N is the newest N, newest first; --since (at or after) and --until (before) bound the time', () => {
    for (const policy of ['password+token', 'token-only', 'password+token', 'token-only']) expect(tokengate('policy', 'set', 'erik', policy).status).toBe(0);
    const all = json<Entry[]>('audit', '--limit', '1000');
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a));
    expect(json<Entry[]>('audit', '--limit', '3')).toEqual(all.slice(0, 3));
    const table = tokengate('audit', '--limit', '1').stdout.trim().split('\n');
    expect(table).toHaveLength(2);
    expect(table[1]).toContain(all[0]!.at);

    // Each change came from its own process, so their times differ.
    const changes = json<Entry[]>('audit', '--subject', 'erik', '--action', 'user.challenge-policy');
    expect(changes).toHaveLength(4);
    const between = json<Entry[]>('audit', '--subject', 'erik', '--action', 'user.challenge-policy', '--since', changes[2]!.at, '--until', changes[0]!.at);
    expect(between.map((e) => e.id)).toEqual([changes[1]!.id, changes[2]!.id]);
  });
});

describe('lifecycle commands say what they did', () => {
  let credentialId: string;

  beforeAll(async () => {
    // Enrolled through the library on the CLI's own store (the CLI has no enroll of its own).
    await using verifier = await Verifier.open({
      database: join(state, 'verifier.sqlite'),
      secret: ServerSecret.fromFile(join(state, 'verifier.secret')),
      mail: { from: 'verifier@example.test', transport: { kind: 'outbox', dir: join(state, 'outbox') } },
    });
    const card = await issue({ type: 'ec-p256', subject: 'CN=Dana' });
    credentialId = (await verifier.credentials.enroll('test', { username: 'dana', certificate: card.certificate.toString('pem'), serial: 'DANA-CARD' })).id;
  });

  it('credential block, enable, disable, unlock, revoke and user freeze/unfreeze each print a line', () => {
    for (const [command, done] of [
      ['block', 'blocked'],
      ['enable', 'enabled'],
      ['disable', 'disabled'],
      ['unlock', 'unlocked'],
      ['revoke', 'revoked'],
    ] as const) {
      const r = tokengate('credential', command, credentialId);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`credential ${credentialId} ${done}`);
    }
    expect(tokengate('blocklist').stdout).toMatch(/^serial\s+DANA-CARD$/m);
    expect(tokengate('user', 'freeze', 'dana').stdout.trim()).toBe('user dana frozen');
    expect(tokengate('user', 'unfreeze', 'dana').stdout.trim()).toBe('user dana unfrozen');
  });
});

describe('serve: a kiosk\'s first login', () => {
  let card: Issued;
  beforeAll(async () => {
    card = await issue({ type: 'ec-p256', subject: 'CN=Fay' });
    expect(tokengate('user', 'add', 'fay', '--email', 'fay@example.test').status).toBe(0);
  });

  it('the enroll reply says password+token; a kiosk without a password hears ERR_PASSWORD_REQUIRED until `policy set … token-only`', async () => {
    const key = json<{ key: string }>('api-key', 'create', '--label', 'enroller', '--scope', 'admin').key;
    const server = spawn(process.execPath, ['--import', 'tsx', main, 'verifier', 'serve', '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      // Port 0: the address is read from the "listening on" line, waited for by event.
      const address = await servedAddress(server);
      const enrolled = await new VerifierClient(address, { apiKey: key }).request<{ challengePolicy: string }>('POST', '/v1/admin/users/fay/credentials', { certificate: card.certificate.toString('pem'), serial: 'FAY-CARD' });
      expect(enrolled.body).toMatchObject({ challengePolicy: 'password+token' });

      const kiosk = new VerifierClient(address);
      const attempt = async () => {
        const challenge = await kiosk.challenge(undefined, { serial: 'FAY-CARD' });
        const signature = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, card.keys.privateKey, challenge.message));
        return kiosk.respond(challenge.challengeId, { username: challenge.fields.username, purpose: 'login', signature, algorithm: 'ECDSA-SHA256' });
      };
      await expect(attempt()).rejects.toMatchObject({ code: 'ERR_VERIFIER_REFUSED', status: 401, remoteCode: 'ERR_PASSWORD_REQUIRED' });
      // The one documented admin step, taken while the server runs (a user's policy is read per login).
      expect(tokengate('policy', 'set', 'fay', 'token-only').status).toBe(0);
      await expect(attempt()).resolves.toMatchObject({ username: 'fay' });
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  });
});
