// Signature algorithms as the host sees them: the names, the encodings, and verification with
// node:crypto. No binding here: the verifier checks signatures without loading a PKCS#11 addon,
// and the token side (pkcs11/signing.ts) maps the same names to mechanisms.
import { constants, createPublicKey, KeyObject, verify as nodeVerify, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { InvalidArgumentError } from '../errors/index.js';
import { X509Certificate } from './x509.js';

export type SignatureAlgorithm = 'ECDSA-SHA256' | 'ECDSA-SHA384' | 'RSA-PKCS1-SHA256' | 'RSA-PSS-SHA256' | 'Ed25519';
/** ECDSA only: `raw` is r‖s (as WebCrypto and JOSE use), `der` is the X9.62 SEQUENCE (as OpenSSL uses). */
export type SignatureFormat = 'raw' | 'der';

export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  'ECDSA-SHA256',
  'ECDSA-SHA384',
  'RSA-PKCS1-SHA256',
  'RSA-PSS-SHA256',
  'Ed25519',
];

/** The hash the host applies before ECDSA (tokens' CKM_ECDSA signs a digest). */
export const ECDSA_HASH = { 'ECDSA-SHA256': 'sha256', 'ECDSA-SHA384': 'sha384' } as const;

export function toBuffer(data: Uint8Array | string, what: string): Buffer {
  if (typeof data === 'string') data = Buffer.from(data, 'utf8');
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`${what} must be bytes or a string`);
  if (data.length === 0) throw new InvalidArgumentError(`${what} must not be empty`);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Checks the key fits the algorithm and works out the mechanism and input, before the token is touched. */
function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let v = bytes.subarray(i);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02, v.length]), v]);
}

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.from([n]) : Buffer.from([0x81, n]);
}

/** r‖s → ECDSA-Sig-Value (SEQUENCE of two INTEGERs). */
export function rawToDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** Anything that hands out a node:crypto KeyObject, such as a PublicKey read off a token. */
export interface KeyObjectSource {
  keyObject(): KeyObject;
}

export type VerificationKey = KeyObject | KeyObjectSource | X509Certificate | NodeX509 | webcrypto.CryptoKey | Uint8Array | string;

/**
 * node:crypto's `webcrypto.CryptoKey` is undefined on Node 20 (only the global exists), so
 * `instanceof webcrypto.CryptoKey` threw a TypeError there for every key that reached it.
 */
function isCryptoKey(key: unknown): key is webcrypto.CryptoKey {
  const ctor = (webcrypto as { CryptoKey?: unknown }).CryptoKey ?? (globalThis as { CryptoKey?: unknown }).CryptoKey;
  return typeof ctor === 'function' && key instanceof ctor;
}

function toKeyObject(key: VerificationKey): KeyObject {
  try {
    if (key instanceof KeyObject) return key;
    if (typeof (key as Partial<KeyObjectSource>).keyObject === 'function') return (key as KeyObjectSource).keyObject();
    if (key instanceof X509Certificate) return createPublicKey({ key: Buffer.from(key.publicKey.rawData), format: 'der', type: 'spki' });
    if (key instanceof NodeX509) return key.publicKey;
    if (typeof key === 'string') return createPublicKey(key);
    if (key instanceof Uint8Array) return createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' });
    if (isCryptoKey(key)) return KeyObject.from(key);
  } catch (err) {
    // A key that cannot be parsed is the caller's mistake, not a failed verification.
    throw new InvalidArgumentError('the verification key cannot be read', { cause: err });
  }
  throw new InvalidArgumentError('unsupported verification key type');
}

export interface VerifyOptions {
  algorithm: SignatureAlgorithm;
  format?: SignatureFormat;
}

type NodeVerifyArguments = [algorithm: string | null, data: Buffer, key: KeyObject | { key: KeyObject; dsaEncoding?: 'der' | 'ieee-p1363'; padding?: number; saltLength?: number }, signature: Buffer];

/** node:crypto's arguments for one check; a caller's mistake (key, algorithm, empty data) throws. */
function verifyArguments(key: VerificationKey, challenge: Uint8Array | string, signature: Uint8Array, options: VerifyOptions): NodeVerifyArguments {
  const data = toBuffer(challenge, 'challenge');
  const keyObject = toKeyObject(key);
  const sig = Buffer.from(signature);
  switch (options.algorithm) {
    case 'ECDSA-SHA256':
    case 'ECDSA-SHA384':
      return [ECDSA_HASH[options.algorithm], data, { key: keyObject, dsaEncoding: options.format === 'der' ? 'der' : 'ieee-p1363' }, sig];
    case 'RSA-PKCS1-SHA256':
      return ['sha256', data, keyObject, sig];
    case 'RSA-PSS-SHA256':
      return ['sha256', data, { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig];
    case 'Ed25519':
      return [null, data, keyObject, sig];
    default:
      throw new InvalidArgumentError(`unknown signature algorithm ${String(options.algorithm)}`);
  }
}

/** Verifies a signature made by `signChallenge`, on the host with node:crypto. False on any mismatch. */
export function verifySignature(key: VerificationKey, challenge: Uint8Array | string, signature: Uint8Array, options: VerifyOptions): boolean {
  const args = verifyArguments(key, challenge, signature, options);
  try {
    return nodeVerify(...args);
  } catch {
    // A malformed signature (wrong length, bad DER) is a failed verification, not an error.
    return false;
  }
}

/**
 * `verifySignature` on libuv's thread pool: for servers, whose event loop goes on serving while
 * the check runs on another core. Resolves false on any mismatch; a caller's mistake rejects.
 */
export async function verifySignatureAsync(key: VerificationKey, challenge: Uint8Array | string, signature: Uint8Array, options: VerifyOptions): Promise<boolean> {
  const args = verifyArguments(key, challenge, signature, options);
  return new Promise((resolve) => {
    try {
      nodeVerify(...args, (err, valid) => resolve(!err && valid));
    } catch {
      resolve(false);
    }
  });
}
