// Checks a token's answer to a challenge: the signature over the canonical challenge message,
// made by the enrolled key, with an algorithm that key allows. Returns a reason instead of
// throwing, so the caller records it in the audit log and answers generically.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SIGNATURE_ALGORITHMS, verifySignature, verifySignatureAsync, type SignatureAlgorithm, type SignatureFormat } from '../../algorithms/signature.js';
import { challengeMessage, type ChallengeMessageFields } from '../protocol.js';
import { classifyKey, type CredentialKeyInfo } from './key-algorithm.js';

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

// Parsing an SPKI and reading its details costs more than an ECDSA verification: enrolled keys
// are parsed once (by their DER bytes) and kept, a bounded number of them.
const parsed = new Map<string, { key: KeyObject; info: CredentialKeyInfo } | undefined>();
const PARSED_MAX = 10_000;

function parseKey(spki: Uint8Array | KeyObject): { key: KeyObject; info: CredentialKeyInfo } | undefined {
  if (!(spki instanceof Uint8Array)) {
    const info = classifyKey(spki);
    return 'refusal' in info ? undefined : { key: spki, info };
  }
  const id = Buffer.from(spki).toString('base64');
  if (parsed.has(id)) return parsed.get(id);
  let result: { key: KeyObject; info: CredentialKeyInfo } | undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    const info = classifyKey(key);
    result = 'refusal' in info ? undefined : { key, info };
  } catch {
    result = undefined;
  }
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  parsed.set(id, result);
  return result;
}

/**
 * Whether a check is cheaper than handing it to libuv's thread pool. The hand-off (a job, a
 * wake-up on another thread, a callback back on the event loop) costs ~30–60 µs of CPU and two
 * context switches; a P-256 or Ed25519 verification ~100 µs, RSA up to 4096 bits less. Those run
 * on the event loop, a pause it can afford; P-384 (~1 ms) and larger RSA keys go to the pool.
 */
function cheapToVerify(info: CredentialKeyInfo): boolean {
  if (info.keyType === 'ec-p384') return false;
  return info.modulusBits === undefined || info.modulusBits <= 4096;
}

/** Checks the signature: on the event loop when that is cheaper than the thread pool (above), else there. */
export async function checkChallengeResponse(response: ResponseToCheck): Promise<ResponseCheck> {
  const parsedKey = parseKey(response.publicKey);
  if (!parsedKey) return { ok: false, reason: 'bad_public_key' };
  const { key, info } = parsedKey;
  // The key decides which algorithms count; an algorithm the client names outside that set is refused.
  if (!SIGNATURE_ALGORITHMS.includes(response.algorithm) || !info.algorithms.includes(response.algorithm)) return { ok: false, reason: 'algorithm_not_allowed' };
  const format = response.format ?? 'raw';
  if (format !== 'raw' && format !== 'der') return { ok: false, reason: 'algorithm_not_allowed' };
  const signature = response.signature instanceof Uint8Array ? response.signature : new Uint8Array();
  const args = [key, challengeMessage(response.message), signature, { algorithm: response.algorithm, format }] as const;
  const valid = cheapToVerify(info) ? verifySignature(...args) : await verifySignatureAsync(...args);
  return valid ? { ok: true } : { ok: false, reason: 'bad_signature' };
}
