// Certificates made at test time with @peculiar/x509 and WebCrypto: a root CA, intermediates,
// leaf certificates of every key type, and CRLs, for the verifier's enrollment checks.
import { webcrypto } from 'node:crypto';
import { x509, type X509Certificate } from '../../src/algorithms/x509.js';

const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1];
const DAY = 86_400_000;

export type LeafKeyType = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-2048' | 'rsa-1024' | 'ed25519';

const GEN: Record<LeafKeyType, { gen: webcrypto.Algorithm & Record<string, unknown>; sign: webcrypto.Algorithm & Record<string, unknown> }> = {
  'ec-p256': { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  'ec-p384': { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  'ec-p521': { gen: { name: 'ECDSA', namedCurve: 'P-521' }, sign: { name: 'ECDSA', hash: 'SHA-512' } },
  'rsa-2048': { gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  'rsa-1024': { gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

export interface Issued {
  certificate: X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  sign: webcrypto.Algorithm & Record<string, unknown>;
}

export async function keyPair(type: LeafKeyType): Promise<{ keys: webcrypto.CryptoKeyPair; sign: webcrypto.Algorithm & Record<string, unknown> }> {
  const { gen, sign } = GEN[type];
  return { keys: (await webcrypto.subtle.generateKey(gen as unknown as webcrypto.EcKeyGenParams, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair, sign };
}

export async function rootCa(name = 'CN=Test Root'): Promise<Issued> {
  const { keys, sign } = await keyPair('ec-p256');
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name,
      keys,
      signingAlgorithm: sign,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto)],
    },
    crypto,
  );
  return { certificate, keys, sign };
}

export interface LeafOptions {
  type?: LeafKeyType;
  subject?: string;
  issuer?: Issued;
  ca?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  usages?: number | null;
  keys?: webcrypto.CryptoKeyPair;
}

/** A certificate for a new key (or `keys`), issued by `issuer` or self-signed. */
export async function issue(options: LeafOptions = {}): Promise<Issued> {
  const own = options.keys ? { keys: options.keys, sign: GEN[options.type ?? 'ec-p256'].sign } : await keyPair(options.type ?? 'ec-p256');
  const extensions: x509.Extension[] = [];
  if (options.usages !== null) extensions.push(new x509.KeyUsagesExtension(options.usages ?? x509.KeyUsageFlags.digitalSignature, true));
  if (options.ca) extensions.push(new x509.BasicConstraintsExtension(true, 0, true));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(own.keys.publicKey, false, crypto));
  const subject = options.subject ?? 'CN=Token Holder';
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  const notAfter = options.notAfter ?? new Date(Date.now() + 30 * DAY);
  if (!options.issuer) {
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({ name: subject, keys: own.keys, signingAlgorithm: own.sign, notBefore, notAfter, extensions }, crypto);
    return { certificate, ...own };
  }
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey, false, crypto));
  const certificate = await x509.X509CertificateGenerator.create(
    {
      subject,
      issuer: options.issuer.certificate.subject,
      publicKey: own.keys.publicKey,
      signingKey: options.issuer.keys.privateKey,
      signingAlgorithm: options.issuer.sign,
      notBefore,
      notAfter,
      extensions,
    },
    crypto,
  );
  return { certificate, ...own };
}

export async function crl(issuer: Issued, revoked: X509Certificate[], options: { nextUpdate?: Date; signer?: Issued } = {}): Promise<x509.X509Crl> {
  const signer = options.signer ?? issuer;
  return x509.X509CrlGenerator.create(
    {
      issuer: issuer.certificate.subject,
      thisUpdate: new Date(Date.now() - 60_000),
      nextUpdate: options.nextUpdate ?? new Date(Date.now() + DAY),
      entries: revoked.map((c) => ({ serialNumber: c.serialNumber, revocationDate: new Date() })),
      signingKey: signer.keys.privateKey,
      signingAlgorithm: signer.sign,
    },
    crypto,
  );
}
