// One HardwareToken shape for a SoftHSM card and a simulated security key: the same visit code
// (status, a wrong PIN with the tries left, the right PIN, a signed challenge that verifies) runs
// on both without asking which it holds; and one watcher sees both arrive and leave.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator } from '../native-fixtures/fido/authenticator.js';
import { X509Certificate } from '../src/algorithms/x509.js';
import {
  FidoHardwareToken,
  HardwareTokenWatcher,
  Pkcs11HardwareToken,
  Pkcs11Module,
  SecurityKey,
  verifySignature,
  type FidoDeviceInfo,
  type HardwareSignature,
  type HardwareToken,
  type HardwareTokenArrival,
} from '../src/index.js';
import { DEFAULT_USER_PIN } from '../native-fixtures/softhsm/softhsm.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'door card' }] });
const KEY_PIN = '9753-key';
const RP = 'door.example.com';
let mod: Pkcs11Module;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath, { pinCounting: 'token' });
});
afterAll(() => mod?.close());

/** What a door does with whatever it is handed — no branch on the kind. */
async function visit(token: HardwareToken, pin: string, challenge: Uint8Array) {
  const before = await token.status();
  const wrong = await token.unlock('0000-wrong').then(
    () => undefined,
    (err: { code: string; retriesLeft?: number }) => err,
  );
  await token.unlock(pin);
  const signed = await token.signChallenge({ challenge });
  return { before, wrong, signed };
}

describe('one HardwareToken shape', () => {
  it('a SoftHSM card and a simulated key go through the same visit, and both signatures verify', async () => {
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    // The card: its certificate says who can check the signature.
    await using card = new Pkcs11HardwareToken(mod.token({ label: 'door card' }));
    expect(card.identity).toMatchObject({ kind: 'pkcs11', label: 'door card' });
    const c = await visit(card, DEFAULT_USER_PIN, challenge);
    expect(c.before).toMatchObject({ blocked: false, authBlocked: false, countedBy: 'token' });
    expect(c.wrong).toMatchObject({ code: 'ERR_PIN_INCORRECT' });
    expect(checkCard(c.signed, challenge)).toBe(true);

    // The key: enrolled once for the relying party first.
    const sim = new SimulatedAuthenticator({ pin: KEY_PIN });
    await using key = new FidoHardwareToken(await SecurityKey.open(sim.connect().host), { rpId: RP, label: 'sim key' });
    await key.unlock(KEY_PIN);
    // A discoverable credential: the door need not say which one (a verifier's challenge may).
    const credential = await key.key.enroll({ rpId: RP, user: { id: 'dana' }, residentKey: true });
    const k = await visit(key, KEY_PIN, challenge);
    expect(k.before).toMatchObject({ pinStatus: 'ok', retriesLeft: 8, blocked: false, authBlocked: false, countedBy: 'token' });
    expect(k.wrong).toMatchObject({ code: 'ERR_PIN_INCORRECT', retriesLeft: 7 });
    expect(k.signed.kind).toBe('fido');
    if (k.signed.kind !== 'fido') return;
    const a = k.signed.assertion;
    expect(a.userVerified).toBe(true);
    const signedBytes = Buffer.concat([a.authenticatorData, createHash('sha256').update(a.clientDataJSON).digest()]);
    expect(verify('sha256', signedBytes, credential.publicKey, a.signature)).toBe(true);
  });

  it('says a key\'s power-cycle block and a blocked PIN in the same words as a card\'s', async () => {
    const sim = new SimulatedAuthenticator({ pin: KEY_PIN, retries: 4 });
    await using key = new FidoHardwareToken(await SecurityKey.open(sim.connect().host), { rpId: RP });
    for (let i = 0; i < 3; i++) await key.unlock('0000-wrong').catch(() => {});
    expect(await key.status()).toMatchObject({ pinStatus: 'authBlocked', authBlocked: true, blocked: false, retriesLeft: 1 });
    await key.close();
    await using again = new FidoHardwareToken(await SecurityKey.open(sim.plug().host), { rpId: RP });
    expect(await again.status()).toMatchObject({ pinStatus: 'finalTry', retriesLeft: 1 });
    await expect(again.unlock('0000-wrong')).rejects.toMatchObject({ code: 'ERR_FINAL_TRY_REFUSED' });
    await expect(again.unlock('0000-wrong', { allowFinalTry: true })).rejects.toMatchObject({ code: 'ERR_PIN_LOCKED', lockedNow: true });
    expect(await again.status()).toMatchObject({ pinStatus: 'locked', blocked: true, retriesLeft: 0 });
  });
});

describe('HardwareTokenWatcher', () => {
  it('sees a card already there and a key plugged in, opens either, and sees the key pulled out at once', async () => {
    const sim = new SimulatedAuthenticator({ pin: KEY_PIN });
    let plugged = false;
    const device: FidoDeviceInfo = { path: 'memory:door-key', vendorId: 0x1209, productId: 1, displayName: 'Simulated key', transport: 'memory' };
    await using watcher = new HardwareTokenWatcher({
      modules: [mod],
      fido: {
        rpId: RP,
        source: { list: async () => (plugged ? [device] : []) },
        openTransport: async (_d, onRemoved) => {
          const pair = sim.connect('door-key');
          pair.device.onReport(() => {});
          sim.once('unplugged', onRemoved);
          return pair.host;
        },
      },
      intervalMs: 20,
      emitInitial: true,
    });
    const cardArrival = await arrivalOf(watcher, 'pkcs11');
    plugged = true;
    const keyArrival = await arrivalOf(watcher, 'fido');
    expect(keyArrival.identity).toMatchObject({ label: 'Simulated key', path: 'memory:door-key', instance: 1 });
    await using key = await keyArrival.open();
    expect((await key.status()).retriesLeft).toBe(8);
    await using card = await cardArrival.open();
    expect(card.identity.label).toBe('door card');
    // Pulled out: the transport's failure tells the watcher before any poll could.
    const removed = once(watcher, 'removed');
    sim.unplug();
    const [identity] = (await removed) as [{ kind: string; path: string }];
    expect(identity).toMatchObject({ kind: 'fido', path: 'memory:door-key' });
    plugged = false;
  });
});

/** Checked with the certificate the fixture made for the key that signed (by its label). */
function checkCard(signed: HardwareSignature, challenge: Uint8Array): boolean {
  if (signed.kind !== 'pkcs11') return false;
  const pem = hsm.current.tokens[0]!.keys.find((k) => k.label === signed.key.label)!.certificatePem;
  const publicKey = createPublicKey(new X509Certificate(pem).toString('pem'));
  return verifySignature(publicKey, challenge, signed.signature, { algorithm: signed.algorithm });
}

/** The first arrival of that kind, as an event, with a deadline. */
function arrivalOf(watcher: HardwareTokenWatcher, kind: 'pkcs11' | 'fido', deadlineMs = 5_000): Promise<HardwareTokenArrival> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} arrival within ${deadlineMs} ms`)), deadlineMs);
    const listener = (a: HardwareTokenArrival) => {
      if (a.identity.kind !== kind) return;
      clearTimeout(timer);
      watcher.off('inserted', listener);
      resolve(a);
    };
    watcher.on('inserted', listener);
  });
}
