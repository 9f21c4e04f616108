// signInWithToken and enrollToken take the one HardwareToken shape: a SoftHSM card
// (Pkcs11HardwareToken) and a simulated security key (FidoHardwareToken, real CTAP2 in memory) are
// enrolled with a served verifier and sign in through the same calls, and the answer says who
// logged in. A key opened for another relying party than the verifier's is refused before its PIN
// or a touch is spent; a card not unlocked is refused before the verifier is asked; and the
// Session form of both calls still works beside the new one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedAuthenticator } from '../native-fixtures/fido/authenticator.js';
import { createSelfSignedCertificate, FidoHardwareToken, Pkcs11HardwareToken, Pkcs11Module, SecurityKey, type HardwareToken } from '../src/index.js';
import { enrollToken, RelyingPartyMismatchError, signInWithToken, VerifierClient, type SignedIn } from '../src/client/index.js';
import type { Verifier } from '../src/verifier/verifier.js';
import { useServedVerifier } from './helpers/served-verifier.js';
import { useSoftHsm } from './helpers/softhsm.js';

const KEY_PIN = '4831-pin';
const RP = 'door.example.com';
const hsm = useSoftHsm({ tokens: [{ label: 'desk card', keys: [] }] });
const served = useServedVerifier({ fido: { rpId: RP } });
let verifier: Verifier;
let admin: VerifierClient;
let desk: VerifierClient;
let mod: Pkcs11Module;
let card: Pkcs11HardwareToken;
let sim: SimulatedAuthenticator;
let key: FidoHardwareToken;
const users: Record<'carla' | 'kai', { id: string; credentialId?: string }> = { carla: { id: '' }, kai: { id: '' } };

beforeAll(async () => {
  ({ verifier } = served.current);
  admin = new VerifierClient(served.current.url, { apiKey: (await verifier.apiKeys.create('test', 'admin', ['admin'])).key });
  desk = new VerifierClient(served.current.url);
  for (const username of ['carla', 'kai'] as const) {
    const user = await verifier.admin.create('test', { username, email: `${username}@example.test`, password: 'correct horse battery' });
    // A desk that sends no password: the users' policy says token-only.
    await verifier.admin.setChallengePolicy('test', username, 'token-only');
    users[username].id = user.id;
  }
  mod = await Pkcs11Module.load(hsm.current.modulePath, { loginGuard: 'none' });
  // The card has a key and its certificate already (issued elsewhere), not yet enrolled anywhere.
  {
    await using session = await mod.token({ label: 'desk card' }).openSession({ write: true });
    await session.login(hsm.current.tokens[0]!.userPin);
    const { privateKey } = await session.generateKeyPair({ type: 'ec-p256', label: 'desk' });
    await session.importCertificate(await createSelfSignedCertificate(session, privateKey, { subject: 'CN=Carla Card' }), { label: 'desk', id: privateKey.id });
    await session.logout();
  }
  card = new Pkcs11HardwareToken(mod.token({ label: 'desk card' }));
  sim = new SimulatedAuthenticator({ pin: KEY_PIN });
  key = new FidoHardwareToken(await SecurityKey.open(sim.connect().host), { rpId: RP, label: 'desk key' });
}, 60_000);

afterAll(async () => {
  await card?.close();
  await key?.close();
  await mod?.close();
});

describe('signInWithToken and enrollToken with a HardwareToken', () => {
  it('enrolls a card and a security key through the same call', async () => {
    const enrolledCard = await enrollToken(admin, card, { username: 'carla', pin: hsm.current.tokens[0]!.userPin, label: 'desk card' });
    expect(enrolledCard.kind).toBe('pkcs11');
    expect(enrolledCard.credential).toMatchObject({ kind: 'card', serial: card.identity.serial, challengePolicy: 'token-only' });
    await card.close();
    const enrolledKey = await enrollToken(admin, key, { username: 'kai', pin: KEY_PIN, label: 'desk key', discoverable: true });
    expect(enrolledKey.kind).toBe('fido');
    if (enrolledKey.kind !== 'fido') throw new Error('a key enrolls as fido');
    expect(enrolledKey.credential).toMatchObject({ kind: 'fido', fidoCredentialId: Buffer.from(enrolledKey.keyCredential.credentialId).toString('base64url') });
    users.carla.credentialId = enrolledCard.credential.id;
    users.kai.credentialId = enrolledKey.credential.id;
  });

  it('signs in with either, through the same call, and says who logged in', async () => {
    const pins = new Map<HardwareToken, string>([
      [card, hsm.current.tokens[0]!.userPin],
      [key, KEY_PIN],
    ]);
    const who: SignedIn[] = [];
    for (const [token, pin] of pins) who.push(await signInWithToken(desk, token, { pin }));
    expect(who).toEqual([
      { userId: users.carla.id, username: 'carla', credentialId: users.carla.credentialId },
      { userId: users.kai.id, username: 'kai', credentialId: users.kai.credentialId },
    ]);
  });

  it('signs in with a card already unlocked, and refuses one that is not before asking the verifier', async () => {
    await card.close();
    await expect(signInWithToken(desk, card)).rejects.toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    await card.unlock(hsm.current.tokens[0]!.userPin);
    await expect(signInWithToken(desk, card, { username: 'carla' })).resolves.toEqual({ userId: users.carla.id, username: 'carla', credentialId: users.carla.credentialId });
  });

  it('refuses a key opened for another relying party before its PIN or a touch is spent', async () => {
    await using elsewhere = new FidoHardwareToken(await SecurityKey.open(sim.connect().host), { rpId: 'other.example.com' });
    const before = (await elsewhere.status()).retriesLeft;
    let touched = 0;
    for (const call of [
      () => signInWithToken(desk, elsewhere, { pin: 'not-even-tried', onTouch: () => touched++ }),
      () => enrollToken(admin, elsewhere, { username: 'kai', pin: 'not-even-tried', onTouch: () => touched++ }),
    ]) {
      const refused = await call().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(RelyingPartyMismatchError);
      expect(refused).toMatchObject({ code: 'ERR_RELYING_PARTY_MISMATCH', verifierRpId: RP, tokenRpId: 'other.example.com' });
      expect((refused as Error).message).toContain(`open it with rpId ${RP}`);
    }
    expect(touched).toBe(0);
    expect((await elsewhere.status()).retriesLeft).toBe(before);
  });

  it('keeps the Session form working beside it', async () => {
    await using session = await mod.token({ label: 'desk card' }).openSession();
    await session.login(hsm.current.tokens[0]!.userPin);
    const own = await session.findPrivateKey({ label: 'desk' });
    await expect(signInWithToken(desk, session, own, { credential: { serial: card.identity.serial } })).resolves.toMatchObject({ username: 'carla', userId: users.carla.id });
    await session.logout();
  });
});
