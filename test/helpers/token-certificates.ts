// Certificates for keys that live on a SoftHSM token, issued by a test CA (helpers/pki.ts): the
// CA only needs the token key's public half.
import { webcrypto } from 'node:crypto';
import type { X509Certificate } from '../../src/algorithms/x509.js';
import { issue, type Issued, type LeafKeyType } from './pki.js';

const IMPORT: Record<string, { type: LeafKeyType; algorithm: webcrypto.Algorithm & Record<string, unknown> }> = {
  p256: { type: 'ec-p256', algorithm: { name: 'ECDSA', namedCurve: 'P-256' } },
  p384: { type: 'ec-p384', algorithm: { name: 'ECDSA', namedCurve: 'P-384' } },
  rsa2048: { type: 'rsa-2048', algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
  ed25519: { type: 'ed25519', algorithm: { name: 'Ed25519' } },
};

/** A certificate for the SoftHSM key `label` (p256, p384, rsa2048, ed25519) with public key `spki`. */
export async function certifyTokenKey(label: string, spki: Uint8Array, issuer: Issued | undefined, options: { subject?: string; notAfter?: Date } = {}): Promise<X509Certificate> {
  const { type, algorithm } = IMPORT[label]!;
  const publicKey = await webcrypto.subtle.importKey('spki', spki, algorithm as unknown as webcrypto.EcKeyImportParams, true, ['verify']);
  // The CA signs with its own key; the holder's private key stays on the token.
  const keys = { publicKey, privateKey: publicKey } as webcrypto.CryptoKeyPair;
  if (!issuer) throw new Error('a token key can only be certified by a CA (its private key is on the token)');
  return (await issue({ type, keys, issuer, subject: options.subject ?? `CN=${label} holder`, ...(options.notAfter ? { notAfter: options.notAfter } : {}) })).certificate;
}
