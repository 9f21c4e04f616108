// A security key against a running verifier over HTTP: the simulated key (real CTAP2, in memory)
// enrolled end to end by the client (admin API key, or the user's password), signing in by
// username and discoverably, a refusal answered generically, the helpdesk blocking the key as
// lost and a kiosk's cached blocklist then refusing its credential id. The assertion our client
// made, and the verifier accepted, is accepted by libfido2's `fido2-assert -V` too (an
// independent verifier; ours is built on @simplewebauthn/server), and refused tampered.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'cborg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator } from '../native-fixtures/fido/authenticator.js';
import { enrollSecurityKey, getAssertion, signInWithSecurityKey, VerifierClient } from '../src/client/index.js';
import { Blocklist, SecurityKey, type EnrolledCredential as KeyCredential, type FidoAssertion } from '../src/index.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { useServedVerifier } from './helpers/served-verifier.js';

const PIN = '4831-pin';
const RP = 'door.example.com';
const PASSWORD = 'correct horse battery';
const served = useServedVerifier({ fido: { rpId: RP } });
const dir = mkdtempSync(join(tmpdir(), 'tokengate-fido-http-'));
let verifier: Verifier;
let url: string;
let admin: VerifierClient;
let helpdesk: VerifierClient;
const keys: SecurityKey[] = [];

async function simKey() {
  const sim = new SimulatedAuthenticator({ pin: PIN, touch: 'auto' });
  const key = await SecurityKey.open(sim.connect().host);
  keys.push(key);
  return key;
}

beforeAll(async () => {
  ({ verifier, url } = served.current);
  admin = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'admin', ['admin'])).key });
  helpdesk = new VerifierClient(url, { apiKey: (await verifier.apiKeys.create('test', 'helpdesk', ['helpdesk'])).key });
  for (const username of ['dana', 'erik']) await verifier.admin.create('test', { username, email: `${username}@example.test`, password: PASSWORD });
  await verifier.admin.setChallengePolicy('test', 'dana', 'token-only');
});
afterAll(async () => {
  await Promise.all(keys.splice(0).map((k) => k.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** libfido2's verdict on an assertion: 0 verified, else its failure. */
function fido2AssertVerify(made: KeyCredential, a: FidoAssertion): number | null {
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, made.publicKey.export({ type: 'spki', format: 'pem' }));
  const input = [
    createHash('sha256').update(a.clientDataJSON).digest('base64'),
    RP,
    Buffer.from(encode(Uint8Array.from(a.authenticatorData))).toString('base64'),
    Buffer.from(a.signature).toString('base64'),
  ].join('\n');
  const flags = a.userVerified ? ['-p', '-v'] : ['-p'];
  return spawnSync('fido2-assert', ['-V', ...flags, keyFile, made.algorithm === 'EdDSA' ? 'eddsa' : 'es256'], { input: `${input}\n`, encoding: 'utf8' }).status;
}

describe('a security key enrolled and used over HTTP', () => {
  it('names its relying party to anyone, no API key needed: what a kiosk opens keys for', async () => {
    await expect(new VerifierClient(url).fidoRelyingParty()).resolves.toEqual({ rpId: RP, rpName: RP, origins: [`https://${RP}`], requireUserVerification: false });
  });

  it('enrolls (admin), signs in, is accepted by fido2-assert -V too, is blocked as lost, and a kiosk\'s cached blocklist refuses it', async () => {
    const key = await simKey();
    await key.unlock(PIN, { rpId: RP });
    const { credential, keyCredential } = await enrollSecurityKey(admin, key, { username: 'dana', label: 'door key', discoverable: true });
    expect(credential).toMatchObject({ username: 'dana', kind: 'fido', label: 'door key', rpId: RP, transports: ['usb'], challengePolicy: 'token-only', status: 'active' });
    expect(credential.fidoCredentialId).toBe(Buffer.from(keyCredential.credentialId).toString('base64url'));

    // By hand, to keep the assertion: challenge → the key signs → response.
    const client = new VerifierClient(url);
    const challenge = await client.fidoChallenge({ username: 'dana' });
    expect(challenge).toMatchObject({ rpId: RP, origin: `https://${RP}`, userVerification: 'required', allowCredentialIds: [credential.fidoCredentialId] });
    await key.unlock(PIN, { rpId: RP });
    const assertion = await getAssertion(key, challenge);
    const answer = { purpose: 'login' as const, credentialId: credential.fidoCredentialId!, authenticatorData: assertion.authenticatorData, clientDataJSON: assertion.clientDataJSON, signature: assertion.signature };
    await expect(client.fidoRespond(challenge.challengeId, answer)).resolves.toMatchObject({ username: 'dana', credentialId: credential.id, userVerified: true, signCount: assertion.signCount });
    expect(fido2AssertVerify(keyCredential, assertion)).toBe(0);
    const tampered = { ...assertion, signature: Uint8Array.from(assertion.signature).map((b, i, all) => (i === all.length - 1 ? b ^ 1 : b)) };
    expect(fido2AssertVerify(keyCredential, tampered)).not.toBe(0);
    // Replayed over HTTP: the one generic answer.
    await expect(client.fidoRespond(challenge.challengeId, answer)).rejects.toMatchObject({ status: 401, remoteCode: 'ERR_INVALID_CREDENTIALS' });

    // Discoverable: no username, the key's resident credential names the user.
    await key.unlock(PIN, { rpId: RP });
    await expect(signInWithSecurityKey(client, key)).resolves.toMatchObject({ username: 'dana', userVerified: true });
    // Without the PIN, a token-only login is refused (UV required).
    await expect(signInWithSecurityKey(client, key, { username: 'dana' })).rejects.toMatchObject({ status: 401, remoteCode: 'ERR_INVALID_CREDENTIALS' });
    expect((await verifier.audit({ subject: 'dana', action: 'challenge.login' })).at(-1)).toMatchObject({ reason: 'user_not_verified' });

    const kiosk = new VerifierClient(url);
    const fetcher = kiosk.blocklistFetcher();
    const cache = join(dir, 'blocklist.json');
    const blocklist = new Blocklist();
    expect(await blocklist.refresh(fetcher, cache)).toBe(true);
    expect(blocklist.isBlocked({ fidoCredentialIds: [assertion.credentialId] })).toBe(false);
    await helpdesk.request('POST', `/v1/admin/credentials/${credential.id}/block`, { reason: 'lost at the gym' });
    expect(await blocklist.refresh(fetcher, cache)).toBe(true);
    expect(fetcher.lastStatus).toBe(200);
    // The kiosk restarts with the verifier away: its cached list still refuses the key, by bytes or base64url.
    const cached = await Blocklist.fromFile(cache);
    expect(cached.isBlocked({ fidoCredentialIds: [assertion.credentialId] })).toBe(true);
    expect(cached.isBlocked({ fidoCredentialIds: [credential.fidoCredentialId!] })).toBe(true);
    expect(cached.isBlocked({ serial: 'another-card' })).toBe(false);
    expect(await blocklist.refresh(fetcher)).toBe(true);
    expect(fetcher.lastStatus).toBe(304);
    await expect(signInWithSecurityKey(client, key, { username: 'dana' })).rejects.toMatchObject({ status: 409, remoteCode: 'ERR_CREDENTIAL_STATE' });
  });

  it('self-service enrollment needs the password; password+token logins send it', async () => {
    const key = await simKey();
    await expect(enrollSecurityKey(new VerifierClient(url), key, { username: 'erik', password: 'not his password' })).rejects.toMatchObject({ status: 401, remoteCode: 'ERR_INVALID_CREDENTIALS' });
    await key.unlock(PIN, { rpId: RP });
    const { credential } = await enrollSecurityKey(new VerifierClient(url), key, { username: 'erik', password: PASSWORD, label: 'my key' });
    expect(credential).toMatchObject({ username: 'erik', kind: 'fido', challengePolicy: 'password+token' });
    const client = new VerifierClient(url);
    await expect(signInWithSecurityKey(client, key, { username: 'erik' })).rejects.toMatchObject({ status: 401, remoteCode: 'ERR_PASSWORD_REQUIRED' });
    await expect(signInWithSecurityKey(client, key, { username: 'erik', password: PASSWORD })).resolves.toMatchObject({ username: 'erik', userVerified: false });
    // Bad input is a 400, never a 500.
    await expect(client.request('POST', '/v1/fido/challenges', { purpose: 'login', credentialIds: ['not base64url!'] })).rejects.toMatchObject({ status: 400, remoteCode: 'ERR_INVALID_INPUT' });
    await expect(admin.request('POST', '/v1/admin/users/erik/fido/credentials', { challengeId: 'x', attestationObject: 'AAAA', clientDataJSON: 'AAAA', extra: 1 })).rejects.toMatchObject({ status: 400 });
    await expect(admin.request('POST', '/v1/admin/users/erik/fido/credentials', { challengeId: 'x', attestationObject: 'AAAA', clientDataJSON: 'AAAA' })).rejects.toMatchObject({ status: 422, remoteCode: 'ERR_CREDENTIAL_REFUSED' });
    await expect(new VerifierClient(url).fidoRegistrationOptions('erik')).rejects.toMatchObject({ status: 401, remoteCode: 'ERR_UNAUTHORIZED' });
  });
});
