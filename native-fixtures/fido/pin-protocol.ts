// The authenticator's half of PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7), in
// node:crypto only. Each protocol keeps its own key-agreement key and pinUvAuthToken, as the spec's
// initialize() has it; a wrong PIN regenerates the key of the protocol it came through.
import { createCipheriv, createDecipheriv, createECDH, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual, type ECDH } from 'node:crypto';
import { read, type CborMap } from './cbor.js';
import { Alg, Status, fail } from './constants.js';

export type ProtocolVersion = 1 | 2;

export class PinProtocol {
  private ecdh: ECDH = newKey();
  /** 32 random bytes for both protocols (CTAP 2.1 fixes the length). */
  token: Buffer = randomBytes(32);

  constructor(readonly version: ProtocolVersion) {}

  regenerate(): void {
    this.ecdh = newKey();
  }

  resetToken(): void {
    this.token = randomBytes(32);
  }

  /** getKeyAgreement's COSE_Key: EC2 P-256, alg −25 (the spec's value, not the algorithm used). */
  publicKey(): CborMap {
    const point = this.ecdh.getPublicKey();
    return new Map<number, number | Uint8Array>([
      [1, 2],
      [3, Alg.ECDH_ES_HKDF_256],
      [-1, 1],
      [-2, point.subarray(1, 33)],
      [-3, point.subarray(33, 65)],
    ]);
  }

  /** The shared secret from the platform's COSE key; a bad key is INVALID_PARAMETER. */
  decapsulate(peer: CborMap): Buffer {
    const kty = read.int(peer, 1);
    const crv = read.int(peer, -1);
    const x = read.bytes(peer, -2);
    const y = read.bytes(peer, -3);
    if (kty !== 2 || crv !== 1 || x?.length !== 32 || y?.length !== 32) return fail(Status.INVALID_PARAMETER);
    let z: Buffer;
    try {
      z = this.ecdh.computeSecret(Buffer.concat([Buffer.of(4), x, y]));
    } catch {
      return fail(Status.INVALID_PARAMETER);
    }
    if (this.version === 1) return createHash('sha256').update(z).digest();
    const salt = Buffer.alloc(32);
    const hmacKey = Buffer.from(hkdfSync('sha256', z, salt, 'CTAP2 HMAC key', 32));
    const aesKey = Buffer.from(hkdfSync('sha256', z, salt, 'CTAP2 AES key', 32));
    return Buffer.concat([hmacKey, aesKey]);
  }

  encrypt(secret: Buffer, plaintext: Uint8Array): Buffer {
    if (this.version === 1) return aes(true, secret, Buffer.alloc(16), plaintext);
    const iv = randomBytes(16);
    return Buffer.concat([iv, aes(true, secret.subarray(32), iv, plaintext)]);
  }

  /** Undefined when the ciphertext cannot be this protocol's (wrong length). */
  decrypt(secret: Buffer, ciphertext: Uint8Array): Buffer | undefined {
    if (this.version === 1) {
      if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) return undefined;
      return aes(false, secret, Buffer.alloc(16), ciphertext);
    }
    if (ciphertext.length < 32 || ciphertext.length % 16 !== 0) return undefined;
    return aes(false, secret.subarray(32), ciphertext.subarray(0, 16), ciphertext.subarray(16));
  }

  /** authenticate(key, message): protocol 1 keeps 16 bytes of the HMAC, protocol 2 all 32. */
  authenticate(key: Buffer, message: Uint8Array): Buffer {
    const hmacKey = this.version === 2 && key.length === 64 ? key.subarray(0, 32) : key;
    const mac = createHmac('sha256', hmacKey).update(message).digest();
    return this.version === 1 ? mac.subarray(0, 16) : mac;
  }

  verify(key: Buffer, message: Uint8Array, signature: Uint8Array): boolean {
    const expected = this.authenticate(key, message);
    return signature.length === expected.length && timingSafeEqual(expected, signature);
  }
}

function newKey(): ECDH {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return ecdh;
}

function aes(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  const cipher = encrypt ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}
