// `tokengate verifier` settings: the policies' numbers and serve's bounds from options, the
// environment or a --config file (in that order), checked at start — a bad value exits 2 with one
// line naming the setting — and applied: a lockout threshold of 2 locks after two wrong passwords
// over HTTP, a token length from the file makes tokens that long.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { verifierConfig } from '../src/cli/verifier/config.js';
import { tokenIn } from './helpers/verifier.js';
import { servedAddress } from './helpers/cli.js';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const state = mkdtempSync(join(tmpdir(), 'tokengate-vsettings-'));
const env = { ...process.env, TOKENGATE_STATE_DIR: state, TOKENGATE_PASSWORD: 'correct horse battery' };
afterAll(() => rmSync(state, { recursive: true, force: true }));

function tokengate(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'verifier', ...args], { encoding: 'utf8', env: { ...env, ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function configFile(name: string, settings: unknown): string {
  const path = join(state, name);
  writeFileSync(path, JSON.stringify(settings));
  return path;
}

describe('where settings come from', () => {
  it('options beat the environment, which beats the file; durations are seconds; unset ones keep the defaults', () => {
    const file = configFile('precedence.json', { 'token-length': 30, 'lockout-threshold': 7, 'ip-failures': 9, 'request-timeout': 2, 'trusted-proxy': ['10.0.0.1'] });
    const config = verifierConfig(
      { config: file, 'token-length': '40', 'request-timeout': '0.5' },
      { TOKENGATE_STATE_DIR: state, TOKENGATE_VERIFIER_TOKEN_LENGTH: '20', TOKENGATE_VERIFIER_LOCKOUT_THRESHOLD: '5', TOKENGATE_VERIFIER_LOCKOUT_BASE: '30' },
    );
    expect(config.verifier).toMatchObject({ tokenLength: 40, lockout: { threshold: 5, baseMs: 30_000 }, ipLimit: { failures: 9 } });
    expect(config.verifier.lockout).not.toHaveProperty('maxMs');
    expect(config.verifier.ipLimit).not.toHaveProperty('windowMs');
    expect(config.serve).toEqual({ listen: undefined, trustedProxies: ['10.0.0.1'], requestTimeoutMs: 500, connectionsPerAddress: 64, maxConnections: 1024 });
  });
});

describe('bad values', () => {
  const badFile = configFile('bad-type.json', { 'lockout-threshold': true });
  const unknownFile = configFile('unknown.json', { 'lockout-treshold': 3 });
  const cases: Array<[string, string[], Record<string, string>, string]> = [
    ['token length 8', ['serve', '--token-length', '8'], {}, '--token-length'],
    ['threshold 0', ['user', 'list', '--lockout-threshold', '0'], {}, '--lockout-threshold'],
    ['threshold 101 from the environment', ['serve'], { TOKENGATE_VERIFIER_LOCKOUT_THRESHOLD: '101' }, 'TOKENGATE_VERIFIER_LOCKOUT_THRESHOLD'],
    ['a fractional failure budget', ['serve', '--ip-failures', '2.5'], {}, '--ip-failures'],
    ['a request timeout that is no number', ['serve', '--request-timeout', 'soon'], {}, '--request-timeout'],
    ['no connections per address', ['serve', '--connections-per-address', '0'], {}, '--connections-per-address'],
    ['a first lock longer than the longest', ['serve', '--lockout-base', '7200', '--lockout-max', '3600'], {}, '--lockout-base'],
    ['a wrong type in the file', ['serve', '--config', badFile], {}, '"lockout-threshold"'],
    ['an unknown key in the file', ['serve', '--config', unknownFile], {}, '"lockout-treshold"'],
    ['a file that is not there', ['serve', '--config', join(state, 'missing.json')], {}, '--config'],
  ];

  it.each(cases)('%s: exit 2, one line naming it, nothing opened', (_, args, extraEnv, named) => {
    const database = join(state, `never-${Math.random().toString(36).slice(2)}.sqlite`);
    const r = tokengate([...args, '--database', database, '--listen', '127.0.0.1:0'], extraEnv);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tokengate: /);
    expect(lines[0]).toContain(named);
    expect(() => statSync(database)).toThrow();
  });
});

describe('applied settings', () => {
  it('a token length from the file and a threshold of 2 from the option: locked after two wrong passwords over HTTP', async () => {
    const file = configFile('serve.json', { 'token-length': 32 });
    expect(tokengate(['user', 'add', 'erin', '--email', 'erin@example.test', '--config', file]).status).toBe(0);
    const outbox = join(state, 'outbox');
    const mail = readdirSync(outbox)
      .map((f) => readFileSync(join(outbox, f), 'utf8').replace(/=\r?\n/g, ''))
      .find((text) => text.includes('Hello erin'))!;
    const token = tokenIn(mail);
    expect(token).toMatch(/^[A-Za-z0-9]{32}$/);

    const server = spawn(process.execPath, ['--import', 'tsx', main, 'verifier', 'serve', '--listen', '127.0.0.1:0', '--config', file, '--lockout-threshold', '2'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      // Port 0: the address is read from the "listening on" line, waited for by event.
      const address = await servedAddress(server);
      const login = async (password: string) =>
        (await fetch(`${address}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'erin', password, securityToken: token }) })).status;
      expect(await login('wrong password one')).toBe(401);
      expect(await login('wrong password two')).toBe(401);
      // With the default threshold (10) this would be a 200.
      expect(await login('correct horse battery')).toBe(401);
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    expect(JSON.parse(tokengate(['user', 'show', 'erin', '--json']).stdout)).toMatchObject({ locked: true, failedLogins: 2 });
  });
});
