// Password hashing with argon2id (@node-rs/argon2, on libuv's thread pool, never on the event
// loop). Refusals that check no password (unknown, locked, deactivated … users) verify against a
// dummy hash of the same cost, so a failed login takes as long whatever the reason.
import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import { checkSecret } from './secret-text.js';
import { InvalidInputError } from '../errors.js';

export interface Argon2Cost {
  /** KiB; OWASP's floor is 19 MiB (19456). */
  readonly memoryKiB: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export const OWASP_ARGON2ID: Argon2Cost = { memoryKiB: 19_456, timeCost: 2, parallelism: 1 };

// @node-rs/argon2's Algorithm is a const enum, which isolated modules cannot read: Argon2id is 2.
const ARGON2ID = 2;

export const PASSWORD_MIN_LENGTH = 10;
/** Bounded so nobody makes the server hash a megabyte. */
export const PASSWORD_MAX_LENGTH = 256;

export class PasswordHasher {
  readonly cost: Argon2Cost;
  readonly #dummy: Promise<string>;
  #verifications = 0;
  #dummyVerifications = 0;

  constructor(cost: Argon2Cost = OWASP_ARGON2ID) {
    if (cost.memoryKiB < OWASP_ARGON2ID.memoryKiB || cost.timeCost < OWASP_ARGON2ID.timeCost || cost.parallelism < 1) {
      throw new InvalidInputError('argon2id cost below m = 19 MiB, t = 2, p = 1');
    }
    this.cost = cost;
    // Made now, in the background, so the first refusal does not also pay for making it.
    this.#dummy = this.hash(randomBytes(32).toString('base64'));
  }

  /** Throws InvalidInputError for a password that is not well-formed Unicode (secret-text.ts). */
  hash(password: string): Promise<string> {
    // The last line: whatever called us, nothing the client did not send is ever hashed.
    checkSecret(password, 'password');
    return hash(password, {
      algorithm: ARGON2ID,
      memoryCost: this.cost.memoryKiB,
      timeCost: this.cost.timeCost,
      parallelism: this.cost.parallelism,
    });
  }

  /** argon2id verifications run so far (real and dummy): the work attackers can make us do. */
  get verifications(): number {
    return this.#verifications;
  }

  /** Of those, the ones against the dummy hash: refusals that checked no real password. */
  get dummyVerifications(): number {
    return this.#dummyVerifications;
  }

  verify(passwordHash: string, password: string): Promise<boolean> {
    checkSecret(password, 'password');
    this.#verifications++;
    return verify(passwordHash, password).catch(() => false);
  }

  /** The same work as `verify`, against a hash nobody knows the password of; always false. */
  async verifyDummy(password: string): Promise<false> {
    this.#dummyVerifications++;
    await this.verify(await this.#dummy, password);
    return false;
  }
}
