// A WebCrypto face for keys on the token, so WebCrypto users (@peculiar/x509's certificate, CSR and
// CRL generators) can sign with them. `crypto.subtle.sign` with a TokenCryptoKey signs on the token
// through `session.signChallenge`, returning what WebCrypto returns (ECDSA: raw r‖s); every other
// call goes to Node's own WebCrypto. The public half is a real CryptoKey made from the token's SPKI.
//
// What x509 touches (build/x509.es.js, 2.2): `subtle.exportKey('spki', keys.publicKey)`,
// `subtle.sign({...signingAlgorithm, ...privateKey.algorithm}, privateKey, tbs)` (so the private
// key's `algorithm` decides what is written into the certificate), `subtle.digest` for key
// identifiers, `getRandomValues` for serial numbers, and a CryptoKey duck test on `type`,
// `usages`, `algorithm` and `extractable`.
import { webcrypto } from 'node:crypto';
import { InvalidArgumentError, KeyTypeMismatchError, MechanismNotSupportedError } from './errors.js';
import type { ObjectRef, TokenKey } from './objects.js';
import type { Session } from './session.js';
import { defaultAlgorithm, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './signing.js';

type Hash = 'SHA-256' | 'SHA-384';

/** WebCrypto's BufferSource, spelled out: @types/node 25 and later dropped `webcrypto.BufferSource`. */
type BufferSource = ArrayBuffer | ArrayBufferView;

/** The WebCrypto algorithm of a TokenCryptoKey: its key algorithm and signature parameters in one. */
export type TokenKeyAlgorithm =
  | { readonly name: 'ECDSA'; readonly namedCurve: string; readonly hash: { readonly name: Hash } }
  | { readonly name: 'RSASSA-PKCS1-v1_5'; readonly modulusLength: number; readonly hash: { readonly name: 'SHA-256' } }
  | { readonly name: 'RSA-PSS'; readonly modulusLength: number; readonly hash: { readonly name: 'SHA-256' }; readonly saltLength: 32 }
  | { readonly name: 'Ed25519' };

/** Our algorithm names, as WebCrypto spells them, and the key type each needs. */
function webAlgorithm(key: TokenKey, algorithm: SignatureAlgorithm): TokenKeyAlgorithm {
  const need = (keyType: TokenKey['keyType']): void => {
    if (key.keyType !== keyType) throw new KeyTypeMismatchError(`${algorithm} needs a ${keyType} key; "${key.label}" is ${key.keyType}`);
  };
  switch (algorithm) {
    case 'ECDSA-SHA256':
    case 'ECDSA-SHA384':
      need('ec');
      return { name: 'ECDSA', namedCurve: key.curve!, hash: { name: algorithm === 'ECDSA-SHA256' ? 'SHA-256' : 'SHA-384' } };
    case 'RSA-PKCS1-SHA256':
      need('rsa');
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: key.modulusBits!, hash: { name: 'SHA-256' } };
    case 'RSA-PSS-SHA256':
      need('rsa');
      return { name: 'RSA-PSS', modulusLength: key.modulusBits!, hash: { name: 'SHA-256' }, saltLength: 32 };
    case 'Ed25519':
      need('ed25519');
      return { name: 'Ed25519' };
    default:
      throw new InvalidArgumentError(`unknown signature algorithm ${String(algorithm)}; use one of ${SIGNATURE_ALGORITHMS.join(', ')}`);
  }
}

/** Module-private: only this module's `subtle.sign` can make a TokenCryptoKey sign. */
const SIGN = Symbol('tokengate.sign');

/**
 * A private key on the token dressed as a WebCrypto CryptoKey: it can only sign, only through the
 * `subtle` of `tokenCrypto()`, and only with the algorithm it was made for. It holds its session:
 * once that is closed, signing fails with SessionClosedError.
 */
export class TokenCryptoKey implements webcrypto.CryptoKey {
  readonly type = 'private' as const;
  readonly extractable = false;
  readonly usages: webcrypto.KeyUsage[] = ['sign'];
  readonly algorithm: TokenKeyAlgorithm;
  readonly #session: Session;
  readonly #key: TokenKey;
  readonly #signatureAlgorithm: SignatureAlgorithm;

  /** Internal: use `tokenKeyPair()`. */
  constructor(session: Session, key: TokenKey, signatureAlgorithm: SignatureAlgorithm) {
    if (key.objectClass !== 'privateKey') throw new KeyTypeMismatchError(`key "${key.label}" is not a private key`);
    this.algorithm = Object.freeze(webAlgorithm(key, signatureAlgorithm));
    this.#session = session;
    this.#key = key;
    this.#signatureAlgorithm = signatureAlgorithm;
  }

  /** The token key this stands for. */
  get tokenKey(): TokenKey {
    return this.#key;
  }

  /** Our name of the one algorithm this key signs with. */
  get signatureAlgorithm(): SignatureAlgorithm {
    return this.#signatureAlgorithm;
  }

  /** Signs on the token, when the WebCrypto call asked for this key's algorithm. */
  async [SIGN](params: unknown, data: BufferSource): Promise<ArrayBuffer> {
    checkRequestedAlgorithm(params, this.algorithm);
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    // format 'raw': WebCrypto's ECDSA signature is r‖s (x509 re-encodes it as DER for the certificate).
    const signature = await this.#session.signChallenge(this.#key, bytes, { algorithm: this.#signatureAlgorithm, format: 'raw' });
    return new Uint8Array(signature).buffer;
  }
}

function hashName(hash: unknown): string | undefined {
  if (typeof hash === 'string') return hash.toUpperCase();
  if (typeof hash === 'object' && hash !== null && typeof (hash as { name?: unknown }).name === 'string') {
    return (hash as { name: string }).name.toUpperCase();
  }
  return undefined;
}

/**
 * A WebCrypto sign call names the algorithm again (ECDSA: with its hash, RSA-PSS: with its salt
 * length); it must be the one the key was made for, as a CryptoKey's algorithm is fixed.
 */
function checkRequestedAlgorithm(params: unknown, own: TokenKeyAlgorithm): void {
  const requested = typeof params === 'string' ? { name: params } : (params as Record<string, unknown> | null);
  const name = typeof requested?.name === 'string' ? requested.name : undefined;
  if (name === undefined || name.toUpperCase() !== own.name.toUpperCase()) {
    throw new KeyTypeMismatchError(`this token key signs with ${own.name}, not ${String(name)}`);
  }
  if (own.name === 'ECDSA' && requested !== null && 'hash' in requested && hashName(requested.hash) !== own.hash.name) {
    throw new MechanismNotSupportedError(`this token key signs ECDSA with ${own.hash.name}, not ${String(hashName(requested.hash))}`);
  }
  if (own.name === 'RSA-PSS' && requested !== null && 'saltLength' in requested && requested.saltLength !== own.saltLength) {
    throw new MechanismNotSupportedError(`this token key signs RSA-PSS with a ${own.saltLength}-byte salt`);
  }
}

/** The WebCrypto object `tokenCrypto()` returns: Node's, with `subtle.sign` routed to the token for TokenCryptoKeys. */
export type TokenCrypto = Pick<webcrypto.Crypto, 'subtle' | 'getRandomValues' | 'randomUUID'>;

async function refuseTokenKey(method: string): Promise<never> {
  throw new InvalidArgumentError(`a key on the token can only sign; subtle.${method} cannot use it`);
}

let shared: TokenCrypto | undefined;

/** A WebCrypto `Crypto` that signs with TokenCryptoKeys on their token and leaves everything else to Node. */
export function tokenCrypto(): TokenCrypto {
  if (shared) return shared;
  const real = webcrypto.subtle;
  // Node's SubtleCrypto methods check their receiver, so each is called on the real object.
  const subtle = new Proxy(real, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop === 'sign') {
        return (algorithm: unknown, key: unknown, data: BufferSource): Promise<ArrayBuffer> =>
          key instanceof TokenCryptoKey ? key[SIGN](algorithm, data) : Reflect.apply(value, target, [algorithm, key, data]);
      }
      return (...args: unknown[]): unknown =>
        args.some((a) => a instanceof TokenCryptoKey) ? refuseTokenKey(String(prop)) : Reflect.apply(value, target, args);
    },
  });
  shared = Object.freeze({
    subtle,
    getRandomValues: webcrypto.getRandomValues.bind(webcrypto) as TokenCrypto['getRandomValues'],
    randomUUID: webcrypto.randomUUID.bind(webcrypto),
  });
  return shared;
}

export interface TokenKeyPair {
  /** Signs on the token, through `tokenCrypto().subtle.sign` only. */
  privateKey: TokenCryptoKey;
  /** A real (Node) CryptoKey made from the token's public key, usable with any WebCrypto. */
  publicKey: webcrypto.CryptoKey;
  /** The algorithm to sign with, for WebCrypto calls and x509's `signingAlgorithm`. */
  signingAlgorithm: TokenKeyAlgorithm;
}

/**
 * A key pair on the token as WebCrypto keys: `key` is a private key (or names one); `algorithm`
 * defaults from the key (ECDSA with the curve's hash, RSA PKCS#1 v1.5 SHA-256, Ed25519).
 * Everything is checked before anything is signed.
 */
export async function tokenKeyPair(session: Session, key: TokenKey | ObjectRef, options: { algorithm?: SignatureAlgorithm } = {}): Promise<TokenKeyPair> {
  if (typeof key !== 'object' || key === null) throw new InvalidArgumentError('a key is a TokenKey, { label } or { id }');
  const resolved = 'handle' in key ? key : await session.findPrivateKey(key);
  const privateKey = new TokenCryptoKey(session, resolved, options.algorithm ?? defaultAlgorithm(resolved));
  const alg = privateKey.algorithm;
  const importParams: webcrypto.Algorithm | webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams =
    alg.name === 'ECDSA' ? { name: alg.name, namedCurve: alg.namedCurve } : alg.name === 'Ed25519' ? { name: alg.name } : { name: alg.name, hash: 'SHA-256' };
  const publicKey = await (await session.publicKey(resolved)).cryptoKey(importParams);
  return { privateKey, publicKey, signingAlgorithm: alg };
}
