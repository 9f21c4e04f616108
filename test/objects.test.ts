// Integration: finding keys and certificates, reading their types, exporting public keys. The
// fixture holds its own copy of every public key and certificate; graphene-pk11 and OpenSC's
// pkcs11-tool say independently which objects the token really has.
import { createPublicKey, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeneratedKey } from '../native-fixtures/softhsm/keys.js';
import { Pkcs11Module, type KeyType, type NamedCurve, type ObjectRef, type Session } from '../src/index.js';
import { pkcs11js } from '../src/pkcs11/native.js';
import { objectsByGraphene, objectsByPkcs11Tool } from './helpers/readback.js';
import { useSoftHsm } from './helpers/softhsm.js';


// The main token keeps exactly the fixture's objects; the scratch token is where tests make
// session objects of their own.
const hsm = useSoftHsm({ tokens: [{ label: 'tokengate-test' }, { label: 'scratch', keys: [] }] });

const EXPECTED: Record<string, { keyType: KeyType; curve: NamedCurve | undefined; modulusBits: number | undefined }> = {
  p256: { keyType: 'ec', curve: 'P-256', modulusBits: undefined },
  p384: { keyType: 'ec', curve: 'P-384', modulusBits: undefined },
  rsa2048: { keyType: 'rsa', curve: undefined, modulusBits: 2048 },
  ed25519: { keyType: 'ed25519', curve: undefined, modulusBits: undefined },
};

let mod: Pkcs11Module;
let session: Session; // logged in
let publicSession: Session; // never logged in

beforeAll(async () => {
  const fx = hsm.current;
  mod = await Pkcs11Module.load(fx.modulePath);
  const token = mod.token({ label: 'tokengate-test' });
  session = await token.openSession();
  publicSession = await token.openSession();
  await session.login(fx.tokens[0]!.userPin);
});

afterAll(async () => {
  await session?.close();
  await publicSession?.close();
  await mod?.close();
});

function keys(): GeneratedKey[] {
  return hsm.current.tokens[0]!.keys;
}

function spkiOf(pem: string): Buffer {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

/** The JWK members that define the key (webcrypto adds alg/ext/key_ops). */
function keyMembers(jwk: webcrypto.JsonWebKey): Record<string, string | undefined> {
  const { kty, crv, x, y, n, e } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined));
}

function refsFor(key: GeneratedKey): Array<[string, ObjectRef]> {
  return [
    ['label', { label: key.label }],
    ['id bytes', { id: new Uint8Array(Buffer.from(key.id, 'hex')) }],
    ['id Buffer', { id: Buffer.from(key.id, 'hex') }],
    ['id hex', { id: key.id }],
    ['id hex upper-case', { id: key.id.toUpperCase() }],
  ];
}

describe('private and public keys', () => {
  it('finds every private key by label and by id (bytes and hex), with the right type', async () => {
    for (const fk of keys()) {
      for (const [how, ref] of refsFor(fk)) {
        const key = await session.findPrivateKey(ref);
        const what = `${fk.label} by ${how}`;
        expect(key.objectClass, what).toBe('privateKey');
        expect(key.label, what).toBe(fk.label);
        expect(key.id.toString('hex'), what).toBe(fk.id);
        expect({ keyType: key.keyType, curve: key.curve, modulusBits: key.modulusBits }, what).toEqual(EXPECTED[fk.label]);
        expect(key.alwaysAuthenticate, what).toBe(false);
      }
    }
  });

  it('finds every public key by label and by id, without logging in', async () => {
    for (const s of [session, publicSession]) {
      for (const fk of keys()) {
        for (const [how, ref] of refsFor(fk)) {
          const key = await s.findPublicKey(ref);
          expect(key.objectClass).toBe('publicKey');
          expect(key.label, how).toBe(fk.label);
          expect(key.id.toString('hex')).toBe(fk.id);
          expect({ keyType: key.keyType, curve: key.curve, modulusBits: key.modulusBits }).toEqual(EXPECTED[fk.label]);
        }
      }
    }
  });

  it('does not find what is not there', async () => {
    for (const ref of [{ label: 'missing' }, { id: 'ff' }, { id: new Uint8Array([1, 0]) }, { label: 'P256' }]) {
      await expect(session.findPrivateKey(ref), JSON.stringify(ref)).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
      await expect(session.findPublicKey(ref), JSON.stringify(ref)).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
      await expect(session.findCertificate(ref), JSON.stringify(ref)).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    }
  });

  it('refuses references that name nothing, or an id that is not hex, before searching', async () => {
    const bad = [{ label: '' }, { id: '' }, { id: new Uint8Array(0) }, {}, { id: 'zz' }, { id: '011' }, { id: '01zz' }, { id: '0x01' }];
    for (const ref of bad) {
      await expect(session.findPrivateKey(ref as ObjectRef), JSON.stringify(ref)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
  });

  it('lists private keys (logged in) and public keys (always)', async () => {
    const expected = keys().map((k) => `${k.label}/${k.id}`).sort();
    const listed = (ks: Array<{ label: string; id: Buffer }>): string[] => ks.map((k) => `${k.label}/${k.id.toString('hex')}`).sort();
    const priv = await session.listKeys('privateKey');
    expect(listed(priv)).toEqual(expected);
    expect(priv.every((k) => k.objectClass === 'privateKey')).toBe(true);
    for (const k of priv) expect({ keyType: k.keyType, curve: k.curve, modulusBits: k.modulusBits }).toEqual(EXPECTED[k.label]);
    expect(listed(await session.listKeys())).toEqual(expected);
    const pub = await session.listKeys('publicKey');
    expect(listed(pub)).toEqual(expected);
    expect(pub.every((k) => k.objectClass === 'publicKey')).toBe(true);
    expect(listed(await publicSession.listKeys('publicKey'))).toEqual(expected);
    // Private keys are private objects: a session that never logged in sees none... unless the
    // application is logged in, and PKCS#11 login state is per application and token.
    expect(listed(await publicSession.listKeys('privateKey'))).toEqual(expected);
  });
});

describe('certificates', () => {
  it('finds each certificate by label and id as an @peculiar/x509 certificate equal to the fixture’s', async () => {
    for (const fk of keys()) {
      const expected = new x509.X509Certificate(fk.certificatePem);
      for (const [how, ref] of refsFor(fk)) {
        const cert = await publicSession.findCertificate(ref);
        expect(cert.certificate, how).toBeInstanceOf(x509.X509Certificate);
        expect(cert.label).toBe(fk.label);
        expect(cert.id.toString('hex')).toBe(fk.id);
        expect(Buffer.from(cert.certificate.rawData).equals(Buffer.from(expected.rawData)), `${fk.label} ${how}`).toBe(true);
        expect(cert.certificate.subject).toBe(expected.subject);
        expect(cert.certificate.serialNumber).toBe(expected.serialNumber);
        expect(cert.publicKey.spki().equals(spkiOf(fk.publicKeyPem))).toBe(true);
        expect(keyMembers(cert.publicKey.jwk())).toEqual(keyMembers(fk.publicJwk));
      }
    }
  });

  it('lists every certificate', async () => {
    const certs = await publicSession.listCertificates();
    expect(certs.map((c) => `${c.label}/${c.id.toString('hex')}`).sort()).toEqual(keys().map((k) => `${k.label}/${k.id}`).sort());
    for (const c of certs) {
      const fk = keys().find((k) => k.label === c.label)!;
      expect(c.certificate.toString('pem').replace(/\r/g, '').trim()).toBe(fk.certificatePem.replace(/\r/g, '').trim());
    }
  });
});

describe('session.publicKey()', () => {
  it('exports SPKI, PEM and JWK equal to the fixture’s, by label, id, or TokenKey', async () => {
    for (const fk of keys()) {
      const byTokenKey = await session.findPrivateKey({ label: fk.label });
      for (const [how, ref] of [...refsFor(fk), ['TokenKey', byTokenKey] as const]) {
        for (const s of [session, publicSession]) {
          const pk = await s.publicKey(ref);
          const what = `${fk.label} by ${how}`;
          expect(pk.spki().equals(spkiOf(fk.publicKeyPem)), what).toBe(true);
          expect(pk.pem().trim()).toBe(fk.publicKeyPem.trim());
          expect(pk.jwk(), what).toEqual(keyMembers(fk.publicJwk));
          expect(pk.keyType).toBe(EXPECTED[fk.label]!.keyType);
          expect(pk.curve).toBe(EXPECTED[fk.label]!.curve);
        }
      }
    }
  });

  it('gives a WebCrypto CryptoKey that verifies the token’s signatures', async () => {
    const data = randomBytes(32);
    const cases = [
      { label: 'p256', sign: { algorithm: 'ECDSA-SHA256' }, verify: { name: 'ECDSA', hash: 'SHA-256' } },
      { label: 'p384', sign: { algorithm: 'ECDSA-SHA384' }, verify: { name: 'ECDSA', hash: 'SHA-384' } },
      { label: 'rsa2048', sign: { algorithm: 'RSA-PKCS1-SHA256' }, verify: { name: 'RSASSA-PKCS1-v1_5' } },
      { label: 'ed25519', sign: { algorithm: 'Ed25519' }, verify: { name: 'Ed25519' } },
    ] as const;
    for (const c of cases) {
      const pk = await session.publicKey({ label: c.label });
      const key = await pk.cryptoKey();
      expect(key.type).toBe('public');
      expect(key.usages).toEqual(['verify']);
      const sig = await session.signChallenge({ label: c.label }, data, c.sign);
      expect(await webcrypto.subtle.verify(c.verify, key, sig, data), c.label).toBe(true);
      const other = Buffer.from(data);
      other[0]! ^= 1;
      expect(await webcrypto.subtle.verify(c.verify, key, sig, other), `${c.label} tampered`).toBe(false);
    }
    // An explicit algorithm for the same key: RSA-PSS.
    const pss = await (await session.publicKey({ label: 'rsa2048' })).cryptoKey({ name: 'RSA-PSS', hash: 'SHA-256' } as webcrypto.RsaHashedImportParams);
    const sig = await session.signChallenge({ label: 'rsa2048' }, data, { algorithm: 'RSA-PSS-SHA256' });
    expect(await webcrypto.subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, pss, sig, data)).toBe(true);
  });

  it('is ERR_KEY_NOT_FOUND for an unknown key', async () => {
    await expect(session.publicKey({ label: 'missing' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
  });
});

describe('a key pair without a public key object (scratch token, session objects)', () => {
  it('falls back to the certificate’s key, and is ERR_KEY_NOT_FOUND when there is neither', async () => {
    const fx = hsm.current;
    await using scratch = await mod.token({ label: 'scratch' }).openSession({ write: true });
    await scratch.login(fx.tokens[1]!.userPin);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' });
    const ecParams = Buffer.from('06082a8648ce3d030107', 'hex');
    const privateTemplate = (id: string, label: string) => [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') },
      { type: pkcs11js.CKA_EC_PARAMS, value: ecParams },
      { type: pkcs11js.CKA_VALUE, value: Buffer.from(jwk.d!, 'base64url') },
    ];
    // A certificate for the same key, made here with @peculiar/x509.
    const cryptoKeys = {
      privateKey: await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
      publicKey: await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']),
    };
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      { serialNumber: '0a', name: 'CN=orphan', keys: cryptoKeys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams },
      webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
    );
    await scratch.exclusive((lib, h) => {
      lib.C_CreateObject(h, privateTemplate('e1', 'with-cert'));
      lib.C_CreateObject(h, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
        { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_LABEL, value: 'with-cert' },
        { type: pkcs11js.CKA_ID, value: Buffer.from('e1', 'hex') },
        { type: pkcs11js.CKA_SUBJECT, value: Buffer.from(cert.subjectName.toArrayBuffer()) },
        { type: pkcs11js.CKA_VALUE, value: Buffer.from(cert.rawData) },
      ]);
      lib.C_CreateObject(h, privateTemplate('e2', 'orphan'));
    });

    const pk = await scratch.publicKey({ label: 'with-cert' });
    expect(pk.spki().equals(publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    const sig = await scratch.signChallenge({ id: 'e1' }, 'hello');
    expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, await pk.cryptoKey(), sig, Buffer.from('hello'))).toBe(true);

    const orphan = await scratch.findPrivateKey({ label: 'orphan' });
    expect(orphan.curve).toBe('P-256');
    await expect(scratch.publicKey({ label: 'orphan' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    await expect(scratch.publicKey(orphan)).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
  });
});

// --- what the token really holds, according to others ------------------------------------------

type ObjectSummary = string; // "class label id", as test/helpers/readback.ts reports them

async function libraryView(): Promise<ObjectSummary[]> {
  const priv = (await session.listKeys('privateKey')).map((k) => `privateKey ${k.label} ${k.id.toString('hex')}`);
  const pub = (await session.listKeys('publicKey')).map((k) => `publicKey ${k.label} ${k.id.toString('hex')}`);
  const certs = (await session.listCertificates()).map((c) => `certificate ${c.label} ${c.id.toString('hex')}`);
  return [...priv, ...pub, ...certs].sort();
}

describe('cross-checks', () => {
  it('graphene-pk11 (same process, same application) sees the same labels and ids', async () => {
    const seen = objectsByGraphene(hsm.current.modulePath, hsm.current.tokens[0]!.serial);
    expect(seen.length).toBe(12);
    expect(seen).toEqual(await libraryView());
    // And our module still works after graphene closed its handle.
    expect((await session.findPrivateKey({ label: 'p256' })).curve).toBe('P-256');
  });

  it('pkcs11-tool --list-objects reports the same labels and ids', async () => {
    const seen = objectsByPkcs11Tool(hsm.current, 'tokengate-test', hsm.current.tokens[0]!.userPin);
    expect(seen.length).toBe(12);
    expect(seen).toEqual(await libraryView());
  });
});
