// Shared by the pool's tests: a pool on a SoftHSM fixture, and many concurrent signatures over all
// four key types, each checked by the library's verifier and by node:crypto directly.
import { verify } from 'node:crypto';
import { expect } from 'vitest';
import type { SoftHsmFixture } from '../../native-fixtures/softhsm/softhsm.js';
import { Pkcs11Module, SessionPool, defaultAlgorithm, verifySignature, type SessionPoolOptions, type SignatureAlgorithm, type SignatureFormat, type TokenKey } from '../../src/index.js';

export const LABELS = ['p256', 'p384', 'rsa2048', 'ed25519'] as const;

export async function openPool(
  fx: SoftHsmFixture,
  workers: number | 'auto' = 2,
  options: Omit<SessionPoolOptions, 'pin' | 'workers'> = {},
): Promise<{ module: Pkcs11Module; pool: SessionPool }> {
  const module = await Pkcs11Module.load(fx.modulePath, { env: fx.env });
  const pool = await module.token({ label: fx.tokens[0]!.label }).openPool({ pin: fx.tokens[0]!.userPin, workers, ...options });
  return { module, pool };
}

export function publicKeyPem(fx: SoftHsmFixture, label: string): string {
  return fx.tokens[0]!.keys.find((k) => k.label === label)!.publicKeyPem;
}

/** Checks a signature with node:crypto directly, independently of the library's verifier. */
export function nodeVerifies(pem: string, algorithm: SignatureAlgorithm, format: SignatureFormat, data: string, sig: Buffer): boolean {
  const dsaEncoding = format === 'der' ? 'der' : 'ieee-p1363';
  switch (algorithm) {
    case 'ECDSA-SHA256':
      return verify('sha256', Buffer.from(data), { key: pem, dsaEncoding }, sig);
    case 'ECDSA-SHA384':
      return verify('sha384', Buffer.from(data), { key: pem, dsaEncoding }, sig);
    case 'RSA-PKCS1-SHA256':
      return verify('sha256', Buffer.from(data), pem, sig);
    case 'Ed25519':
      return verify(null, Buffer.from(data), pem, sig);
    default:
      throw new Error(`not covered: ${algorithm}`);
  }
}

export async function signAndVerifyMany(fx: SoftHsmFixture, pool: SessionPool, count: number): Promise<void> {
  const keys = new Map<string, TokenKey>();
  for (const label of LABELS) keys.set(label, await pool.findPrivateKey({ label }));
  const requests = Array.from({ length: count }, (_, i) => {
    const label = LABELS[i % LABELS.length]!;
    // Some ECDSA signatures in DER, so the worker path's output formatting is covered too.
    const format: SignatureFormat = label.startsWith('p') && i % 3 === 0 ? 'der' : 'raw';
    return { label, format, algorithm: defaultAlgorithm(keys.get(label)!), challenge: `challenge ${i} for ${label}` };
  });
  const signatures = await Promise.all(requests.map((r) => pool.signChallenge({ label: r.label }, r.challenge, { format: r.format })));
  requests.forEach((r, i) => {
    const pem = publicKeyPem(fx, r.label);
    expect(verifySignature(pem, r.challenge, signatures[i]!, { algorithm: r.algorithm, format: r.format }), `${r.label} #${i}`).toBe(true);
    expect(nodeVerifies(pem, r.algorithm, r.format, r.challenge, signatures[i]!), `${r.label} #${i} (node:crypto)`).toBe(true);
  });
}

