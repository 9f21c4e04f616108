// The token administration commands against SoftHSM: init-token, keygen (with a self-signed
// certificate), sign/verify with the new key, import-cert, change-pin, unblock-pin with the SO
// PIN (clearing the host's count), and enroll with a running verifier.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVerifierServer } from '../src/verifier/http/server.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { startSmtpPeer, type SmtpPeer } from './helpers/smtp.js';
import { useSoftHsm } from './helpers/softhsm.js';
import { openVerifier, useStoreEngines } from './helpers/verifier.js';

const hsm = useSoftHsm({ tokens: [{ label: 'admin-card' }] });
const engines = useStoreEngines(['sqlite']);
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tokengate-cli-admin-'));
const SO = '87654321';
let smtp: SmtpPeer;
let verifier: Verifier;
let app: FastifyInstance;
let url: string;

function tokengate(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args, '--module', hsm.current.modulePath], {
    encoding: 'utf8',
    env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: join(work, 'state'), ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking this process: the verifier the command talks to runs here. */
function tokengateAsync(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args, '--module', hsm.current.modulePath], {
    env: { ...process.env, ...hsm.current.env, TOKENGATE_STATE_DIR: join(work, 'state'), ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

beforeAll(async () => {
  smtp = await startSmtpPeer();
  verifier = await openVerifier(await engines.newDatabase('sqlite'), smtp);
  app = await buildVerifierServer(verifier);
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  await verifier.admin.create('test', { username: 'ivy', email: 'ivy@example.test', password: 'correct horse battery' });
});
afterAll(async () => {
  await app?.close();
  await verifier?.close();
  await smtp?.stop();
});

describe('tokengate administration', () => {
  it('init-token, keygen with a certificate, then sign and verify with the new key', () => {
    const init = tokengate(['init-token', '--label', 'fresh', '--json'], { TOKENGATE_SO_PIN: SO, TOKENGATE_NEW_PIN: '1111' });
    expect(init.status).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ label: 'fresh' });
    const fresh = ['--token', 'fresh'];
    expect(tokengate(['login', ...fresh], { TOKENGATE_PIN: '1111' }).status).toBe(0);
    const key = tokengate(['keygen', ...fresh, '--label', 'door', '--type', 'ec-p384', '--subject', 'CN=Ivy', '--json'], { TOKENGATE_PIN: '1111' });
    expect(key.status).toBe(0);
    expect(JSON.parse(key.stdout)).toMatchObject({ label: 'door', keyType: 'ec', certificate: true });
    const data = join(work, 'msg');
    const sig = join(work, 'msg.sig');
    writeFileSync(data, 'hello');
    expect(tokengate(['sign', ...fresh, '--key', 'door', '--in', data, '--out', sig], { TOKENGATE_PIN: '1111' }).status).toBe(0);
    expect(JSON.parse(tokengate(['verify', ...fresh, '--key', 'door', '--in', data, '--signature', sig, '--json']).stdout)).toMatchObject({ valid: true, algorithm: 'ECDSA-SHA384' });
  });

  it('keygen --csr writes a PKCS#10 request signed on the token, which openssl checks', () => {
    const csr = join(work, 'gate.csr');
    const r = tokengate(['keygen', '--token', 'admin-card', '--label', 'gate', '--type', 'rsa-2048', '--subject', 'CN=Gate 3', '--csr', csr], { TOKENGATE_PIN: hsm.current.tokens[0]!.userPin });
    expect(r.status).toBe(0);
    const checked = spawnSync('openssl', ['req', '-in', csr, '-noout', '-verify', '-subject'], { encoding: 'utf8' });
    expect(`${checked.stdout}${checked.stderr}`).toMatch(/verify OK/i);
    expect(checked.stdout).toContain('CN = Gate 3');
  });

  it('import-cert puts a certificate next to its key', () => {
    const pem = join(work, 'p256.crt');
    writeFileSync(pem, hsm.current.tokens[0]!.keys.find((k) => k.label === 'p256')!.certificatePem);
    const r = tokengate(['import-cert', '--token', 'admin-card', '--key', 'p256', '--in', pem, '--label', 'again', '--json'], { TOKENGATE_PIN: hsm.current.tokens[0]!.userPin });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ key: 'p256', subject: expect.stringContaining('p256') });
  });

  it('change-pin, and unblock-pin with the SO PIN after the host locked the PIN', () => {
    const fresh = ['--token', 'fresh'];
    expect(tokengate(['change-pin', ...fresh], { TOKENGATE_PIN: '1111', TOKENGATE_NEW_PIN: '2222' }).status).toBe(0);
    expect(tokengate(['login', ...fresh], { TOKENGATE_PIN: '1111' }).status).toBe(3);
    expect(tokengate(['login', ...fresh], { TOKENGATE_PIN: '9999' }).status).toBe(3);
    // The wrong PIN that uses the last try locks: exit 4, and it says so.
    const locking = tokengate(['login', ...fresh, '--allow-final-try'], { TOKENGATE_PIN: '8888' });
    expect(locking.status).toBe(4);
    expect(locking.stderr).toContain('wrong PIN — the PIN is now locked');
    expect(tokengate(['login', ...fresh], { TOKENGATE_PIN: '2222' }).status).toBe(4);
    const wrongSo = tokengate(['unblock-pin', ...fresh, '--with', 'so-pin'], { TOKENGATE_SO_PIN: '00000000', TOKENGATE_NEW_PIN: '3333' });
    expect(wrongSo.status).toBe(3);
    expect(wrongSo.stderr).not.toContain('00000000');
    expect(tokengate(['unblock-pin', ...fresh, '--with', 'so-pin'], { TOKENGATE_SO_PIN: SO, TOKENGATE_NEW_PIN: '3333' }).status).toBe(0);
    expect(tokengate(['login', ...fresh], { TOKENGATE_PIN: '3333' }).status).toBe(0);
  });

  it('enroll registers the token\'s key with the verifier (admin API key)', async () => {
    const apiKey = (await verifier.apiKeys.create('test', 'admin', ['admin'])).key;
    const r = await tokengateAsync(['enroll', '--token', 'fresh', '--key', 'door', '--verifier', url, '--username', 'ivy', '--json'], { TOKENGATE_PIN: '3333', TOKENGATE_API_KEY: apiKey });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ username: 'ivy', keyType: 'ec-p384', status: 'active', challengePolicy: 'password+token' });
    expect((await verifier.credentials.list('ivy')).map((c) => c.keyType)).toEqual(['ec-p384']);
    expect(tokengate(['enroll', '--token', 'fresh', '--key', 'door', '--verifier', 'http://127.0.0.1:1', '--username', 'ivy'], { TOKENGATE_PIN: '3333', TOKENGATE_API_KEY: apiKey }).status).toBe(8);
    // An address without its scheme: said at once, before the PIN is asked for.
    const noScheme = tokengate(['enroll', '--token', 'fresh', '--key', 'door', '--verifier', '127.0.0.1:8787', '--username', 'ivy'], { TOKENGATE_API_KEY: apiKey });
    expect(noScheme.status).toBe(2);
    expect(noScheme.stderr).toContain('http://127.0.0.1:8787 [ERR_INVALID_VERIFIER_URL]');
  });
});
