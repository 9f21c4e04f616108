// A session with a token. One operation at a time runs on it (callers queue, never meeting
// CKR_OPERATION_ACTIVE); close is idempotent; a token pulled out turns into TokenRemovedError.
// This file holds session management and login; the other function groups (objects, signing,
// keys, PINs) are session-*.ts, which the methods below forward to.
import { call, pkcs11js, type Handle, type RawPkcs11 } from './binding.js';
import { CKS_RO_PUBLIC_SESSION, CKS_RW_PUBLIC_SESSION } from './constants.js';
import { InvalidArgumentError, SessionClosedError, TokengateError, explainSessionLoss, sessionLoss } from './errors.js';
import type { ObjectRef, TokenKey } from './objects.js';
import { forgetLogin, isRememberedLogin, rememberLogin } from './login-state.js';
import type { PublicKey } from './public-key.js';
import type { Token } from './token.js';
import type { ImportCertificateOptions, TokenCertificate } from './certificates.js';
import type { GenerateKeyPairOptions } from './keygen.js';
import type { X509Certificate } from '../algorithms/x509.js';
import { readTokenIdentity, type TokenAdmission, type TokenIdentity } from './admission.js';
import type { PinSecret } from './login-guard.js';
import { sendSecret } from './pin-attempt.js';
import { secretName } from './pin-state.js';
import { checkPin, pinValue, type Pin } from '../util/pin.js';
import * as objects from './session-objects.js';
import { signChallenge, type SignChallengeOptions } from './session-signing.js';
import { generateKeyPair } from './session-keys.js';
import * as pins from './session-pins.js';

export interface SessionOptions {
  /** Open a read-write session (needed to create, change or destroy objects, and for SO work). */
  write?: boolean;
  /**
   * Asked before every login and signature whether this token may be used (a Blocklist of lost
   * tokens, by serial and certificate fingerprint); a refusal throws before the token is touched.
   */
  admission?: TokenAdmission;
}

export type UserType = 'user' | 'so' | 'contextSpecific';

export interface LoginOptions {
  userType?: UserType;
  /**
   * Spend the last try when the token says one is left (CKF_*_PIN_FINAL_TRY). Without it the login
   * is refused with FinalTryRefusedError before the PIN is sent: a kiosk never locks a card by accident.
   */
  allowFinalTry?: boolean;
}

/** The CKU_ code of each user type. */
export const USER_TYPES: Record<UserType, number> = {
  user: pkcs11js.CKU_USER,
  so: pkcs11js.CKU_SO,
  contextSpecific: pkcs11js.CKU_CONTEXT_SPECIFIC,
};


export { checkPin } from '../util/pin.js';

export class Session implements AsyncDisposable {
  readonly token: Token;
  readonly readWrite: boolean;
  readonly #handle: Handle;
  readonly #admission: TokenAdmission | undefined;
  /** The token's serial and certificate fingerprints, read once for the admission check. */
  #identity: TokenIdentity | undefined;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(token: Token, handle: Handle, readWrite: boolean, admission: TokenAdmission | undefined) {
    this.token = token;
    this.#handle = handle;
    this.readWrite = readWrite;
    this.#admission = admission;
  }

  static async open(token: Token, options: SessionOptions = {}): Promise<Session> {
    const slot = token.relocate();
    const flags = pkcs11js.CKF_SERIAL_SESSION | (options.write ? pkcs11js.CKF_RW_SESSION : 0);
    const handle = call(token.module.raw, 'C_OpenSession', slot, flags);
    return new Session(token, handle, options.write === true, options.admission);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Internal: the raw session handle, for the pool's signing workers. */
  get handle(): Handle {
    return this.#handle;
  }

  /** Internal: runs the admission check (inside an exclusive operation); the identity is read once. */
  admit(lib: RawPkcs11, session: Handle): void {
    if (!this.#admission) return;
    this.#identity ??= readTokenIdentity(lib, session, this.token.serial);
    this.#admission.assertAllowed(this.#identity);
  }

  /** Internal: the token's objects changed (a certificate was stored): read the identity again. */
  forgetIdentity(): void {
    this.#identity = undefined;
  }

  get #lib(): RawPkcs11 {
    return this.token.module.raw;
  }

  /**
   * Runs `op` when every earlier operation on this session has finished. Errors that mean the
   * session is gone become TokenRemovedError when the token is no longer there.
   */
  exclusive<T>(op: (lib: RawPkcs11, session: Handle) => T | Promise<T>): Promise<T> {
    // Inline arrows rather than a named closure: tsx/esbuild's keepNames wraps named ones, which
    // costs a measurable share of a fast signature.
    const result = this.#tail.then(
      () => this.#run(op),
      () => this.#run(op),
    );
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #run<T>(op: (lib: RawPkcs11, session: Handle) => T | Promise<T>): Promise<T> {
    if (this.#closed) throw new SessionClosedError('the session is closed');
    try {
      return await op(this.#lib, this.#handle);
    } catch (err) {
      throw explainSessionLoss(err, this, 'the session is closed');
    }
  }

  /**
   * Logs in (C_Login) under the token's counter: a card's own, or the module's login guard for a
   * token that never locks (sendSecret). A locked PIN, a last try not allowed, a blocked token or
   * a PIN of the wrong length are refused before the token sees the PIN.
   */
  async login(pin: string | Pin, options: LoginOptions = {}): Promise<void> {
    const userType = options.userType ?? 'user';
    if (!(userType in USER_TYPES)) throw new InvalidArgumentError(`unknown user type ${String(userType)}`);
    const info = this.token.info();
    const secret: PinSecret = userType === 'so' ? 'so' : 'user';
    const value = pinValue(checkPin(pin, info.pinLength, secretName(secret)));
    const { path } = this.token.module;
    const { serial } = this.token;
    await this.exclusive(async (lib, session) => {
      this.admit(lib, session);
      await sendSecret({ token: this.token, secret, allowFinalTry: options.allowFinalTry === true, info }, () => {
        const attempt = (): void => call(lib, 'C_Login', session, USER_TYPES[userType], value);
        try {
          attempt();
        } catch (err) {
          if (!(err instanceof TokengateError && err.rvName === 'CKR_USER_ALREADY_LOGGED_IN')) throw err;
          // The token did not look at this PIN. Accept it only if it is the one we logged in with;
          // otherwise (another PIN, or a login made by someone else) prove it for real.
          if (isRememberedLogin(path, serial, userType, value)) return;
          forgetLogin(path, serial);
          call(lib, 'C_Logout', session);
          attempt();
        }
        if (userType !== 'contextSpecific') rememberLogin(path, serial, userType, value);
      });
    });
  }

  async logout(): Promise<void> {
    await this.exclusive((lib, session) => {
      try {
        call(lib, 'C_Logout', session);
        forgetLogin(this.token.module.path, this.token.serial);
      } catch (err) {
        if (err instanceof TokengateError && err.rvName === 'CKR_USER_NOT_LOGGED_IN') return;
        throw err;
      }
    });
  }

  /** True when the session is in a logged-in state (user or SO). */
  async isLoggedIn(): Promise<boolean> {
    return this.exclusive((lib, session) => {
      const { state } = call(lib, 'C_GetSessionInfo', session);
      return state !== CKS_RO_PUBLIC_SESSION && state !== CKS_RW_PUBLIC_SESSION;
    });
  }

  // The function groups (rust-cryptoki's split): objects, signing, keys and PINs live in their
  // own modules and run as exclusive operations of this session.

  async findPrivateKey(ref: ObjectRef): Promise<TokenKey> {
    return objects.findPrivateKey(this, ref);
  }

  async findPublicKey(ref: ObjectRef): Promise<TokenKey> {
    return objects.findPublicKey(this, ref);
  }

  async listKeys(objectClass: 'privateKey' | 'publicKey' = 'privateKey'): Promise<TokenKey[]> {
    return objects.listKeys(this, objectClass);
  }

  async findCertificate(ref: ObjectRef): Promise<TokenCertificate> {
    return objects.findCertificate(this, ref);
  }

  async listCertificates(): Promise<TokenCertificate[]> {
    return objects.listCertificates(this);
  }

  /** The public half of a key pair: the public key object with the same CKA_ID, else the certificate's key. */
  async publicKey(ref: ObjectRef | TokenKey): Promise<PublicKey> {
    return objects.publicKeyOf(this, ref);
  }

  /** Stores an X.509 certificate on the token; give it the key pair's CKA_ID so the two pair up. */
  async importCertificate(certificate: X509Certificate | Uint8Array | string, options: ImportCertificateOptions): Promise<TokenCertificate> {
    return objects.importCertificate(this, certificate, options);
  }

  /** Signs an authentication challenge with a private key on the token (session-signing.ts). */
  async signChallenge(key: TokenKey | ObjectRef, challenge: Uint8Array | string, options: SignChallengeOptions = {}): Promise<Buffer> {
    return signChallenge(this, key, challenge, options);
  }

  /** Generates a key pair on the token (read-write session, user logged in), off the event loop. */
  async generateKeyPair(options: GenerateKeyPairOptions): Promise<{ privateKey: TokenKey; publicKey: PublicKey }> {
    return generateKeyPair(this, options);
  }

  /** Sets the user PIN as the security officer (C_InitPIN): first set-up, or the SO's way to unblock. */
  async initUserPin(newPin: string | Pin): Promise<void> {
    return pins.initUserPin(this, newPin);
  }

  /** Changes the PIN of whoever is logged in on this session, old to new (C_SetPIN; session-pins.ts). */
  async changePin(oldPin: string | Pin, newPin: string | Pin, options: { allowFinalTry?: boolean } = {}): Promise<void> {
    return pins.changePin(this, oldPin, newPin, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Let queued work finish first, so close never races an operation in flight.
    await this.#tail;
    if (this.#closed) return;
    this.#closed = true;
    try {
      call(this.#lib, 'C_CloseSession', this.#handle);
    } catch (err) {
      if (sessionLoss(err)) return; // closed already, with its token or its module
      throw err;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
