// The command line with security keys, as a user runs it: `tokengate enroll --fido` enrolls the
// simulated key (over UDP) with a running verifier — the PIN from TOKENGATE_PIN, for the verifier's
// rpId — and `tokengate verifier credential …` lists it, shows and clears the flag a cloned
// key's answer left, and blocks it.
// `--rp-id`/`--origin` are checked like the other settings (exit 2, one line).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator } from '../native-fixtures/fido/authenticator.js';
import { getAssertion } from '../src/client/index.js';
import { SecurityKey } from '../src/index.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { runCli } from './helpers/cli.js';
import { useServedVerifier } from './helpers/served-verifier.js';

const PIN = '2468-door';
const RP = 'door.example.com';
const PASSWORD = 'correct horse battery';
const served = useServedVerifier({ fido: { rpId: RP } });
const dir = mkdtempSync(join(tmpdir(), 'tokengate-fido-cli-'));
let sim: SimulatedAuthenticator;
let device: string;
let database: string;
let verifier: Verifier;
let url: string;
let apiKey: string;

beforeAll(async () => {
  sim = new SimulatedAuthenticator({ pin: PIN });
  device = `udp:127.0.0.1:${(await sim.serveUdp()).port}`;
  ({ verifier, url, database } = served.current);
  apiKey = (await verifier.apiKeys.create('test', 'admin', ['admin'])).key;
  await verifier.admin.create('test', { username: 'dana', email: 'dana@example.test', password: PASSWORD });
}, 60_000);
afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({ ...process.env, TOKENGATE_STATE_DIR: dir, ...extra });
const admin = (args: string[]) => runCli(['verifier', ...args, '--database', database, '--rp-id', RP], env());

describe('security keys on the command line', () => {
  it('tokengate enroll --fido enrolls the key with the PIN for the verifier\'s rpId; credential list, block and unlock handle it', async () => {
    const enrolled = await runCli(['enroll', '--verifier', url, '--username', 'dana', '--fido', device, '--label', 'door key', '--json'], env({ TOKENGATE_API_KEY: apiKey, TOKENGATE_PIN: PIN }));
    expect(enrolled.status, enrolled.stderr).toBe(0);
    expect(enrolled.stderr).toContain('touch your security key');
    const credential = JSON.parse(enrolled.stdout) as { id: string; kind: string; rpId: string; fidoCredentialId: string; label: string };
    expect(credential).toMatchObject({ kind: 'fido', rpId: RP, label: 'door key' });
    expect(sim.credentials.map((c) => c.rpId)).toEqual([RP]);

    const listed = await admin(['credential', 'list', 'dana']);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/kind/);
    expect(listed.stdout).toContain(credential.fidoCredentialId);
    expect(listed.stdout).toContain('fido');

    // The key answers once, then shows a counter that went back (a clone): the verifier flags it.
    await using key = await SecurityKey.open(device);
    const answer = async () => {
      const challenge = await verifier.challenges.issueFido({ username: 'dana', purpose: 'login', clientIp: '127.0.0.1' });
      const a = await getAssertion(key, challenge);
      const response = { challengeId: challenge.challengeId, purpose: 'login' as const, credentialId: credential.fidoCredentialId, clientIp: '127.0.0.1', password: PASSWORD };
      return verifier.challenges.respondFido({ ...response, authenticatorData: a.authenticatorData, clientDataJSON: a.clientDataJSON, signature: a.signature });
    };
    await expect(answer()).resolves.toMatchObject({ username: 'dana' });
    sim.setCounter(0);
    await expect(answer()).rejects.toMatchObject({ code: 'ERR_INVALID_CREDENTIALS' });
    expect(JSON.parse((await admin(['credential', 'list', 'dana', '--json'])).stdout)[0]).toMatchObject({ flagReason: 'counter_not_increased' });
    const unlocked = await admin(['credential', 'unlock', credential.id]);
    expect(unlocked.stdout).toContain('flag counter_not_increased cleared');

    const blocked = await admin(['credential', 'block', credential.id, '--reason', 'lost']);
    expect(blocked.stdout.trim()).toBe(`credential ${credential.id} blocked`);
    expect((await verifier.credentials.blocklist()).fidoCredentialIds).toEqual([credential.fidoCredentialId]);
  });

  it('refuses an rpId or origin that cannot work, in one line, exit 2', async () => {
    for (const args of [['--rp-id', 'https://door.example.com'], ['--rp-id', RP, '--origin', 'https://elsewhere.example']]) {
      const r = await runCli(['verifier', 'user', 'list', '--database', database, ...args], env());
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('--rp-id/--origin');
    }
    const fromEnv = await runCli(['verifier', 'user', 'list', '--database', database], env({ TOKENGATE_VERIFIER_RP_ID: RP, TOKENGATE_VERIFIER_ORIGINS: `https://${RP}, https://sso.${RP}` }));
    expect(fromEnv.status, fromEnv.stderr).toBe(0);
  });
});
