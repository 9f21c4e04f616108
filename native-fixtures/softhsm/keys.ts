// Key material for fixture tokens: generated in software with WebCrypto, so the tests hold an
// independent copy of every public key and certificate to check the library against. The private
// halves go onto the token as sensitive, non-extractable objects and are then dropped.
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export type FixtureKeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'ed25519';

export interface FixtureKeySpec {
  type: FixtureKeyType;
  label: string;
  /** CKA_ID as hex. */
  id: string;
}

export interface GeneratedKey extends FixtureKeySpec {
  privateJwk: webcrypto.JsonWebKey;
  publicJwk: webcrypto.JsonWebKey;
  publicKeyPem: string;
  certificatePem: string;
}

const ALGORITHMS: Record<FixtureKeyType, { gen: webcrypto.AlgorithmIdentifier | webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams; sign: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams }> = {
  'ec-p256': { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams },
  'ec-p384': { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams },
  'rsa-2048': {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
  ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

export const DEFAULT_KEYS: readonly FixtureKeySpec[] = [
  { type: 'ec-p256', label: 'p256', id: '01' },
  { type: 'ec-p384', label: 'p384', id: '02' },
  { type: 'rsa-2048', label: 'rsa2048', id: '03' },
  { type: 'ed25519', label: 'ed25519', id: '04' },
];

export async function generateKey(spec: FixtureKeySpec, subject: string): Promise<GeneratedKey> {
  const alg = ALGORITHMS[spec.type];
  const keys = (await webcrypto.subtle.generateKey(alg.gen, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: spec.id.padStart(2, '0') + Date.now().toString(16),
      name: `CN=${subject} ${spec.label}`,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
      signingAlgorithm: alg.sign as webcrypto.Algorithm,
      keys,
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return {
    ...spec,
    privateJwk: await webcrypto.subtle.exportKey('jwk', keys.privateKey),
    publicJwk: await webcrypto.subtle.exportKey('jwk', keys.publicKey),
    publicKeyPem: `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`,
    certificatePem: cert.toString('pem'),
  };
}
