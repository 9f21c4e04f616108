// What makes a key's answer checkable by any WebAuthn verifier: a browser-style clientDataJSON
// whose SHA-256 is what the key signs, the authenticator data parsed (rpIdHash, flags, counter,
// attested credential), a COSE public key as a Node KeyObject, and the attestation object.
import { createPublicKey, hash, type KeyObject } from 'node:crypto';
import { FidoNotSupportedError, FidoProtocolError } from '../errors/index.js';
import { decodeCanonicalFirst, encodeCbor, optionalBytes, optionalInt, type CborMap } from './cbor.js';
import { COSE_ALG } from './constants.js';

export const AUTH_DATA_FLAGS = { UP: 0x01, UV: 0x04, AT: 0x40, ED: 0x80 } as const;

export interface ClientData {
  /** The exact bytes: the verifier hashes what it is given. */
  json: string;
  hash: Buffer;
}

/** `{"type":…,"challenge":base64url,"origin":…,"crossOrigin":false}`, as a browser writes it. */
export function clientData(type: 'webauthn.get' | 'webauthn.create', challenge: Uint8Array, origin: string): ClientData {
  const json = JSON.stringify({ type, challenge: Buffer.from(challenge).toString('base64url'), origin, crossOrigin: false });
  return { json, hash: hash('sha256', json, 'buffer') };
}

export function rpIdHash(rpId: string): Buffer {
  return hash('sha256', rpId, 'buffer');
}

export interface AttestedCredential {
  aaguid: string;
  credentialId: Uint8Array;
  /** The COSE_Key as the key sent it. */
  publicKeyCose: Uint8Array;
  algorithm: number;
}

export interface AuthenticatorData {
  rpIdHash: Uint8Array;
  flags: number;
  userPresent: boolean;
  userVerified: boolean;
  signCount: number;
  attested: AttestedCredential | undefined;
}

export function parseAuthenticatorData(authData: Uint8Array): AuthenticatorData {
  if (authData.length < 37) throw new FidoProtocolError(`authenticator data of ${authData.length} bytes (at least 37)`);
  const view = new DataView(authData.buffer, authData.byteOffset, authData.byteLength);
  const flags = authData[32]!;
  let attested: AttestedCredential | undefined;
  if (flags & AUTH_DATA_FLAGS.AT) {
    if (authData.length < 55) throw new FidoProtocolError('authenticator data cut short in its attested credential');
    const idLength = view.getUint16(53);
    const idEnd = 55 + idLength;
    if (authData.length < idEnd + 1) throw new FidoProtocolError('authenticator data cut short in its credential id');
    const [cose, rest] = decodeCanonicalFirst(authData.subarray(idEnd), 'the credential public key');
    if (!(cose instanceof Map)) throw new FidoProtocolError('the credential public key is not a COSE map');
    if (rest.length > 0 && !(flags & AUTH_DATA_FLAGS.ED)) throw new FidoProtocolError('authenticator data has bytes after the public key');
    const algorithm = optionalInt(cose, 3, 'the credential public key');
    if (algorithm === undefined) throw new FidoProtocolError('the credential public key names no algorithm');
    attested = {
      aaguid: Buffer.from(authData.subarray(37, 53)).toString('hex'),
      credentialId: authData.slice(55, idEnd),
      publicKeyCose: authData.slice(idEnd, authData.length - rest.length),
      algorithm,
    };
  }
  return {
    rpIdHash: authData.slice(0, 32),
    flags,
    userPresent: (flags & AUTH_DATA_FLAGS.UP) !== 0,
    userVerified: (flags & AUTH_DATA_FLAGS.UV) !== 0,
    signCount: view.getUint32(33),
    attested,
  };
}

/** A COSE_Key (ES256 on P-256, or EdDSA on Ed25519) as a Node public KeyObject. */
export function coseToPublicKey(coseBytes: Uint8Array): KeyObject {
  const [cose] = decodeCanonicalFirst(coseBytes, 'the credential public key');
  if (!(cose instanceof Map)) throw new FidoProtocolError('the credential public key is not a COSE map');
  return publicKeyFromCose(cose);
}

function publicKeyFromCose(cose: CborMap): KeyObject {
  const what = 'the credential public key';
  const kty = optionalInt(cose, 1, what);
  const alg = optionalInt(cose, 3, what);
  const crv = optionalInt(cose, -1, what);
  const x = optionalBytes(cose, -2, what);
  if (kty === 2 && alg === COSE_ALG.ES256 && crv === 1) {
    const y = optionalBytes(cose, -3, what);
    if (x?.length !== 32 || y?.length !== 32) throw new FidoProtocolError(`${what}: P-256 coordinates of the wrong size`);
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(x), y: b64u(y) }, format: 'jwk' });
  }
  if (kty === 1 && alg === COSE_ALG.EdDSA && crv === 6) {
    if (x?.length !== 32) throw new FidoProtocolError(`${what}: an Ed25519 key of the wrong size`);
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(x) }, format: 'jwk' });
  }
  throw new FidoNotSupportedError(`${what} uses COSE kty ${String(kty)} alg ${String(alg)} crv ${String(crv)}, which tokengate does not check`);
}

/** The attestation object a browser hands a relying party: CBOR {fmt, attStmt, authData}. */
export function attestationObject(fmt: string, attStmt: CborMap, authData: Uint8Array): Uint8Array {
  return encodeCbor(new Map<string, unknown>([['fmt', fmt], ['attStmt', attStmt], ['authData', authData]]));
}

function b64u(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}
