// The server secret: kept outside the database (a file or an environment variable), it keys the
// hashes of security tokens and seals queued mails, so a copy of the database alone reveals neither.
import { hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InvalidInputError } from './errors.js';

/** What each derived key is for; one secret, a separate key per use (HKDF-SHA256 info). */
export type SecretPurpose = 'security-token-hash' | 'mail-seal' | 'api-key-hash' | 'temporary-password-hash' | 'web-session-hash' | 'web-csrf';

export class ServerSecret {
  readonly #secret: Buffer;
  /** Derived once per purpose: HKDF costs more than the HMAC a login keys with it. */
  readonly #keys = new Map<SecretPurpose, Buffer>();

  private constructor(secret: Buffer) {
    this.#secret = secret;
  }

  /** At least 32 bytes; anything shorter is refused rather than silently weak. */
  static from(secret: Uint8Array): ServerSecret {
    if (!(secret instanceof Uint8Array) || secret.length < 32) throw new InvalidInputError('the server secret must be at least 32 bytes');
    return new ServerSecret(Buffer.from(secret));
  }

  /** Reads a secret file (raw bytes, or 64+ hex characters / base64 text). */
  static fromFile(path: string): ServerSecret {
    const raw = readFileSync(path);
    const text = raw.toString('utf8').trim();
    if (/^[0-9a-f]{64,}$/i.test(text)) return ServerSecret.from(Buffer.from(text, 'hex'));
    if (/^[A-Za-z0-9+/=_-]{43,}$/.test(text)) return ServerSecret.from(Buffer.from(text, 'base64'));
    return ServerSecret.from(raw);
  }

  static generate(): ServerSecret {
    return new ServerSecret(randomBytes(32));
  }

  /** A 32-byte key for one purpose (a copy: what the caller does with it cannot change ours). */
  key(purpose: SecretPurpose): Buffer {
    let key = this.#keys.get(purpose);
    if (!key) this.#keys.set(purpose, (key = Buffer.from(hkdfSync('sha256', this.#secret, Buffer.alloc(0), `tokengate/${purpose}`, 32))));
    return Buffer.from(key);
  }

  /** Never prints the secret. */
  toJSON(): string {
    return '[ServerSecret]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[ServerSecret]';
  }
}
