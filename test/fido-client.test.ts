// tokengate's FIDO2 client against the simulated key (native-fixtures/fido/), in memory: PIN
// unlock with the retries the key reports, the power-cycle block, the blocked PIN, the final-try
// guard, PIN protocols 2 and 1, permission tokens and getPinToken, enroll and sign checked with
// node:crypto, the key's faults (busy, other channels, bad sequence, non-canonical CBOR, unplug),
// touch prompts on UPNEEDED only, and cancel leaving the key free.
import { createHash, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator, type SimulatedAuthenticatorOptions } from '../native-fixtures/fido/authenticator.js';
import { Ctap2, CtapHidConnection, SecurityKey, type FidoAssertion, type EnrolledCredential } from '../src/index.js';

const PIN = '4831-pin';
const RP = 'door.example.com';
const open: SecurityKey[] = [];

async function keyWith(options: SimulatedAuthenticatorOptions = {}) {
  const sim = new SimulatedAuthenticator({ pin: PIN, ...options });
  const key = await SecurityKey.open(sim.connect().host);
  open.push(key);
  return { sim, key };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((k) => k.close()));
});

function codeOf(p: Promise<unknown>) {
  return p.then(
    () => 'resolved',
    (err: { code?: string }) => err.code ?? String(err),
  );
}

function checkAssertion(credential: EnrolledCredential, a: FidoAssertion): boolean {
  const signed = Buffer.concat([a.authenticatorData, createHash('sha256').update(a.clientDataJSON).digest()]);
  return verify(credential.algorithm === 'EdDSA' ? null : 'sha256', signed, credential.publicKey, a.signature);
}

const challenge = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32)));

describe('SecurityKey PIN unlock against the simulated key', () => {
  it('unlocks with the right PIN; a wrong one says the retries the key reports, and the right one resets them', async () => {
    const { sim, key } = await keyWith();
    expect(await key.pinStatus()).toMatchObject({ protocol: 'ctap2', pinSet: true, retriesLeft: 8, authBlocked: false, blocked: false, source: 'token' });
    await expect(key.unlock('wrong-pin', { rpId: RP })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 7, finalTry: false });
    expect(sim.retriesLeft).toBe(7);
    await key.unlock(PIN, { rpId: RP });
    expect(key.unlocked).toBe(true);
    expect((await key.pinStatus()).retriesLeft).toBe(8);
  });

  it('stops at the power-cycle block after three wrong PINs, and takes the PIN again once re-plugged', async () => {
    const { sim, key } = await keyWith();
    for (const left of [7, 6]) await expect(key.unlock('nope-nope', { rpId: RP })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: left });
    await expect(key.unlock('nope-nope', { rpId: RP })).rejects.toMatchObject({ code: 'ERR_PIN_AUTH_BLOCKED', retriesLeft: 5 });
    expect(await key.pinStatus()).toMatchObject({ authBlocked: true, retriesLeft: 5 });
    // Refused without sending the PIN: the key could not take it, and no try is spent.
    await expect(key.unlock(PIN, { rpId: RP })).rejects.toMatchObject({ code: 'ERR_PIN_AUTH_BLOCKED' });
    expect(sim.retriesLeft).toBe(5);
    await key.close();
    const replugged = await SecurityKey.open(sim.plug().host);
    open.push(replugged);
    await replugged.unlock(PIN, { rpId: RP });
    expect(sim.retriesLeft).toBe(8);
  });

  it('never assumes the count: a key with 2 retries refuses the final try unless allowed, then blocks', async () => {
    const { sim, key } = await keyWith({ retries: 2 });
    await expect(key.unlock('nope-nope', { rpId: RP })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 1, finalTry: true });
    await expect(key.unlock('nope-nope', { rpId: RP })).rejects.toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    expect(sim.retriesLeft).toBe(1);
    await expect(key.unlock('nope-nope', { rpId: RP, allowFinalTry: true })).rejects.toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: true });
    expect(await key.pinStatus()).toMatchObject({ blocked: true, retriesLeft: 0 });
    await expect(key.unlock(PIN, { rpId: RP, allowFinalTry: true })).rejects.toMatchObject({ code: 'ERR_PIN_LOCKED' });
  });

  it.each([
    ['protocol 2 with a permission token', { pinProtocols: [2, 1] as (1 | 2)[] }, 2],
    ['protocol 1 only', { pinProtocols: [1] as (1 | 2)[] }, 1],
    ['a CTAP 2.0 key (getPinToken, no permissions)', { pinUvAuthToken: false }, 2],
  ])('signs with the PIN verified over %s', async (_, options, protocol) => {
    const { sim, key } = await keyWith(options);
    expect(key.pinProtocol).toBe(protocol);
    await key.unlock(PIN, { rpId: RP });
    const credential = await key.enroll({ rpId: RP, user: { id: 'user-1', name: 'ada' } });
    expect(credential).toMatchObject({ algorithm: 'ES256', userVerified: true, attestationFormat: 'packed' });
    // A CTAP 2.1 key forgets the unlock after a touch; a 2.0 key's PIN token lasts.
    expect(key.unlocked).toBe(key.info?.options.pinUvAuthToken !== true);
    if (!key.unlocked) await key.unlock(PIN, { rpId: RP });
    const a = await key.signChallenge({ rpId: RP, challenge: challenge(), credentialIds: [credential.credentialId] });
    expect(a).toMatchObject({ userPresent: true, userVerified: true });
    expect(checkAssertion(credential, a)).toBe(true);
    expect(Buffer.from(a.credentialId).equals(Buffer.from(sim.credentials[0]!.id))).toBe(true);
    expect(sim.lastRequest?.command).toBe(0x02);
  });

  it('changes and sets PINs; a wrong current PIN counts; a PIN the rules refuse costs nothing', async () => {
    const { sim, key } = await keyWith();
    await expect(key.changePin('nope-nope', 'new-pin-1')).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 7 });
    await expect(key.changePin(PIN, 'abc')).rejects.toMatchObject({ code: 'ERR_PIN_POLICY' });
    expect(sim.retriesLeft).toBe(7);
    await key.changePin(PIN, 'new-pin-1');
    await expect(key.unlock(PIN, { rpId: RP })).rejects.toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    await key.unlock('new-pin-1', { rpId: RP });
    const fresh = await keyWith({ pin: undefined });
    expect((await fresh.key.pinStatus()).pinSet).toBe(false);
    await expect(fresh.key.unlock(PIN, { rpId: RP })).rejects.toMatchObject({ code: 'ERR_PIN_NOT_SET' });
    await fresh.key.setPin('first-pin');
    await fresh.key.unlock('first-pin', { rpId: RP });
    expect(fresh.sim.pinSet).toBe(true);
  });
});

describe('SecurityKey credentials', () => {
  it('enrolls ES256 and EdDSA credentials whose assertions verify, with a counter that grows', async () => {
    const { key } = await keyWith({ pin: undefined });
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const credential = await key.enroll({ rpId: RP, user: { id: `u-${alg}` }, algorithms: [alg] });
      expect(credential.algorithm).toBe(alg);
      const first = await key.signChallenge({ rpId: RP, challenge: challenge(), credentialIds: [credential.credentialId] });
      const second = await key.signChallenge({ rpId: RP, challenge: challenge(), credentialIds: [credential.credentialId] });
      expect(checkAssertion(credential, first) && checkAssertion(credential, second)).toBe(true);
      expect(second.signCount).toBeGreaterThan(first.signCount);
      const tampered = { ...second, clientDataJSON: second.clientDataJSON.replace('webauthn.get', 'webauthn.gex') };
      expect(checkAssertion(credential, tampered)).toBe(false);
    }
  });

  it('wants the PIN to enroll a key that has one; signs without it with UV clear; says NoCredentials for an unknown credential', async () => {
    const { key } = await keyWith();
    expect(await codeOf(key.enroll({ rpId: RP, user: { id: 'u' } }))).toBe('ERR_NOT_LOGGED_IN');
    await key.unlock(PIN, { rpId: RP });
    const credential = await key.enroll({ rpId: RP, user: { id: 'u' } });
    expect(credential.userVerified).toBe(true);
    expect(key.unlocked).toBe(false);
    const a = await key.signChallenge({ rpId: RP, challenge: challenge(), credentialIds: [credential.credentialId] });
    expect(a.userVerified).toBe(false);
    expect(await codeOf(key.signChallenge({ rpId: RP, challenge: challenge(), credentialIds: [Buffer.alloc(32, 9)] }))).toBe('ERR_NO_CREDENTIALS');
    expect(await codeOf(key.signChallenge({ rpId: 'other.example', challenge: challenge(), credentialIds: [credential.credentialId] }))).toBe('ERR_NO_CREDENTIALS');
  });

  it('keeps a CTAP 2.1 unlock through silent assertions (up=false, UV set); the first touch uses it up', async () => {
    const { key } = await keyWith();
    await key.unlock(PIN, { rpId: RP });
    const credential = await key.enroll({ rpId: RP, user: { id: 'u' } });
    await key.unlock(PIN, { rpId: RP });
    for (let i = 0; i < 3; i++) {
      const a = await key.signChallenge({ rpId: RP, challenge: challenge(), credentialIds: [credential.credentialId], userPresence: false });
      expect(a).toMatchObject({ userPresent: false, userVerified: true });
      expect(checkAssertion(credential, a)).toBe(true);
      expect(key.unlocked).toBe(true);
    }
    const touched = await key.signChallenge({ rpId: RP, challenge: challenge(), credentialIds: [credential.credentialId] });
    expect(touched).toMatchObject({ userPresent: true, userVerified: true });
    expect(key.unlocked).toBe(false);
  });

  it('names the credentials it holds for an rpId without a PIN or a touch (a silent getAssertion): discoverable ones, an allow list\'s, none elsewhere', async () => {
    const { sim, key } = await keyWith();
    await key.unlock(PIN, { rpId: RP });
    const older = await key.enroll({ rpId: RP, user: { id: 'u1' }, residentKey: true });
    await key.unlock(PIN, { rpId: RP });
    const newer = await key.enroll({ rpId: RP, user: { id: 'u2' }, residentKey: true });
    await key.unlock(PIN, { rpId: RP });
    const plain = await key.enroll({ rpId: RP, user: { id: 'u3' } });
    let touches = 0;
    sim.on('up-needed', () => touches++);
    const retries = sim.retriesLeft;
    const hex = (ids: Uint8Array[]) => ids.map((id) => Buffer.from(id).toString('hex'));
    // Discoverable: every one, newest first (getNextAssertion for the rest); the non-discoverable one only by its id.
    expect(hex(await key.probeCredentials({ rpId: RP }))).toEqual(hex([newer.credentialId, older.credentialId]));
    expect(hex(await key.probeCredentials({ rpId: RP, credentialIds: [Buffer.alloc(32, 9), plain.credentialId] }))).toEqual(hex([plain.credentialId]));
    expect(await key.probeCredentials({ rpId: RP, credentialIds: [Buffer.alloc(32, 9)] })).toEqual([]);
    expect(await key.probeCredentials({ rpId: 'other.example' })).toEqual([]);
    expect(touches).toBe(0);
    expect(sim.retriesLeft).toBe(retries);
    expect(key.unlocked).toBe(false);
  });

  it('falls back to U2F for a key without CTAP2: no PIN, and assertions of the same shape that verify', async () => {
    const { key } = await keyWith({ ctap1Only: true });
    expect(key.protocol).toBe('u2f');
    expect(await key.pinStatus()).toMatchObject({ protocol: 'u2f', pinSet: false, retriesLeft: undefined });
    await expect(key.unlock(PIN, { rpId: RP })).rejects.toMatchObject({ code: 'ERR_FIDO_NOT_SUPPORTED' });
    const credential = await key.enroll({ rpId: RP, user: { id: 'u' } });
    const a = await key.signChallenge({ rpId: RP, challenge: challenge(), credentialIds: [credential.credentialId] });
    expect(a.userPresent).toBe(true);
    expect(checkAssertion(credential, a)).toBe(true);
    // A U2F key has no silent, discoverable look-up: nothing learned.
    expect(await key.probeCredentials({ rpId: RP })).toEqual([]);
  });
});

describe('SecurityKey and a key that misbehaves', () => {
  it('retries CHANNEL_BUSY, ignores other channels\' frames, and refuses a bad sequence and non-canonical CBOR', async () => {
    const { sim, key } = await keyWith();
    sim.faults.busyNext = 2;
    expect((await key.pinStatus()).retriesLeft).toBe(8);
    sim.faults.foreignFramesNext = 3;
    expect((await key.pinStatus()).retriesLeft).toBe(8);
    sim.faults.nonCanonicalNext = 1;
    expect(await codeOf(key.pinStatus())).toBe('ERR_FIDO_PROTOCOL');
    // getInfo's answer spans continuation frames, where a sequence number can be wrong.
    const ctap2 = new Ctap2(await CtapHidConnection.open(sim.connect('raw').host));
    sim.faults.badSequenceNext = 1;
    expect(await codeOf(ctap2.getInfo())).toBe('ERR_FIDO_PROTOCOL');
    expect((await ctap2.getInfo()).versions).toContain('FIDO_2_1');
    await ctap2.connection.close();
    // And the key is still usable afterwards.
    expect((await key.pinStatus()).retriesLeft).toBe(8);
  });

  it('says DeviceBusy when the key stays busy', async () => {
    const { sim, key } = await keyWith();
    sim.faults.busyNext = 50;
    expect(await codeOf(key.pinStatus())).toBe('ERR_DEVICE_BUSY');
  });

  it('tells TokenRemoved when the key is pulled out mid-request', async () => {
    const { sim, key } = await keyWith({ touch: 'manual', pin: undefined });
    const pending = codeOf(key.enroll({ rpId: RP, user: { id: 'u' } }));
    await new Promise((resolve) => sim.once('up-needed', resolve));
    sim.unplug();
    expect(await pending).toBe('ERR_TOKEN_REMOVED');
  });

  it('prompts for a touch once, on UPNEEDED only — not during PROCESSING', async () => {
    const { sim, key } = await keyWith({ touch: 'manual', processingMs: 250, pin: undefined });
    let prompts = 0;
    let upNeededFirst = false;
    sim.once('up-needed', () => {
      upNeededFirst = prompts === 0;
      setTimeout(() => sim.touch(), 150);
    });
    await key.enroll({ rpId: RP, user: { id: 'u' }, onTouch: () => prompts++ });
    expect(upNeededFirst).toBe(true);
    expect(prompts).toBe(1);
  });

  it('cancels a request waiting for a touch: CTAPHID_CANCEL, the key answers, and the key is free at once', async () => {
    const { sim, key } = await keyWith({ touch: 'manual', pin: undefined });
    const controller = new AbortController();
    sim.once('up-needed', () => controller.abort());
    expect(await codeOf(key.enroll({ rpId: RP, user: { id: 'u' }, signal: controller.signal }))).toBe('ERR_OPERATION_CANCELLED');
    expect(sim.waitingForTouch).toBe(false);
    expect((await key.pinStatus()).pinSet).toBe(false);
  });

  it('gives up on a key nobody touches: UserPresenceTimeout, the key told', async () => {
    const { sim, key } = await keyWith({ touch: 'never', touchTimeoutMs: 60_000, pin: undefined });
    expect(await codeOf(key.enroll({ rpId: RP, user: { id: 'u' }, timeoutMs: 300 }))).toBe('ERR_USER_PRESENCE_TIMEOUT');
    expect(sim.waitingForTouch).toBe(false);
  });
});
