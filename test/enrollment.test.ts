// Integration: certificates and CSRs signed by keys generated on the token, through the WebCrypto
// adapter and @peculiar/x509; checked by x509 itself and by OpenSSL; certificates imported with the
// key's id and read back by the library, pkcs11-tool and graphene-pk11.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateRequest,
  createSelfSignedCertificate,
  Pkcs11Module,
  tokenCrypto,
  tokenKeyPair,
  verifySignature,
  type KeyPairType,
  type Session,
  type SignatureAlgorithm,
  type TokenKey,
} from '../src/index.js';
import { x509 } from '../src/algorithms/x509.js';
import { objectsByGraphene, objectsByPkcs11Tool } from './helpers/readback.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'enroll', keys: [] }] });
const dir = mkdtempSync(join(tmpdir(), 'tokengate-enroll-'));

let mod: Pkcs11Module;
let session: Session;
const keys = new Map<KeyPairType, TokenKey>();

interface Case {
  type: KeyPairType;
  algorithm: SignatureAlgorithm;
  /** How OpenSSL names the signature algorithm in `x509 -text`. */
  openssl: string;
}

const CASES: Case[] = [
  { type: 'ec-p256', algorithm: 'ECDSA-SHA256', openssl: 'ecdsa-with-SHA256' },
  { type: 'ec-p384', algorithm: 'ECDSA-SHA384', openssl: 'ecdsa-with-SHA384' },
  { type: 'rsa-2048', algorithm: 'RSA-PKCS1-SHA256', openssl: 'sha256WithRSAEncryption' },
  { type: 'ed25519', algorithm: 'Ed25519', openssl: 'ED25519' },
];

const userPin = () => hsm.current.tokens[0]!.userPin;
const key = (type: KeyPairType): TokenKey => keys.get(type)!;

/** Logs in again. A logout invalidates private objects' handles (SoftHSM), so the keys are found again by id. */
async function relogin(): Promise<void> {
  await session.login(userPin());
  for (const [type, k] of keys) keys.set(type, await session.findPrivateKey({ id: k.id }));
}

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  session = await mod.token({ label: 'enroll' }).openSession({ write: true });
  await session.login(userPin());
  for (const { type } of CASES) keys.set(type, (await session.generateKeyPair({ type, label: `key-${type}` })).privateKey);
});

afterAll(async () => {
  await session?.close();
  await mod?.close();
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function openssl(args: string[]): { status: number | null; out: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: run.status, out: run.stdout + run.stderr };
}

async function failure(op: Promise<unknown>): Promise<{ code?: string }> {
  try {
    await op;
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected a failure');
}

describe.each(CASES)('$type', ({ type, algorithm, openssl: osslName }) => {
  it('makes a self-signed certificate on the token that x509 and openssl verify', async () => {
    const cert = await createSelfSignedCertificate(session, key(type), { subject: `CN=tokengate ${type}, O=Example` });
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
    expect(cert.subject).toBe(`CN=tokengate ${type}, O=Example`);
    expect(cert.issuer).toBe(cert.subject);
    // The certificate carries the token's public key.
    expect(Buffer.from(cert.publicKey.rawData).equals((await session.publicKey(key(type))).spki())).toBe(true);
    const pem = write(`${type}.pem`, cert.toString('pem'));
    const verified = openssl(['verify', '-CAfile', pem, pem]);
    expect(verified.status).toBe(0);
    expect(verified.out).toContain(': OK');
    expect(openssl(['x509', '-in', pem, '-noout', '-text']).out).toContain(`Signature Algorithm: ${osslName}`);
  });

  it('gives it keyUsage digitalSignature (critical) and the subject key identifier by default', async () => {
    const cert = await createSelfSignedCertificate(session, key(type), { subject: `CN=defaults ${type}` });
    const usage = cert.getExtension(x509.KeyUsagesExtension);
    expect(usage?.critical).toBe(true);
    expect(usage?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    expect(ski?.critical).toBe(false);
    expect(ski?.keyId).toBe(Buffer.from(await cert.publicKey.getKeyIdentifier()).toString('hex'));
    expect(cert.extensions).toHaveLength(2);
  });

  it('imports the certificate with the key\'s id; it is found by that id and checks the key\'s signatures', async () => {
    const cert = await createSelfSignedCertificate(session, { id: key(type).id }, { subject: `CN=stored ${type}` });
    const stored = await session.importCertificate(cert, { label: `cert-${type}`, id: key(type).id });
    expect(stored.id.equals(key(type).id)).toBe(true);
    expect(stored.label).toBe(`cert-${type}`);
    const found = await session.findCertificate({ id: key(type).id });
    expect(Buffer.from(found.certificate.rawData).equals(Buffer.from(cert.rawData))).toBe(true);
    const challenge = randomBytes(16);
    expect(verifySignature(found.certificate, challenge, await session.signChallenge(key(type), challenge), { algorithm })).toBe(true);
  });

  it('makes a CSR on the token that x509 and openssl verify', async () => {
    const csr = await createCertificateRequest(session, { label: `key-${type}` }, { subject: `CN=csr ${type}` });
    expect(await csr.verify()).toBe(true);
    expect(csr.subject).toBe(`CN=csr ${type}`);
    expect(Buffer.from(csr.publicKey.rawData).equals((await session.publicKey(key(type))).spki())).toBe(true);
    const pem = write(`${type}.csr`, csr.toString('pem'));
    // OpenSSL 3 reports "Certificate request self-signature verify OK" and exits non-zero on failure.
    const run = openssl(['req', '-verify', '-noout', '-in', pem]);
    expect(run.status).toBe(0);
    expect(run.out).toMatch(/verify OK/);
  });
});

describe('options', () => {
  it('honours validity, serial number and extra extensions (one of the same type replaces a default)', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2031-06-30T00:00:00Z');
    const cert = await createSelfSignedCertificate(session, key('ec-p256'), {
      subject: 'CN=options',
      notBefore,
      notAfter,
      serialNumber: '7f0102030405',
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true),
      ],
    });
    expect(cert.notBefore.getTime()).toBe(notBefore.getTime());
    expect(cert.notAfter.getTime()).toBe(notAfter.getTime());
    expect(cert.serialNumber).toBe('7f0102030405');
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull(); // kept
    expect(cert.extensions).toHaveLength(3);
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
  });

  it('signs with ECDSA-SHA384 on a P-256 key when asked', async () => {
    const cert = await createSelfSignedCertificate(session, key('ec-p256'), { subject: 'CN=p256-sha384', algorithm: 'ECDSA-SHA384' });
    const pem = write('p256-sha384.pem', cert.toString('pem'));
    expect(openssl(['x509', '-in', pem, '-noout', '-text']).out).toContain('Signature Algorithm: ecdsa-with-SHA384');
    expect(openssl(['verify', '-CAfile', pem, pem]).status).toBe(0);
  });

  it('signs certificates and CSRs with RSA-PSS (SHA-256, 32-byte salt) when asked', async () => {
    const cert = await createSelfSignedCertificate(session, key('rsa-2048'), { subject: 'CN=pss', algorithm: 'RSA-PSS-SHA256' });
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
    const pem = write('pss.pem', cert.toString('pem'));
    const text = openssl(['x509', '-in', pem, '-noout', '-text']).out;
    expect(text).toContain('Signature Algorithm: rsassaPss');
    expect(text).toContain('Salt Length: 0x20');
    expect(openssl(['verify', '-CAfile', pem, pem]).status).toBe(0);
    const csr = await createCertificateRequest(session, key('rsa-2048'), { subject: 'CN=pss csr', algorithm: 'RSA-PSS-SHA256' });
    expect(await csr.verify()).toBe(true);
    expect(openssl(['req', '-verify', '-noout', '-in', write('pss.csr', csr.toString('pem'))]).status).toBe(0);
  });

  it('puts requested extensions into the CSR', async () => {
    const csr = await createCertificateRequest(session, key('ec-p384'), {
      subject: 'CN=csr ext',
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'door17.example' }])],
    });
    expect(await csr.verify()).toBe(true);
    const san = csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toEqual([{ type: 'dns', value: 'door17.example' }]);
  });
});

describe('the WebCrypto adapter', () => {
  it('signs raw r‖s through subtle.sign, verifiable with WebCrypto, and delegates the rest', async () => {
    const pair = await tokenKeyPair(session, key('ec-p256'));
    const crypto = tokenCrypto();
    const data = randomBytes(40);
    const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, data);
    expect(signature.byteLength).toBe(64);
    expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pair.publicKey, signature, data)).toBe(true);
    // Not a token key: Node's WebCrypto does the work.
    const digest = await crypto.subtle.digest('SHA-256', data);
    expect(Buffer.from(digest).equals(Buffer.from(await webcrypto.subtle.digest('SHA-256', data)))).toBe(true);
    expect(pair.privateKey).toMatchObject({ type: 'private', extractable: false, usages: ['sign'] });
  });

  it('refuses anything but signing with a token key, and a different algorithm than the key\'s', async () => {
    const pair = await tokenKeyPair(session, key('ec-p256'));
    const crypto = tokenCrypto();
    expect(await failure(crypto.subtle.exportKey('pkcs8', pair.privateKey))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(await failure(crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-512' }, pair.privateKey, randomBytes(8)))).toMatchObject({ code: 'ERR_MECHANISM_NOT_SUPPORTED' });
    expect(await failure(crypto.subtle.sign({ name: 'RSA-PSS', saltLength: 32 }, pair.privateKey, randomBytes(8)))).toMatchObject({ code: 'ERR_KEY_TYPE_MISMATCH' });
  });
});

describe('refusals', () => {
  it('rejects bad certificate options before signing', async () => {
    const k = key('ec-p256');
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => createSelfSignedCertificate(session, k, { subject: '' }), 'ERR_INVALID_ARGUMENT'],
      [() => createSelfSignedCertificate(session, k, { subject: 'not a name' }), 'ERR_INVALID_ARGUMENT'],
      [() => createSelfSignedCertificate(session, k, { subject: 'CN=x', notBefore: new Date('2030-01-01'), notAfter: new Date('2029-01-01') }), 'ERR_INVALID_ARGUMENT'],
      [() => createSelfSignedCertificate(session, k, { subject: 'CN=x', notAfter: new Date('nonsense') }), 'ERR_INVALID_ARGUMENT'],
      [() => createSelfSignedCertificate(session, k, { subject: 'CN=x', serialNumber: 'xyz' }), 'ERR_INVALID_ARGUMENT'],
      [() => createSelfSignedCertificate(session, k, { subject: 'CN=x', algorithm: 'RSA-PKCS1-SHA256' }), 'ERR_KEY_TYPE_MISMATCH'],
      [() => createSelfSignedCertificate(session, k, { subject: 'CN=x', algorithm: 'MD5' as SignatureAlgorithm }), 'ERR_INVALID_ARGUMENT'],
      [() => createSelfSignedCertificate(session, { label: 'no such key' }, { subject: 'CN=x' }), 'ERR_KEY_NOT_FOUND'],
      [() => createCertificateRequest(session, k, { subject: '' }), 'ERR_INVALID_ARGUMENT'],
    ];
    for (const [op, code] of cases) expect(await failure(op())).toMatchObject({ code });
  });

  it('needs the user logged in to find the key', async () => {
    await session.logout();
    try {
      expect(await failure(createSelfSignedCertificate(session, { label: 'key-ec-p256' }, { subject: 'CN=x' }))).toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
      // A key found before the logout: its signature is refused for the same reason.
      expect(await failure(createSelfSignedCertificate(session, key('ec-p256'), { subject: 'CN=x' }))).toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
    } finally {
      await relogin();
    }
  });

  it('refuses to import what is not a certificate, a certificate without id, or into a read-only session', async () => {
    const cert = await createSelfSignedCertificate(session, key('ec-p256'), { subject: 'CN=refused' });
    expect(await failure(session.importCertificate('not a certificate', { label: 'x', id: Buffer.from([1]) }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(await failure(session.importCertificate(cert, { label: 'x', id: new Uint8Array(0) }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(await failure(session.importCertificate(cert, { label: '', id: Buffer.from([1]) }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await using ro = await mod.token({ label: 'enroll' }).openSession();
    expect(await failure(ro.importCertificate(cert, { label: 'x', id: Buffer.from([1]) }))).toMatchObject({ code: 'ERR_SESSION_READ_ONLY' });
    expect((await session.listCertificates()).map((c) => c.label)).not.toContain('x');
  });

  it('imports a certificate given as PEM or DER too', async () => {
    const cert = await createSelfSignedCertificate(session, key('ec-p384'), { subject: 'CN=formats' });
    const fromPem = await session.importCertificate(cert.toString('pem'), { label: 'pem-import', id: Buffer.from('aa01', 'hex') });
    const fromDer = await session.importCertificate(new Uint8Array(cert.rawData), { label: 'der-import', id: Buffer.from('aa02', 'hex') });
    for (const stored of [fromPem, fromDer]) expect(Buffer.from(stored.certificate.rawData).equals(Buffer.from(cert.rawData))).toBe(true);
  });
});

describe('what other readers see', () => {
  it('pkcs11-tool and graphene-pk11 list every key and certificate the library made', async () => {
    const library = [
      ...(await session.listKeys('privateKey')).map((k) => `privateKey ${k.label} ${k.id.toString('hex')}`),
      ...(await session.listKeys('publicKey')).map((k) => `publicKey ${k.label} ${k.id.toString('hex')}`),
      ...(await session.listCertificates()).map((c) => `certificate ${c.label} ${c.id.toString('hex')}`),
    ].sort();
    for (const { type } of CASES) expect(library).toContain(`certificate cert-${type} ${key(type).id.toString('hex')}`);
    expect(library).toHaveLength(CASES.length * 3 + 2);
    expect(objectsByPkcs11Tool(hsm.current, 'enroll', userPin())).toEqual(library);
    expect(objectsByGraphene(hsm.current.modulePath, hsm.current.tokens[0]!.serial)).toEqual(library);
  });

  it('pkcs11-tool reads each stored certificate back byte for byte by the key\'s id, without a login', async () => {
    for (const { type } of CASES) {
      const id = key(type).id.toString('hex');
      const out = join(dir, `read-${type}.der`);
      execFileSync('pkcs11-tool', ['--module', hsm.current.modulePath, '--token-label', 'enroll', '--read-object', '--type', 'cert', '--id', id, '--output-file', out], {
        env: { ...process.env, ...hsm.current.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const found = await session.findCertificate({ id });
      expect(readFileSync(out).equals(Buffer.from(found.certificate.rawData))).toBe(true);
      expect(new x509.X509Certificate(readFileSync(out)).subject).toBe(`CN=stored ${type}`);
    }
  });
});
