// Which signature algorithms a public key may be checked with. The credential's key decides, never
// the client: a P-256 key only verifies ECDSA-SHA256, so no algorithm-confusion downgrade exists.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { SignatureAlgorithm } from '../../algorithms/signature.js';

export type CredentialKeyType = 'ec-p256' | 'ec-p384' | 'rsa' | 'ed25519';

export interface CredentialKeyInfo {
  keyType: CredentialKeyType;
  /** RSA modulus size in bits; undefined for other keys. */
  modulusBits: number | undefined;
  /** The algorithms a signature by this key may claim. */
  algorithms: readonly SignatureAlgorithm[];
}

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;

/** Why a key is refused; undefined when it is acceptable. */
export type KeyRefusal = 'unsupported_algorithm' | 'weak_key';

/** Classifies an SPKI public key; `refusal` says why it cannot be enrolled. */
export function classifyKey(spki: Uint8Array | KeyObject): CredentialKeyInfo | { refusal: KeyRefusal } {
  let key: KeyObject;
  try {
    key = spki instanceof Uint8Array ? createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }) : spki;
  } catch {
    return { refusal: 'unsupported_algorithm' };
  }
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1') return { keyType: 'ec-p256', modulusBits: undefined, algorithms: ['ECDSA-SHA256'] };
      if (details.namedCurve === 'secp384r1') return { keyType: 'ec-p384', modulusBits: undefined, algorithms: ['ECDSA-SHA384'] };
      return { refusal: 'unsupported_algorithm' };
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return { refusal: 'weak_key' };
      return { keyType: 'rsa', modulusBits: bits, algorithms: ['RSA-PKCS1-SHA256', 'RSA-PSS-SHA256'] };
    }
    case 'ed25519':
      return { keyType: 'ed25519', modulusBits: undefined, algorithms: ['Ed25519'] };
    default:
      return { refusal: 'unsupported_algorithm' };
  }
}
