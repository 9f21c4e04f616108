// The verifier's signature check, fed by real signatures: every key type on a SoftHSM token signs
// the canonical challenge message through the library; forgeries, other keys, other fields and
// algorithms the key does not allow are refused with their reason.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Module, defaultAlgorithm, type Session, type SignatureAlgorithm } from '../src/index.js';
import { checkChallengeResponse } from '../src/verifier/credentials/verify-response.js';
import { challengeMessage, type ChallengeMessageFields } from '../src/verifier/protocol.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'answering' }] });
let mod: Pkcs11Module;
let session: Session;
const spki = new Map<string, Buffer>();

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  session = await mod.token({ label: 'answering' }).openSession();
  await session.login(hsm.current.tokens[0]!.userPin);
  for (const k of hsm.current.tokens[0]!.keys) spki.set(k.label, Buffer.from(k.publicKeyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
});
afterAll(async () => {
  await session?.close();
  await mod?.close();
});

const fields = (over: Partial<ChallengeMessageFields> = {}): ChallengeMessageFields => ({
  verifierId: 'verifier-a',
  purpose: 'login',
  username: 'alice',
  credentialId: 'cred-1',
  challenge: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
  ...over,
});

async function sign(label: string, message: ChallengeMessageFields, algorithm?: SignatureAlgorithm, format: 'raw' | 'der' = 'raw') {
  const key = await session.findPrivateKey({ label });
  const chosen = algorithm ?? defaultAlgorithm(key);
  return { signature: await session.signChallenge(key, challengeMessage(message), { algorithm: chosen, format }), algorithm: chosen };
}

describe('checkChallengeResponse', () => {
  it('accepts the token\'s signature of the challenge message for every key type and format', async () => {
    const cases: Array<[string, SignatureAlgorithm | undefined, 'raw' | 'der']> = [
      ['p256', undefined, 'raw'],
      ['p256', undefined, 'der'],
      ['p384', undefined, 'raw'],
      ['p384', undefined, 'der'],
      ['rsa2048', 'RSA-PKCS1-SHA256', 'raw'],
      ['rsa2048', 'RSA-PSS-SHA256', 'raw'],
      ['ed25519', undefined, 'raw'],
    ];
    for (const [label, alg, format] of cases) {
      const { signature, algorithm } = await sign(label, fields(), alg, format);
      expect(await checkChallengeResponse({ publicKey: spki.get(label)!, message: fields(), signature, algorithm, format }), `${label} ${algorithm} ${format}`).toEqual({ ok: true });
    }
  });

  it('refuses a forged signature, another key\'s signature, and a signature made for other fields', async () => {
    const { signature, algorithm } = await sign('p256', fields());
    const forged = Buffer.from(signature);
    forged[5]! ^= 0x01;
    expect(await checkChallengeResponse({ publicKey: spki.get('p256')!, message: fields(), signature: forged, algorithm })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await checkChallengeResponse({ publicKey: spki.get('p256')!, message: fields(), signature: randomBytes(64), algorithm })).toEqual({ ok: false, reason: 'bad_signature' });
    const other = await sign('p384', fields());
    expect(await checkChallengeResponse({ publicKey: spki.get('p256')!, message: fields(), signature: other.signature, algorithm })).toMatchObject({ ok: false });
    for (const over of [{ username: 'bob' }, { purpose: 'enroll' as const }, { verifierId: 'verifier-b' }, { credentialId: 'cred-2' }, { challenge: Buffer.alloc(16, 1) }]) {
      expect(await checkChallengeResponse({ publicKey: spki.get('p256')!, message: fields(over), signature, algorithm }), JSON.stringify(Object.keys(over))).toEqual({ ok: false, reason: 'bad_signature' });
    }
  });

  it('lets the enrolled key, not the client, decide the algorithm', async () => {
    const { signature } = await sign('p256', fields());
    expect(await checkChallengeResponse({ publicKey: spki.get('p256')!, message: fields(), signature, algorithm: 'ECDSA-SHA384' })).toEqual({ ok: false, reason: 'algorithm_not_allowed' });
    expect(await checkChallengeResponse({ publicKey: spki.get('rsa2048')!, message: fields(), signature, algorithm: 'Ed25519' })).toEqual({ ok: false, reason: 'algorithm_not_allowed' });
    expect(await checkChallengeResponse({ publicKey: spki.get('p256')!, message: fields(), signature, algorithm: 'none' as never })).toEqual({ ok: false, reason: 'algorithm_not_allowed' });
    expect(await checkChallengeResponse({ publicKey: Buffer.from('garbage'), message: fields(), signature, algorithm: 'ECDSA-SHA256' })).toEqual({ ok: false, reason: 'bad_public_key' });
  });
});
