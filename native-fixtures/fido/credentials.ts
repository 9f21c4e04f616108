// Credentials with real keys (ES256 on P-256, EdDSA on Ed25519) so any verifier can check what the
// simulator signs. Unlike a real key, which wraps the private key into the credential ID, the
// simulator keeps every credential in memory and the ID is random: tests can then look at them.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { CborMap } from './cbor.js';
import { Alg } from './constants.js';

export type CredentialAlg = typeof Alg.ES256 | typeof Alg.EdDSA;

export interface StoredCredential {
  readonly id: Uint8Array;
  /** Absent for U2F registrations, which know only the application parameter. */
  readonly rpId: string | undefined;
  readonly rpIdHash: Uint8Array;
  readonly userId: Uint8Array | undefined;
  readonly userName: string | undefined;
  readonly userDisplayName: string | undefined;
  readonly alg: CredentialAlg;
  readonly resident: boolean;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Per-credential signature counter (used when the sim counts per credential). */
  signCount: number;
  readonly createdAt: number;
}

let created = 0;

export function newCredential(fields: {
  rpId: string | undefined;
  rpIdHash: Uint8Array;
  alg: CredentialAlg;
  resident: boolean;
  userId?: Uint8Array | undefined;
  userName?: string | undefined;
  userDisplayName?: string | undefined;
  idLength?: number;
}): StoredCredential {
  const { privateKey, publicKey } = fields.alg === Alg.ES256 ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return {
    id: randomBytes(fields.idLength ?? 48),
    rpId: fields.rpId,
    rpIdHash: fields.rpIdHash,
    userId: fields.userId,
    userName: fields.userName,
    userDisplayName: fields.userDisplayName,
    alg: fields.alg,
    resident: fields.resident,
    privateKey,
    publicKey,
    signCount: 0,
    createdAt: ++created,
  };
}

export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** The credential public key as a COSE_Key (RFC 8152 / CTAP2 §6.5.6 layout). */
export function coseKey(cred: Pick<StoredCredential, 'alg' | 'publicKey'>): CborMap {
  const jwk = cred.publicKey.export({ format: 'jwk' });
  const b = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
  if (cred.alg === Alg.ES256) {
    return new Map<number, number | Uint8Array>([
      [1, 2],
      [3, Alg.ES256],
      [-1, 1],
      [-2, b(jwk.x)],
      [-3, b(jwk.y)],
    ]);
  }
  return new Map<number, number | Uint8Array>([
    [1, 1],
    [3, Alg.EdDSA],
    [-1, 6],
    [-2, b(jwk.x)],
  ]);
}

/** ES256: DER ECDSA over SHA-256; EdDSA: the raw 64-byte Ed25519 signature. */
export function signWith(cred: Pick<StoredCredential, 'alg' | 'privateKey'>, data: Uint8Array): Buffer {
  return cred.alg === Alg.ES256 ? sign('sha256', data, cred.privateKey) : sign(null, data, cred.privateKey);
}

/** The 65-byte uncompressed P-256 point U2F wants. */
export function rawP256(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

// ---- A U2F attestation certificate: a minimal self-signed X.509 v3, DER built by hand. ----

export interface Attestation {
  privateKey: KeyObject;
  certificate: Buffer;
}

let attestation: Attestation | undefined;

export function u2fAttestation(): Attestation {
  if (attestation) return attestation;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const ecdsaWithSha256 = seq(oid('2a8648ce3d040302'));
  const name = seq(set(seq(oid('550403'), tlv(0x0c, Buffer.from('tokengate simulated authenticator')))));
  const validity = seq(tlv(0x17, Buffer.from('200101000000Z')), tlv(0x17, Buffer.from('491231235959Z')));
  const tbs = seq(tlv(0xa0, tlv(0x02, Buffer.of(2))), tlv(0x02, Buffer.of(0x01, ...randomBytes(8))), ecdsaWithSha256, name, validity, name, spki);
  const signature = sign('sha256', tbs, privateKey);
  const certificate = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.of(0), signature])));
  attestation = { privateKey, certificate };
  return attestation;
}

function tlv(tag: number, value: Buffer): Buffer {
  const n = value.length;
  const len = n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff);
  return Buffer.concat([Buffer.of(tag), len, value]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
