// Integration: key pairs generated on the token, certificates and CSRs signed by them through the
// x509 adapter, certificates imported with the key's id; read back by pkcs11-tool and graphene-pk11
// and checked by OpenSSL.
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateRequest,
  createSelfSignedCertificate,
  Pkcs11Module,
  verifySignature,
  type KeyPairType,
  type Session,
  type SignatureAlgorithm,
} from '../src/index.js';
import { pkcs11js } from '../src/pkcs11/native.js';
import { objectsByGraphene, objectsByPkcs11Tool } from './helpers/readback.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'enroll', keys: [] }] });
const dir = mkdtempSync(join(tmpdir(), 'tokengate-enroll-'));

let mod: Pkcs11Module;
let session: Session;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  session = await mod.token({ label: 'enroll' }).openSession({ write: true });
  await session.login(hsm.current.tokens[0]!.userPin);
});

afterAll(async () => {
  await session?.close();
  await mod?.close();
  rmSync(dir, { recursive: true, force: true });
});

const CASES: Array<{ type: KeyPairType; algorithm: SignatureAlgorithm; keyType: string }> = [
  { type: 'ec-p256', algorithm: 'ECDSA-SHA256', keyType: 'ec' },
  { type: 'ec-p384', algorithm: 'ECDSA-SHA384', keyType: 'ec' },
  { type: 'rsa-2048', algorithm: 'RSA-PKCS1-SHA256', keyType: 'rsa' },
  { type: 'ed25519', algorithm: 'Ed25519', keyType: 'ed25519' },
];

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

describe.each(CASES)('$type', ({ type, algorithm, keyType }) => {
  const label = `gen-${type}`;

  it('generates a sensitive, non-extractable key pair that signs verifiably', async () => {
    const { privateKey, publicKey } = await session.generateKeyPair({ type, label });
    expect(privateKey.keyType).toBe(keyType);
    expect(privateKey.id).toHaveLength(16);
    const attrs = await session.exclusive((lib, h) =>
      lib.C_GetAttributeValue(h, privateKey.handle, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }]),
    );
    expect(attrs.map((a) => a.value[0])).toEqual([1, 0]);
    const challenge = randomBytes(32);
    const signature = await session.signChallenge(privateKey, challenge);
    const key = createPublicKey({ key: publicKey.spki(), format: 'der', type: 'spki' });
    const hash = algorithm === 'Ed25519' ? null : algorithm === 'ECDSA-SHA384' ? 'sha384' : 'sha256';
    expect(verify(hash, challenge, { key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    expect(verify(hash, randomBytes(32), { key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(false);
  });

  it('makes a self-signed certificate on the token that x509 and openssl verify, and imports it', async () => {
    const key = await session.findPrivateKey({ label });
    const cert = await createSelfSignedCertificate(session, key, { subject: `CN=tokengate ${type}` });
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
    expect(cert.subject).toBe(`CN=tokengate ${type}`);
    const pem = join(dir, `${type}.pem`);
    writeFileSync(pem, cert.toString('pem'));
    expect(openssl(['verify', '-CAfile', pem, pem])).toContain(': OK');
    // The certificate's key is the token's key.
    expect(Buffer.from(cert.publicKey.rawData).equals((await session.publicKey(key)).spki())).toBe(true);

    const stored = await session.importCertificate(cert, { label, id: key.id });
    expect(stored.id.equals(key.id)).toBe(true);
    const found = await session.findCertificate({ id: key.id });
    expect(Buffer.from(found.certificate.rawData).equals(Buffer.from(cert.rawData))).toBe(true);
    const challenge = randomBytes(16);
    expect(verifySignature(found.certificate, challenge, await session.signChallenge(key, challenge), { algorithm })).toBe(true);
  });

  it('makes a CSR on the token that x509 and openssl verify', async () => {
    const csr = await createCertificateRequest(session, { label }, { subject: `CN=csr ${type}` });
    expect(await csr.verify()).toBe(true);
    const pem = join(dir, `${type}.csr`);
    writeFileSync(pem, csr.toString('pem'));
    // OpenSSL 3 reports "Certificate request self-signature verify OK" on stderr, and exits non-zero on failure.
    const run = spawnSync('openssl', ['req', '-verify', '-noout', '-in', pem], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stderr + run.stdout).toMatch(/verify OK/);
  });
});

describe('RSA-PSS certificates', () => {
  it('signs the certificate with RSA-PSS when asked', async () => {
    const cert = await createSelfSignedCertificate(session, { label: 'gen-rsa-2048' }, { subject: 'CN=pss', algorithm: 'RSA-PSS-SHA256' });
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
    expect((cert.signatureAlgorithm as unknown as { name: string }).name).toBe('RSA-PSS');
  });
});

describe('what other readers see', () => {
  it('pkcs11-tool and graphene-pk11 list every key and certificate the library made', async () => {
    const keys = await session.listKeys('privateKey');
    const expected = [
      ...keys.map((k) => `privateKey ${k.label} ${k.id.toString('hex')}`),
      ...(await session.listKeys('publicKey')).map((k) => `publicKey ${k.label} ${k.id.toString('hex')}`),
      ...(await session.listCertificates()).map((c) => `certificate ${c.label} ${c.id.toString('hex')}`),
    ].sort();
    expect(keys).toHaveLength(CASES.length);
    expect(expected).toHaveLength(CASES.length * 3);
    expect(objectsByPkcs11Tool(hsm.current, 'enroll', hsm.current.tokens[0]!.userPin)).toEqual(expected);
    expect(objectsByGraphene(hsm.current.modulePath, hsm.current.tokens[0]!.serial)).toEqual(expected);
  });
});

describe('refusals', () => {
  it('needs a read-write session and a login, and says which is missing', async () => {
    const token = mod.token({ label: 'enroll' });
    await using ro = await token.openSession();
    await expect(ro.generateKeyPair({ type: 'ec-p256', label: 'x' })).rejects.toMatchObject({ code: 'ERR_SESSION_READ_ONLY' });
    await session.logout();
    try {
      await expect(session.generateKeyPair({ type: 'ec-p256', label: 'x' })).rejects.toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    } finally {
      await session.login(hsm.current.tokens[0]!.userPin);
    }
  });

  it('rejects bad options before touching the token', async () => {
    await expect(session.generateKeyPair({ type: 'dsa-1024' as KeyPairType, label: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(session.generateKeyPair({ type: 'ec-p256', label: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(createSelfSignedCertificate(session, { label: 'gen-ec-p256' }, { subject: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(session.importCertificate('not a certificate', { label: 'x', id: Buffer.from([1]) })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });
});
