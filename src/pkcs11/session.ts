// A session with a token. One operation at a time runs on it (callers queue, never meeting
// CKR_OPERATION_ACTIVE); close is idempotent; a token pulled out turns into TokenRemovedError.
import { call, callAsync, pkcs11js, type Handle, type RawPkcs11 } from './binding.js';
import { CKS_RO_PUBLIC_SESSION, CKS_RO_USER_FUNCTIONS, CKS_RW_PUBLIC_SESSION, CKS_RW_SO_FUNCTIONS, CKS_RW_USER_FUNCTIONS } from './constants.js';
import {
  InvalidArgumentError,
  KeyNotFoundError,
  NotLoggedInError,
  SessionClosedError,
  SessionReadOnlyError,
  TokenRemovedError,
  TokengateError,
  sessionGone,
} from './errors.js';
import { describeRef, findByClass, findOne, readKey, type ObjectRef, type TokenKey } from './objects.js';
import { forgetLogin, isRememberedLogin, rememberLogin } from './login-state.js';
import { PublicKey, publicKeyJwk } from './public-key.js';
import { finishSignature, prepareSignature, type SignOptions } from './signing.js';
import type { Token } from './token.js';
import { createCertificateObject, readCertificate, type ImportCertificateOptions, type TokenCertificate } from './certificates.js';
import { generateKeyPairOn, planKeyPair, type GenerateKeyPairOptions } from './keygen.js';
import type { X509Certificate } from '../algorithms/x509.js';
import { readTokenIdentity, type TokenAdmission, type TokenIdentity } from './admission.js';
import type { PinSecret } from './login-guard.js';
import { sendSecret } from './pin-attempt.js';
import { noteOwnChange } from './token-changes.js';
import { secretName } from './pin-state.js';
import { checkPin, pinValue, type Pin } from './pin.js';

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

const USER_TYPES: Record<UserType, number> = {
  user: pkcs11js.CKU_USER,
  so: pkcs11js.CKU_SO,
  contextSpecific: pkcs11js.CKU_CONTEXT_SPECIFIC,
};


export { checkPin } from './pin.js';

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

  /** Runs the admission check (inside an exclusive operation); the identity is read once. */
  #admit(lib: RawPkcs11, session: Handle): void {
    if (!this.#admission) return;
    this.#identity ??= readTokenIdentity(lib, session, this.token.serial);
    this.#admission.assertAllowed(this.#identity);
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
      throw this.#explain(err);
    }
  }

  #explain(err: unknown): unknown {
    if (!sessionGone(err)) return err;
    if (this.#closed) return new SessionClosedError('the session is closed', { cause: err });
    if (!this.token.isPresent()) {
      return new TokenRemovedError(`token "${this.token.label}" was removed`, {
        cause: err,
        failure: err.rv === undefined ? undefined : { rv: err.rv, rvName: err.rvName!, fn: err.fn! },
      });
    }
    return err;
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
      this.#admit(lib, session);
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

  async findPrivateKey(ref: ObjectRef): Promise<TokenKey> {
    return this.exclusive((lib, session) => privateKeyIn(lib, session, ref));
  }

  async findPublicKey(ref: ObjectRef): Promise<TokenKey> {
    return this.exclusive((lib, session) => readKey(lib, session, findOne(lib, session, 'publicKey', ref)));
  }

  async listKeys(objectClass: 'privateKey' | 'publicKey' = 'privateKey'): Promise<TokenKey[]> {
    return this.exclusive((lib, session) =>
      findByClass(lib, session, objectClass).flatMap((h) => {
        try {
          return [readKey(lib, session, h)];
        } catch {
          return []; // a key of a type we do not sign with (AES, DSA…) is not listed
        }
      }),
    );
  }

  async findCertificate(ref: ObjectRef): Promise<TokenCertificate> {
    return this.exclusive((lib, session) => readCertificate(lib, session, findOne(lib, session, 'certificate', ref)));
  }

  async listCertificates(): Promise<TokenCertificate[]> {
    return this.exclusive((lib, session) => findByClass(lib, session, 'certificate').map((h) => readCertificate(lib, session, h)));
  }

  /** The public half of a key pair: the public key object with the same CKA_ID, else the certificate's key. */
  async publicKey(ref: ObjectRef | TokenKey): Promise<PublicKey> {
    // Lookup and read are one exclusive operation, so a close() queued meanwhile cannot fall between them.
    return this.exclusive((lib, session) => {
      let key: TokenKey;
      if ('handle' in ref) key = ref;
      else {
        // The private key when it is visible (logged in), else the public key object itself.
        const priv = findByClass(lib, session, 'privateKey', ref);
        key = readKey(lib, session, priv[0] ?? findOne(lib, session, 'publicKey', ref));
      }
      if (key.objectClass === 'publicKey') return new PublicKey(publicKeyJwk(lib, session, key), key);
      const pub = findByClass(lib, session, 'publicKey', { id: key.id });
      if (pub.length > 0) return new PublicKey(publicKeyJwk(lib, session, readKey(lib, session, pub[0]!)), key);
      const certs = findByClass(lib, session, 'certificate', { id: key.id });
      if (certs.length > 0) {
        const jwk = readCertificate(lib, session, certs[0]!).publicKey.jwk();
        return new PublicKey(jwk, key);
      }
      // The token is there; the key's public half is not: a missing object, not a missing token.
      throw new KeyNotFoundError(`no public key or certificate shares the id of "${key.label}"`);
    });
  }

  /**
   * Signs an authentication challenge with a private key on the token. ECDSA input is hashed on
   * the host (tokens' CKM_ECDSA signs a digest); the token call runs on the libuv pool.
   */
  async signChallenge(key: TokenKey | ObjectRef, challenge: Uint8Array | string, options: SignOptions & { contextPin?: string | Pin; allowFinalTry?: boolean } = {}): Promise<Buffer> {
    // Finding the key, the checks and the signature are ONE exclusive operation: as two, a close()
    // queued between them closed the session under a signature already in flight.
    return this.exclusive(async (lib, session) => {
      this.#admit(lib, session);
      const resolved = 'handle' in key ? key : privateKeyIn(lib, session, key);
      // Key type, algorithm and challenge are checked before anything is sent to the token.
      const prepared = prepareSignature(resolved, challenge, options);
      try {
        call(lib, 'C_SignInit', session, prepared.mechanism, resolved.handle);
      } catch (err) {
        // After a logout a private key's handle is invalid (SoftHSM: CKR_OBJECT_HANDLE_INVALID);
        // the cause the caller can act on is the missing login.
        if (err instanceof KeyNotFoundError && !userLoggedIn(lib, session)) {
          throw new NotLoggedInError('log in as the user to sign', { cause: err });
        }
        throw err;
      }
      if (resolved.alwaysAuthenticate && options.contextPin !== undefined) {
        // A PIN per signature is the user's PIN: it counts on the user's counter like any login.
        const info = this.token.info();
        const contextPin = pinValue(checkPin(options.contextPin, info.pinLength, 'PIN'));
        await sendSecret({ token: this.token, secret: 'user', allowFinalTry: options.allowFinalTry === true, info }, () =>
          call(lib, 'C_Login', session, pkcs11js.CKU_CONTEXT_SPECIFIC, contextPin),
        );
      }
      const output = await callAsync(lib, 'C_SignAsync', session, prepared.input, Buffer.alloc(prepared.outputLength));
      return finishSignature(prepared, output);
    });
  }

  /**
   * Generates a key pair on the token (read-write session, user logged in), off the event loop. The
   * private half is sensitive, never extractable and signs only; both halves get `label` and `id`.
   */
  async generateKeyPair(options: GenerateKeyPairOptions): Promise<{ privateKey: TokenKey; publicKey: PublicKey }> {
    const plan = planKeyPair(options);
    if (!this.readWrite) throw new SessionReadOnlyError('open the session with { write: true } to create keys');
    return this.exclusive(async (lib, session) => {
      requireWritableUserSession(lib, session);
      const { privateKey, publicKey } = await generateKeyPairOn(lib, session, plan);
      return { privateKey, publicKey: new PublicKey(publicKeyJwk(lib, session, publicKey), publicKey) };
    });
  }

  /** Stores an X.509 certificate on the token; give it the key pair's CKA_ID so the two pair up. */
  async importCertificate(certificate: X509Certificate | Uint8Array | string, options: ImportCertificateOptions): Promise<TokenCertificate> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('importing a certificate needs { label, id }');
    if (!(options.id instanceof Uint8Array) || options.id.length === 0) throw new InvalidArgumentError('a certificate needs the non-empty CKA_ID of its key');
    if (!this.readWrite) throw new SessionReadOnlyError('open the session with { write: true } to store a certificate');
    return this.exclusive((lib, session) => {
      this.#identity = undefined; // a new certificate changes what the admission check sees
      return readCertificate(lib, session, createCertificateObject(lib, session, certificate, options));
    });
  }

  /** Sets the user PIN as the security officer (C_InitPIN): first set-up, or the SO's way to unblock. */
  async initUserPin(newPin: string | Pin): Promise<void> {
    const value = pinValue(checkPin(newPin, this.token.info().pinLength, 'new PIN'));
    if (!this.readWrite) throw new SessionReadOnlyError('the SO sets the user PIN in a read-write session');
    await this.exclusive((lib, session) => {
      if (call(lib, 'C_GetSessionInfo', session).state !== CKS_RW_SO_FUNCTIONS) {
        throw new NotLoggedInError('log in as the SO ({ userType: "so" }) to set the user PIN');
      }
      call(lib, 'C_InitPIN', session, value);
      forgetLogin(this.token.module.path, this.token.serial);
      // A new user PIN: whatever the host counted against the old one is over.
      this.token.loginGuard?.reset(this.token.guardIdentity, 'user');
      noteOwnChange(this.token);
    });
  }

  /**
   * Changes the PIN of whoever is logged in on this session (the SO's when the SO is, else the
   * user's), old to new, in a read-write session (C_SetPIN). On a session nobody is logged in to,
   * the user logs in with the old PIN first and out again after: OpenSC, set up to unblock with a
   * PUK, reads C_SetPIN in an unlogged session as "PUK, new PIN", and would spend a PUK try.
   */
  async changePin(oldPin: string | Pin, newPin: string | Pin, options: { allowFinalTry?: boolean } = {}): Promise<void> {
    const info = this.token.info();
    const current = checkPin(oldPin, info.pinLength, 'current PIN');
    const next = pinValue(checkPin(newPin, info.pinLength, 'new PIN'));
    if (!this.readWrite) throw new SessionReadOnlyError('a PIN is changed in a read-write session');
    const allowFinalTry = options.allowFinalTry === true;
    const loggedIn = await this.isLoggedIn();
    if (!loggedIn) await this.login(current, { allowFinalTry });
    try {
      await this.exclusive(async (lib, session) => {
        const { state } = call(lib, 'C_GetSessionInfo', session);
        // C_SetPIN checks the old PIN itself: a wrong one counts like a wrong login.
        const secret: PinSecret = state === CKS_RW_SO_FUNCTIONS ? 'so' : 'user';
        await sendSecret({ token: this.token, secret, allowFinalTry, info }, () => call(lib, 'C_SetPIN', session, pinValue(current), next));
        forgetLogin(this.token.module.path, this.token.serial);
        noteOwnChange(this.token);
      });
    } finally {
      if (!loggedIn) await this.logout().catch(() => undefined);
    }
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
      if (sessionGone(err) || (err instanceof TokengateError && err.code === 'ERR_MODULE_CLOSED')) return;
      throw err;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Creating keys needs a read-write session and the user's login; say which is missing before the token does. */
function requireWritableUserSession(lib: RawPkcs11, session: Handle): void {
  const { state } = call(lib, 'C_GetSessionInfo', session);
  if (state === CKS_RO_PUBLIC_SESSION || state === CKS_RO_USER_FUNCTIONS) {
    throw new SessionReadOnlyError('open the session with { write: true } to create keys');
  }
  if (state !== CKS_RW_USER_FUNCTIONS) throw new NotLoggedInError('log in as the user to create keys');
}

/** True when the session is logged in as the user, the only role that may use private keys. */
function userLoggedIn(lib: RawPkcs11, session: Handle): boolean {
  const { state } = call(lib, 'C_GetSessionInfo', session);
  return state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS;
}

/** The first private key matching `ref`; run inside `exclusive`. */
function privateKeyIn(lib: RawPkcs11, session: Handle, ref: ObjectRef): TokenKey {
  const found = findByClass(lib, session, 'privateKey', ref);
  if (found.length > 0) return readKey(lib, session, found[0]!);
  // Private keys are private objects, invisible until the user logs in: without a login the
  // search finds nothing, and "not logged in" is the answer that tells the caller what to do.
  if (!userLoggedIn(lib, session)) throw new NotLoggedInError(`log in as the user to use private key ${describeRef(ref)}`);
  throw new KeyNotFoundError(`no privateKey with ${describeRef(ref)} on the token`);
}
