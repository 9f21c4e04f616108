// Checks a token's answer to a challenge: the signature over the canonical challenge message,
// made by the enrolled key, with an algorithm that key allows. Returns a reason instead of
// throwing, so the caller records it in the audit log and answers generically.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SIGNATURE_ALGORITHMS, verifySignature, type SignatureAlgorithm, type SignatureFormat } from '../../pkcs11/signing.js';
import { challengeMessage, type ChallengeMessageFields } from '../protocol.js';
import { classifyKey } from './key-algorithm.js';

export interface ResponseToCheck {
  /** The enrolled credential's public key (DER SPKI or a KeyObject). */
  publicKey: Uint8Array | KeyObject;
  /** The fields the verifier bound the challenge to: its own, never the client's claims. */
  message: ChallengeMessageFields;
  signature: Uint8Array;
  algorithm: SignatureAlgorithm;
  /** ECDSA signatures: raw r‖s (the default) or DER. */
  format?: SignatureFormat;
}

export type ResponseCheck = { ok: true } | { ok: false; reason: 'algorithm_not_allowed' | 'bad_signature' | 'bad_public_key' };

export function checkChallengeResponse(response: ResponseToCheck): ResponseCheck {
  let key: KeyObject;
  try {
    key = response.publicKey instanceof Uint8Array ? createPublicKey({ key: Buffer.from(response.publicKey), format: 'der', type: 'spki' }) : response.publicKey;
  } catch {
    return { ok: false, reason: 'bad_public_key' };
  }
  const info = classifyKey(key);
  if ('refusal' in info) return { ok: false, reason: 'bad_public_key' };
  // The key decides which algorithms count; an algorithm the client names outside that set is refused.
  if (!SIGNATURE_ALGORITHMS.includes(response.algorithm) || !info.algorithms.includes(response.algorithm)) return { ok: false, reason: 'algorithm_not_allowed' };
  const format = response.format ?? 'raw';
  if (format !== 'raw' && format !== 'der') return { ok: false, reason: 'algorithm_not_allowed' };
  const signature = response.signature instanceof Uint8Array ? response.signature : new Uint8Array();
  const valid = verifySignature(key, challengeMessage(response.message), signature, { algorithm: response.algorithm, format });
  return valid ? { ok: true } : { ok: false, reason: 'bad_signature' };
}
