// Signing on the token: which mechanism an algorithm (src/algorithms/) takes, what the host hashes
// first, how big the output is, and how the result is encoded.
import { hash } from 'node:crypto';
import { ECDSA_HASH, rawToDer, SIGNATURE_ALGORITHMS, toBuffer, type SignatureAlgorithm, type SignatureFormat } from '../algorithms/signature.js';
import type { RsaPSS as RsaPssParams } from 'pkcs11js';
import { pkcs11js, type RawMechanism } from './binding.js';
import { CKM_EDDSA } from './constants.js';
import { curveSpec } from './curves.js';
import { InvalidArgumentError, KeyTypeMismatchError } from './errors.js';
import type { TokenKey } from './objects.js';

export interface SignOptions {
  /** Defaults from the key: ECDSA with the curve's hash, RSA PKCS#1 v1.5 SHA-256, or Ed25519. */
  algorithm?: SignatureAlgorithm;
  format?: SignatureFormat;
}

export interface PreparedSignature {
  mechanism: RawMechanism;
  /** What goes into C_Sign: the host-side digest for ECDSA, the challenge otherwise. */
  input: Buffer;
  outputLength: number;
  algorithm: SignatureAlgorithm;
  format: SignatureFormat;
}

// One frozen object per mechanism, made once: pkcs11js only reads them, and a signature that
// builds its mechanism afresh pays for the allocation (and its collection) on every call.
const ECDSA: RawMechanism = Object.freeze({ mechanism: pkcs11js.CKM_ECDSA });
const RSA_PKCS1_SHA256: RawMechanism = Object.freeze({ mechanism: pkcs11js.CKM_SHA256_RSA_PKCS });
const RSA_PSS_SHA256: RawMechanism = Object.freeze({
  mechanism: pkcs11js.CKM_SHA256_RSA_PKCS_PSS,
  parameter: Object.freeze({ type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, saltLen: 32 } as RsaPssParams),
});
const EDDSA: RawMechanism = Object.freeze({ mechanism: CKM_EDDSA });

/** The defaults, shared: a `{}` per call is one more allocation on the signing path. */
export const DEFAULT_SIGN_OPTIONS: SignOptions = Object.freeze({});

export function defaultAlgorithm(key: Pick<TokenKey, 'keyType' | 'curve'>): SignatureAlgorithm {
  if (key.keyType === 'rsa') return 'RSA-PKCS1-SHA256';
  if (key.keyType === 'ed25519') return 'Ed25519';
  return key.curve === 'P-384' ? 'ECDSA-SHA384' : 'ECDSA-SHA256';
}

function keyTypeOf(algorithm: SignatureAlgorithm): TokenKey['keyType'] {
  if (algorithm.startsWith('ECDSA')) return 'ec';
  if (algorithm.startsWith('RSA')) return 'rsa';
  return 'ed25519';
}

export function prepareSignature(key: TokenKey, challenge: Uint8Array | string, options: SignOptions = DEFAULT_SIGN_OPTIONS): PreparedSignature {
  const data = toBuffer(challenge, 'challenge');
  const algorithm = options.algorithm ?? defaultAlgorithm(key);
  if (!SIGNATURE_ALGORITHMS.includes(algorithm)) throw new InvalidArgumentError(`unknown signature algorithm ${String(algorithm)}`);
  const format = options.format ?? 'raw';
  if (format !== 'raw' && format !== 'der') throw new InvalidArgumentError(`unknown signature format ${String(format)}`);
  if (key.objectClass !== 'privateKey') throw new KeyTypeMismatchError(`key "${key.label}" is not a private key`);
  if (keyTypeOf(algorithm) !== key.keyType) {
    throw new KeyTypeMismatchError(`${algorithm} needs a ${keyTypeOf(algorithm)} key; "${key.label}" is ${key.keyType}`);
  }
  switch (algorithm) {
    case 'ECDSA-SHA256':
    case 'ECDSA-SHA384':
      return {
        mechanism: ECDSA,
        // The one-shot hash, as a 'binary' (latin1) string copied into a pooled Buffer:
        // `hash(…, 'buffer')` gives each digest a malloc'd backing store of its own, ~1.1 µs a
        // P-256 signature on the pool's event loop against ~0.3 µs this way (latin1 maps every
        // byte to itself).
        input: Buffer.from(hash(ECDSA_HASH[algorithm], data, 'binary'), 'binary'),
        outputLength: 2 * curveSpec(key.curve!).size,
        algorithm,
        format,
      };
    case 'RSA-PKCS1-SHA256':
      return { mechanism: RSA_PKCS1_SHA256, input: data, outputLength: key.modulusBits! / 8, algorithm, format };
    case 'RSA-PSS-SHA256':
      return { mechanism: RSA_PSS_SHA256, input: data, outputLength: key.modulusBits! / 8, algorithm, format };
    case 'Ed25519':
      return { mechanism: EDDSA, input: data, outputLength: 64, algorithm, format };
  }
}

/** Turns the token's output into the requested format (only ECDSA has a choice). */
export function finishSignature(prepared: PreparedSignature, output: Buffer): Buffer {
  if (prepared.algorithm.startsWith('ECDSA') && prepared.format === 'der') return rawToDer(output);
  return output;
}

// The host-side half, re-exported for the token layer's callers.
export { SIGNATURE_ALGORITHMS, rawToDer, toBuffer, verifySignature, verifySignatureAsync } from '../algorithms/signature.js';
export type { SignatureAlgorithm, SignatureFormat, VerificationKey, VerifyOptions } from '../algorithms/signature.js';
