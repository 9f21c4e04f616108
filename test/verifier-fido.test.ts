// Security keys (FIDO2/WebAuthn) with the verifier as a library: the simulated key (real CTAP2,
// real crypto) enrolled with `none` and `packed` self-attestation, then challenge-response. Every
// refusal is checked with its audit reason — forged signature, wrong rpId, wrong origin, wrong
// challenge, missing UP, UV required but absent, a replay, a counter that goes back (a cloned key:
// refused, audited, flagged for the helpdesk) — and the twenty-at-once race runs on SQLite and on
// PostgreSQL with two instances.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator, type SimulatedAuthenticatorOptions } from '../native-fixtures/fido/authenticator.js';
import { createCredential, getAssertion } from '../src/client/security-key.js';
import { SecurityKey, type FidoAssertion } from '../src/index.js';
import { CredentialRefusedError, InvalidCredentialsError, InvalidInputError } from '../src/verifier/errors.js';
import type { FidoChallengeRequest, IssuedFidoChallenge } from '../src/verifier/tokens/challenges.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { ENGINES, openVerifier, useVerifierStack } from './helpers/verifier.js';

const stack = useVerifierStack();
const PIN = '4831-pin';
const RP = 'login.example.com';
const IP = '198.51.100.7';
const PASSWORD = 'correct horse battery';
const keys: SecurityKey[] = [];
let verifier: Verifier;

async function simKey(options: SimulatedAuthenticatorOptions = {}) {
  const sim = new SimulatedAuthenticator({ pin: PIN, touch: 'auto', ...options });
  const key = await SecurityKey.open(sim.connect().host);
  keys.push(key);
  return { sim, key };
}

async function enroll(v: Verifier, key: SecurityKey, username: string, label = 'yubi', residentKey = false) {
  const options = await v.credentials.fidoRegistrationOptions(username);
  await key.unlock(PIN, { rpId: options.rp.id });
  const made = await createCredential(key, options, { residentKey });
  const credential = await v.credentials.registerFido('test', { username, challengeId: options.challengeId, attestationObject: made.attestationObject, clientDataJSON: made.clientDataJSON, label, transports: ['usb'] });
  return { credential, made, options };
}

/** A challenge and the key's answer to it (unlocked with the PIN unless told not to). */
async function signed(v: Verifier, key: SecurityKey, request: Partial<FidoChallengeRequest> = {}, unlock = true): Promise<{ issued: IssuedFidoChallenge; assertion: FidoAssertion }> {
  const issued = await v.challenges.issueFido({ purpose: 'login', clientIp: IP, ...request });
  if (unlock) await key.unlock(PIN, { rpId: issued.rpId });
  return { issued, assertion: await getAssertion(key, issued) };
}

function answer(v: Verifier, issued: IssuedFidoChallenge, a: FidoAssertion, over: { username?: string; password?: string; signature?: Uint8Array; authenticatorData?: Uint8Array } = {}) {
  return v.challenges.respondFido({
    challengeId: issued.challengeId,
    purpose: 'login',
    credentialId: Buffer.from(a.credentialId).toString('base64url'),
    authenticatorData: over.authenticatorData ?? a.authenticatorData,
    clientDataJSON: a.clientDataJSON,
    signature: over.signature ?? a.signature,
    clientIp: IP,
    ...(over.username ? { username: over.username } : {}),
    ...(over.password ? { password: over.password } : {}),
  });
}

async function lastLogin(v: Verifier, subject: string) {
  return (await v.audit({ subject, limit: 1000 })).filter((e) => e.action === 'challenge.login').at(-1);
}

async function refusedWith(v: Verifier, attempt: Promise<unknown>, reason: string, subject: string): Promise<void> {
  await expect(attempt).rejects.toBeInstanceOf(InvalidCredentialsError);
  expect(await lastLogin(v, subject)).toMatchObject({ result: 'failure', reason });
}

beforeAll(async () => {
  verifier = await openVerifier(await stack.newDatabase('sqlite'), stack.smtp, { fido: { rpId: RP }, lockout: { threshold: 3 } });
  for (const username of ['alice', 'bob', 'carol', 'dave']) await verifier.admin.create('test', { username, email: `${username}@example.test`, password: PASSWORD });
  for (const username of ['alice', 'carol', 'dave']) await verifier.admin.setChallengePolicy('test', username, 'token-only');
});
afterAll(async () => {
  await Promise.all(keys.splice(0).map((k) => k.close()));
  await verifier?.close();
});

describe('enrolling a security key', () => {
  it.each(['packed', 'none'] as const)('stores a %s-attested credential: id, COSE key, AAGUID, counter, transports, label', async (attestation) => {
    const username = attestation === 'packed' ? 'alice' : 'bob';
    const { key } = await simKey({ attestation });
    const { credential, made, options } = await enroll(verifier, key, username, `${attestation} key`);
    expect(options).toMatchObject({ rp: { id: RP }, origin: `https://${RP}`, user: { name: username }, excludeCredentialIds: [] });
    // The user handle is the user's opaque id, not the name.
    expect(Buffer.from(options.user.id, 'base64url').toString()).not.toContain(username);
    expect(credential).toMatchObject({
      username,
      kind: 'fido',
      label: `${attestation} key`,
      status: 'active',
      keyType: 'ec-p256',
      fidoCredentialId: Buffer.from(made.credentialId).toString('base64url'),
      aaguid: '746f6b65-6e67-6174-6500-0073696d0001',
      rpId: RP,
      transports: ['usb'],
      signCount: made.signCount,
      challengePolicy: username === 'alice' ? 'token-only' : 'password+token',
    });
    expect((await verifier.credentials.list(username)).map((c) => c.kind)).toEqual(['fido']);
    // The next registration excludes it: the key refuses to enroll twice for the user.
    const again = await verifier.credentials.fidoRegistrationOptions(username);
    expect(again.excludeCredentialIds).toEqual([credential.fidoCredentialId]);
    await key.unlock(PIN, { rpId: RP });
    await expect(createCredential(key, again)).rejects.toMatchObject({ ctap: { statusName: 'CTAP2_ERR_CREDENTIAL_EXCLUDED' } });
  });

  it('refuses a replayed registration, another user\'s challenge, a wrong origin, and leaves the audit reason', async () => {
    const { key } = await simKey();
    const options = await verifier.credentials.fidoRegistrationOptions('carol');
    await key.unlock(PIN, { rpId: RP });
    const made = await createCredential(key, { ...options, origin: 'https://phish.example' });
    const register = (username: string, challengeId = options.challengeId) =>
      verifier.credentials.registerFido('test', { username, challengeId, attestationObject: made.attestationObject, clientDataJSON: made.clientDataJSON });
    await expect(register('carol')).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_REFUSED', reason: 'wrong_origin' });
    await expect(register('carol')).rejects.toMatchObject({ reason: 'challenge_replayed' });
    const forDave = await verifier.credentials.fidoRegistrationOptions('dave');
    await expect(register('carol', forDave.challengeId)).rejects.toMatchObject({ reason: 'wrong_user' });
    const forCarol = await verifier.credentials.fidoRegistrationOptions('carol');
    await expect(register('carol', forCarol.challengeId)).rejects.toMatchObject({ reason: 'wrong_challenge' });
    const reasons = (await verifier.audit({ subject: 'carol', action: 'credential.enroll' })).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['wrong_origin', 'challenge_replayed', 'wrong_user', 'wrong_challenge']));
    await expect(register('carol', 'no-such-challenge')).rejects.toBeInstanceOf(CredentialRefusedError);
    await expect(verifier.credentials.registerFido('test', { username: 'carol', challengeId: forCarol.challengeId, attestationObject: made.attestationObject, clientDataJSON: made.clientDataJSON, transports: ['carrier-pigeon'] })).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe('signing in with a security key', () => {
  it('accepts a fresh assertion with UV for a token-only user, by username, by credential id, and discoverable; the counter grows', async () => {
    const { key } = await simKey();
    // Discoverable (resident): the key finds it without being told its id.
    const { credential } = await enroll(verifier, key, 'dave', 'yubi', true);
    const id = credential.fidoCredentialId!;
    let last = credential.signCount!;
    for (const request of [{ username: 'dave' }, { credentialIds: [id] }, {}]) {
      const { issued, assertion } = await signed(verifier, key, request);
      expect(issued).toMatchObject({ rpId: RP, userVerification: 'required', passwordRequired: false });
      const result = await answer(verifier, issued, assertion);
      expect(result).toMatchObject({ username: 'dave', credentialId: credential.id, userVerified: true });
      expect(result.signCount).toBeGreaterThan(last);
      last = result.signCount;
    }
    expect((await verifier.credentials.get(credential.id)).signCount).toBe(last);
  });

  it('password+token: the password is checked, UV only preferred', async () => {
    const { key } = await simKey();
    await enroll(verifier, key, 'bob', 'second');
    const { issued, assertion } = await signed(verifier, key, { username: 'bob', credentialIds: [(await verifier.credentials.list('bob')).at(-1)!.fidoCredentialId!] }, false);
    expect(issued).toMatchObject({ userVerification: 'preferred', passwordRequired: true });
    await expect(answer(verifier, issued, assertion, { username: 'bob', password: PASSWORD })).resolves.toMatchObject({ username: 'bob', userVerified: false });
    const again = await signed(verifier, key, { username: 'bob', credentialIds: issued.allowCredentialIds }, false);
    await expect(answer(verifier, again.issued, again.assertion, { username: 'bob' })).rejects.toMatchObject({ code: 'ERR_PASSWORD_REQUIRED' });
  });

  it('refuses forged signature, wrong rpId, wrong origin, wrong challenge, missing UP, absent UV and a replay, each with its reason', async () => {
    const { key } = await simKey();
    await enroll(verifier, key, 'carol');
    const who = { username: 'carol' };

    const forged = await signed(verifier, key, who);
    const signature = Uint8Array.from(forged.assertion.signature);
    signature[signature.length - 1]! ^= 0x01;
    await refusedWith(verifier, answer(verifier, forged.issued, forged.assertion, { signature }), 'bad_signature', 'carol');

    // An answer for another relying party: the rpIdHash in authData is not SHA-256 of ours.
    const otherRp = await signed(verifier, key, who);
    const authenticatorData = Uint8Array.from(otherRp.assertion.authenticatorData);
    authenticatorData[0]! ^= 0xff;
    await refusedWith(verifier, answer(verifier, otherRp.issued, otherRp.assertion, { authenticatorData }), 'wrong_rp_id', 'carol');

    const phished = await verifier.challenges.issueFido({ ...who, purpose: 'login', clientIp: IP });
    await key.unlock(PIN, { rpId: RP });
    await refusedWith(verifier, answer(verifier, phished, await getAssertion(key, { ...phished, origin: 'https://login.example.com.phish.example' })), 'wrong_origin', 'carol');

    const first = await verifier.challenges.issueFido({ ...who, purpose: 'login', clientIp: IP });
    const second = await verifier.challenges.issueFido({ ...who, purpose: 'login', clientIp: IP });
    await key.unlock(PIN, { rpId: RP });
    await refusedWith(verifier, answer(verifier, second, await getAssertion(key, first)), 'wrong_challenge', 'carol');

    const noTouch = await verifier.challenges.issueFido({ ...who, purpose: 'login', clientIp: IP });
    await key.unlock(PIN, { rpId: RP });
    const silent = await key.signChallenge({ rpId: RP, challenge: Buffer.from(noTouch.challenge, 'base64url'), credentialIds: noTouch.allowCredentialIds.map((i) => Buffer.from(i, 'base64url')), userPresence: false });
    expect(silent.userPresent).toBe(false);
    key.lock();
    await refusedWith(verifier, answer(verifier, noTouch, silent), 'user_not_present', 'carol');

    // token-only: the PIN is the second factor, so an assertion without UV is refused.
    const noPin = await signed(verifier, key, who, false);
    expect(noPin.assertion.userVerified).toBe(false);
    await refusedWith(verifier, answer(verifier, noPin.issued, noPin.assertion), 'user_not_verified', 'carol');

    const good = await signed(verifier, key, who);
    await expect(answer(verifier, good.issued, good.assertion)).resolves.toMatchObject({ username: 'carol' });
    await refusedWith(verifier, answer(verifier, good.issued, good.assertion), 'challenge_replayed', 'carol');
    // Only the forged signature counted on the credential.
    expect((await verifier.credentials.list('carol'))[0]).toMatchObject({ locked: false, status: 'active' });
  });

  it('a counter that goes back (a cloned key) is refused, audited and flagged; the helpdesk unlock lets the key in again', async () => {
    const { sim, key } = await simKey();
    await verifier.admin.create('test', { username: 'erin', email: 'erin@example.test', password: PASSWORD });
    await verifier.admin.setChallengePolicy('test', 'erin', 'token-only');
    const { credential } = await enroll(verifier, key, 'erin');
    for (let i = 0; i < 3; i++) {
      const { issued, assertion } = await signed(verifier, key, { username: 'erin' });
      await answer(verifier, issued, assertion);
    }
    const stored = (await verifier.credentials.get(credential.id)).signCount!;
    // What a copy of the credential shows: it counts on from where it was copied.
    sim.setCounter(stored - 2);
    const clone = await signed(verifier, key, { username: 'erin' });
    expect(clone.assertion.signCount).toBeLessThanOrEqual(stored);
    await refusedWith(verifier, answer(verifier, clone.issued, clone.assertion), 'counter_not_increased', 'erin');
    expect(await verifier.credentials.get(credential.id)).toMatchObject({ flagReason: 'counter_not_increased', signCount: stored, status: 'active' });
    expect((await verifier.audit({ subject: 'erin', action: 'credential.flag' })).at(-1)).toMatchObject({ reason: 'counter_not_increased', detail: { stored: String(stored), received: String(clone.assertion.signCount) } });

    // Flagged, even a key ahead again is refused until the helpdesk has looked.
    sim.setCounter(stored + 10);
    const ahead = await signed(verifier, key, { username: 'erin' });
    await refusedWith(verifier, answer(verifier, ahead.issued, ahead.assertion), 'credential_flagged', 'erin');
    await verifier.credentials.unlock('helpdesk', credential.id);
    expect((await verifier.credentials.get(credential.id)).flagReason).toBeUndefined();
    const after = await signed(verifier, key, { username: 'erin' });
    await expect(answer(verifier, after.issued, after.assertion)).resolves.toMatchObject({ signCount: stored + 12 });
  });

  it('a key blocked as lost: its challenges die, it is on the blocklist by credential id, and it gets no new challenge', async () => {
    const { key } = await simKey();
    await verifier.admin.create('test', { username: 'frank', email: 'frank@example.test', password: PASSWORD });
    await verifier.admin.setChallengePolicy('test', 'frank', 'token-only');
    const { credential } = await enroll(verifier, key, 'frank');
    const pending = await signed(verifier, key, { username: 'frank' });
    await verifier.credentials.apply('helpdesk', credential.id, 'block', 'lost on the train');
    await refusedWith(verifier, answer(verifier, pending.issued, pending.assertion), 'credential_blocked', 'frank');
    expect((await verifier.credentials.blocklist()).fidoCredentialIds).toContain(credential.fidoCredentialId);
    await expect(verifier.challenges.issueFido({ username: 'frank', purpose: 'login', clientIp: IP })).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_STATE' });
    // A discoverable answer by the blocked key is refused at the answer.
    const open = await verifier.challenges.issueFido({ purpose: 'login', clientIp: IP });
    await key.unlock(PIN, { rpId: RP });
    await refusedWith(verifier, answer(verifier, open, await getAssertion(key, { ...open, allowCredentialIds: [credential.fidoCredentialId!] })), 'credential_blocked', 'frank');
    await verifier.credentials.delete('admin', credential.id);
    expect((await verifier.credentials.blocklist()).fidoCredentialIds).not.toContain(credential.fidoCredentialId);
  });

  it('refuses relying-party settings that cannot work', async () => {
    const database = await stack.newDatabase('sqlite');
    for (const fido of [{ rpId: 'https://login.example.com' }, { rpId: '192.0.2.1' }, { rpId: RP, origins: ['https://evil.example'] }, { rpId: RP, origins: ['http://login.example.com'] }, { rpId: RP, origins: [`https://${RP}/path`] }, { rpId: RP, origins: [] }]) {
      await expect(openVerifier(database, stack.smtp, { fido })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    }
  });
});

describe.each(ENGINES)('the replay race with a security key on %s', (engine) => {
  it('twenty copies of one response at once, across two verifier instances: exactly one succeeds, and the counter is that one\'s', async () => {
    const database = await stack.newDatabase(engine);
    const first = await openVerifier(database, stack.smtp, { fido: { rpId: RP } });
    const second = engine === 'postgres' ? await openVerifier(database, stack.smtp, { fido: { rpId: RP } }) : first;
    try {
      await first.admin.create('test', { username: 'racer', email: 'racer@example.test', password: PASSWORD });
      await first.admin.setChallengePolicy('test', 'racer', 'token-only');
      const { key } = await simKey();
      const { credential } = await enroll(first, key, 'racer');
      const { issued, assertion } = await signed(first, key, { username: 'racer' });
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => answer(i % 2 === 0 ? first : second, issued, assertion)));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const reasons = (await first.audit({ subject: 'racer', action: 'challenge.login' })).map((e) => e.reason);
      expect(reasons.filter((r) => r === 'ok')).toHaveLength(1);
      expect(reasons.filter((r) => r === 'challenge_replayed')).toHaveLength(19);
      expect((await second.credentials.get(credential.id)).signCount).toBe(assertion.signCount);

      // Twenty different answers, signed in order and sent at once: the counter never goes back.
      const answers: Array<{ issued: IssuedFidoChallenge; assertion: FidoAssertion }> = [];
      for (let i = 0; i < 20; i++) answers.push(await signed(first, key, { username: 'racer' }));
      const results = await Promise.allSettled(answers.reverse().map((a, i) => answer(i % 2 === 0 ? first : second, a.issued, a.assertion)));
      const accepted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.signCount] : []));
      expect(accepted.length).toBeGreaterThan(0);
      // What is stored is the highest accepted: no later, lower answer moved it back.
      expect((await first.credentials.get(credential.id)).signCount).toBe(Math.max(...accepted));
    } finally {
      if (second !== first) await second.close();
      await first.close();
    }
  });
});

