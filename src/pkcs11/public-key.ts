// Public keys read off the token, exported as SPKI, JWK or a WebCrypto CryptoKey.
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { pkcs11js, type Handle, type RawPkcs11 } from './binding.js';
import { curveSpec } from './curves.js';
import { KeyTypeMismatchError } from './errors.js';
import { readAttributes, type TokenKey } from './objects.js';

/** CKA_EC_POINT is specified as a DER OCTET STRING, but some modules return the bare point. */
export function unwrapEcPoint(value: Buffer, expectedLength: number): Buffer {
  if (value.length === expectedLength) return value;
  if (value[0] === 0x04 && value.length > 2) {
    let offset = 2;
    let length = value[1]!;
    if (length & 0x80) {
      const n = length & 0x7f;
      length = value.subarray(2, 2 + n).reduce((acc, b) => acc * 256 + b, 0);
      offset = 2 + n;
    }
    if (offset + length === value.length && length === expectedLength) return value.subarray(offset);
  }
  throw new KeyTypeMismatchError('CKA_EC_POINT has an unexpected encoding');
}

/**
 * A public key as a JSON Web Key (RFC 7517): `EC` (crv, x, y), `RSA` (n, e) or `OKP` (crv, x).
 * The package's own type, so the published declarations do not lean on node:crypto's
 * `JsonWebKey`, which @types/node 25 and later no longer export.
 */
export type Jwk = {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  [member: string]: unknown;
};

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

export function publicKeyJwk(lib: RawPkcs11, session: Handle, key: TokenKey): Jwk {
  if (key.keyType === 'rsa') {
    const attrs = readAttributes(lib, session, key.handle, [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT]);
    return { kty: 'RSA', n: b64url(attrs.get(pkcs11js.CKA_MODULUS)!), e: b64url(attrs.get(pkcs11js.CKA_PUBLIC_EXPONENT)!) };
  }
  const point = readAttributes(lib, session, key.handle, [pkcs11js.CKA_EC_POINT]).get(pkcs11js.CKA_EC_POINT)!;
  if (key.keyType === 'ed25519') {
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(unwrapEcPoint(point, 32)) };
  }
  const size = curveSpec(key.curve!).size;
  const raw = unwrapEcPoint(point, 1 + 2 * size);
  if (raw[0] !== 0x04) throw new KeyTypeMismatchError('only uncompressed EC points are supported');
  return {
    kty: 'EC',
    crv: key.curve!,
    x: b64url(raw.subarray(1, 1 + size)),
    y: b64url(raw.subarray(1 + size)),
  };
}

/** A public key from the token, in every form a verifier wants. */
export class PublicKey {
  readonly keyType: TokenKey['keyType'];
  readonly curve: TokenKey['curve'];
  readonly #jwk: Jwk;
  readonly #keyObject: KeyObject;

  constructor(jwk: Jwk, key: Pick<TokenKey, 'keyType' | 'curve'>) {
    this.#jwk = jwk;
    this.keyType = key.keyType;
    this.curve = key.curve;
    this.#keyObject = createPublicKey({ key: jwk, format: 'jwk' });
  }

  keyObject(): KeyObject {
    return this.#keyObject;
  }

  spki(): Buffer {
    return this.#keyObject.export({ type: 'spki', format: 'der' });
  }

  pem(): string {
    return this.#keyObject.export({ type: 'spki', format: 'pem' }).toString();
  }

  jwk(): Jwk {
    return { ...this.#jwk };
  }

  /** A WebCrypto key for verification; the algorithm follows the key unless given. */
  async cryptoKey(algorithm?: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm): Promise<webcrypto.CryptoKey> {
    const alg =
      algorithm ??
      (this.keyType === 'rsa'
        ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
        : this.keyType === 'ed25519'
          ? { name: 'Ed25519' }
          : { name: 'ECDSA', namedCurve: this.curve! });
    return webcrypto.subtle.importKey('spki', this.spki(), alg, true, ['verify']);
  }
}
