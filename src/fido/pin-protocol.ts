// PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7): an ECDH P-256 exchange with the key's
// key-agreement key gives a shared secret; PINs travel encrypted under it and requests are
// authenticated with HMAC-SHA-256. Protocol 1: secret = SHA-256(Z), AES-256-CBC with a zero IV,
// MACs cut to 16 bytes. Protocol 2: HKDF-SHA-256 (salt 32 zero bytes) gives an HMAC key and an AES
// key, a random IV goes before each ciphertext, MACs are the full 32 bytes.
import { createCipheriv, createDecipheriv, createECDH, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { FidoProtocolError } from '../errors/index.js';
import { optionalBytes, optionalInt, type CborMap } from './cbor.js';
import { COSE_ALG } from './constants.js';

export type PinProtocolVersion = 1 | 2;

export interface PinProtocol {
  readonly version: PinProtocolVersion;
  /** A new platform key pair against the key's COSE key: our COSE key and the shared secret. */
  agree(peerCoseKey: CborMap): { platformKey: Map<number, unknown>; sharedSecret: Uint8Array };
  encrypt(sharedSecret: Uint8Array, plaintext: Uint8Array): Uint8Array;
  decrypt(sharedSecret: Uint8Array, ciphertext: Uint8Array): Uint8Array;
  /** The MAC of `message` under a shared secret or a pinUvAuthToken. */
  authenticate(key: Uint8Array, message: Uint8Array): Uint8Array;
}

const ZERO_IV = Buffer.alloc(16);

function ecdh(peer: CborMap): { platformKey: Map<number, unknown>; z: Buffer } {
  const what = 'the security key\'s key-agreement key';
  const x = optionalBytes(peer, -2, what);
  const y = optionalBytes(peer, -3, what);
  if (optionalInt(peer, 1, what) !== 2 || optionalInt(peer, -1, what) !== 1 || x?.length !== 32 || y?.length !== 32) {
    throw new FidoProtocolError(`${what} is not a P-256 COSE key`);
  }
  const own = createECDH('prime256v1');
  own.generateKeys();
  let z: Buffer;
  try {
    z = own.computeSecret(Buffer.concat([Buffer.of(4), x, y]));
  } catch (cause) {
    throw new FidoProtocolError(`${what} is not a point on P-256`, { cause });
  }
  const pub = own.getPublicKey();
  const platformKey = new Map<number, unknown>([
    [1, 2],
    [3, COSE_ALG.ECDH_ES_HKDF_256],
    [-1, 1],
    [-2, pub.subarray(1, 33)],
    [-3, pub.subarray(33, 65)],
  ]);
  return { platformKey, z };
}

function aes(key: Uint8Array, iv: Uint8Array, data: Uint8Array, decrypt: boolean): Buffer {
  if (data.length % 16 !== 0) throw new FidoProtocolError('the security key sent ciphertext that is not whole AES blocks');
  const c = decrypt ? createDecipheriv('aes-256-cbc', key, iv) : createCipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

const v1: PinProtocol = {
  version: 1,
  agree(peer) {
    const { platformKey, z } = ecdh(peer);
    return { platformKey, sharedSecret: createHash('sha256').update(z).digest() };
  },
  encrypt: (secret, plaintext) => aes(secret, ZERO_IV, plaintext, false),
  decrypt: (secret, ciphertext) => aes(secret, ZERO_IV, ciphertext, true),
  authenticate: (key, message) => createHmac('sha256', key).update(message).digest().subarray(0, 16),
};

const SALT = Buffer.alloc(32);
const v2: PinProtocol = {
  version: 2,
  agree(peer) {
    const { platformKey, z } = ecdh(peer);
    const hmacKey = Buffer.from(hkdfSync('sha256', z, SALT, 'CTAP2 HMAC key', 32));
    const aesKey = Buffer.from(hkdfSync('sha256', z, SALT, 'CTAP2 AES key', 32));
    return { platformKey, sharedSecret: Buffer.concat([hmacKey, aesKey]) };
  },
  encrypt(secret, plaintext) {
    const iv = randomBytes(16);
    return Buffer.concat([iv, aes(secret.subarray(32), iv, plaintext, false)]);
  },
  decrypt(secret, ciphertext) {
    if (ciphertext.length < 16) throw new FidoProtocolError('the security key sent ciphertext without its IV');
    return aes(secret.subarray(32), ciphertext.subarray(0, 16), ciphertext.subarray(16), true);
  },
  // With the shared secret the HMAC key is its first half; a pinUvAuthToken (32 bytes) is used whole.
  authenticate: (key, message) => createHmac('sha256', key.length === 64 ? key.subarray(0, 32) : key).update(message).digest(),
};

export const PIN_PROTOCOLS: Readonly<Record<PinProtocolVersion, PinProtocol>> = { 1: v1, 2: v2 };
