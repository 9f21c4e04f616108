// A per-token pool of logged-in sessions for concurrent signing. It keeps one login for all its
// sessions (PKCS#11 login state is per application and token), hands each caller a session of its
// own, and when the token is pulled out and put back it opens fresh sessions and logs in again.
// Concurrent signatures go to worker threads (sign-workers.ts) that sign in batches; a call with
// no company goes straight to a session here, which is the quickest way for one signature.
import { sessionGone, SessionClosedError, TokenNotPresentError, TokenRemovedError, TokengateError } from './errors.js';
import { describeRef, type ObjectRef, type TokenKey } from './objects.js';
import type { PublicKey } from './public-key.js';
import { checkPin, Session, type UserType } from './session.js';
import { Pin } from '../util/pin.js';
import { finishSignature, prepareSignature, type SignOptions } from './signing.js';
import { signOn } from './session-signing.js';
import { SignWorkers, workerCount } from './sign-workers.js';
import type { Token } from './token.js';
import { readTokenIdentity, type TokenAdmission, type TokenIdentity } from './admission.js';

export interface SessionPoolOptions {
  /** The PIN to log in with, and again after the token comes back. Kept in memory only; never sent to a worker. */
  pin: string | Pin;
  /** Sessions to open for the calling thread; defaults to 4. */
  size?: number;
  userType?: Exclude<UserType, 'contextSpecific'>;
  /**
   * Threads that sign concurrent requests in batches, each on a session of its own. `'auto'` (the
   * default) is one per CPU, at most 4; `0` signs only on this thread's sessions (C_SignAsync).
   */
  workers?: number | 'auto';
  /** Asked before every login and signature (e.g. a Blocklist); see SessionOptions.admission. */
  admission?: TokenAdmission;
  /**
   * Spend the last try on the first login. Logins after the token comes back never do: an
   * unattended re-login with a PIN changed elsewhere must not lock the token.
   */
  allowFinalTry?: boolean;
}

const RECOVERABLE = new Set(['ERR_TOKEN_REMOVED', 'ERR_SESSION_CLOSED']);
/** Errors that mean a session is gone; with the token gone too they become TokenRemovedError. */

interface Waiter {
  resolve(session: Session): void;
  reject(err: unknown): void;
}

export class SessionPool implements AsyncDisposable {
  readonly token: Token;
  readonly size: number;
  readonly #pin: Pin;
  readonly #userType: Exclude<UserType, 'contextSpecific'>;
  #sessions: Session[] = [];
  #idle: Session[] = [];
  #waiters: Waiter[] = [];
  #keys = new Map<string, Promise<TokenKey>>();
  /** The keys of `#keys` that were found, for a lookup without a promise. */
  #found = new Map<string, TokenKey>();
  /** Counts session rebuilds: key handles found before one are stale. */
  #generation = 0;
  #workers: SignWorkers | undefined;
  /** signChallenge calls under way: one alone takes the direct path. */
  #signing = 0;
  /** Direct-path signatures in flight (their sessions close only after), and who waits for none. */
  #direct = 0;
  #directDone: Array<() => void> = [];
  #broken = false;
  #reopening: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #admission: TokenAdmission | undefined;
  /** Serial and certificate fingerprints, read at every (re)open for the admission check. */
  #identity: TokenIdentity = {};

  private constructor(token: Token, options: SessionPoolOptions) {
    this.token = token;
    this.size = Math.max(1, Math.floor(options.size ?? 4));
    this.#pin = Pin.from(options.pin);
    this.#userType = options.userType ?? 'user';
    this.#admission = options.admission;
  }

  static async open(token: Token, options: SessionPoolOptions): Promise<SessionPool> {
    checkPin(options.pin, token.info().pinLength);
    const workers = workerCount(options.workers);
    const pool = new SessionPool(token, options);
    await pool.#openSessions(options.allowFinalTry === true);
    if (workers > 0) {
      try {
        // After the login, so the workers' sessions are logged in from the start.
        pool.#workers = await SignWorkers.start(token.module.path, token.slot, workers);
      } catch (err) {
        await pool.close();
        throw err;
      }
    }
    return pool;
  }

  /** Signing threads running now (0 after `close`). */
  get workers(): number {
    return this.#workers?.size ?? 0;
  }

  /** Opens this generation's sessions and logs in, counted like every login (Session.login). */
  async #openSessions(allowFinalTry = false): Promise<void> {
    const sessions: Session[] = [];
    try {
      for (let i = 0; i < this.size; i++) sessions.push(await this.token.openSession({ admission: this.#admission }));
      if (this.#admission) this.#identity = await sessions[0]!.exclusive((lib, handle) => readTokenIdentity(lib, handle, this.token.serial));
      await sessions[0]!.login(this.#pin, { userType: this.#userType, allowFinalTry });
      if (this.#closed) throw new SessionClosedError('the session pool is closed');
    } catch (err) {
      await Promise.allSettled(sessions.map((s) => s.close()));
      throw err;
    }
    this.#sessions = sessions;
    this.#idle = [];
    this.#keys.clear();
    this.#found.clear();
    this.#generation++;
    this.#broken = false;
    for (const s of sessions) this.#release(s); // callers that waited through a recovery go first
  }

  async #recover(): Promise<void> {
    this.#reopening ??= (async () => {
      try {
        await this.#closeSessions();
        try {
          this.token.relocate();
        } catch (err) {
          if (err instanceof TokenNotPresentError) {
            throw new TokenRemovedError(`token "${this.token.label}" is not present`, { cause: err });
          }
          throw err;
        }
        await this.#openSessions();
        // The workers' sessions died with the old ones; new ones are logged in by the login above.
        this.#workers?.reset(this.token.slot);
      } catch (err) {
        // Nobody waits for a session that will not come (no hidden waiting for the token).
        for (const w of this.#waiters.splice(0)) w.reject(err);
        throw err;
      } finally {
        this.#reopening = undefined;
      }
    })();
    return this.#reopening;
  }

  /** Closes this generation's sessions: none is handed out from now on, and running signatures end first. */
  async #closeSessions(): Promise<void> {
    const sessions = this.#sessions;
    this.#sessions = [];
    this.#idle = [];
    if (this.#direct > 0) await new Promise<void>((resolve) => this.#directDone.push(resolve));
    await Promise.allSettled(sessions.map((s) => s.close()));
  }

  /** Throws (recoverably) for a session handed over just before a rebuild or close began. */
  #check(session: Session): void {
    if (!this.#sessions.includes(session)) throw new SessionClosedError('the session was closed by the pool');
  }

  #acquire(): Promise<Session> {
    if (this.#closed) return Promise.reject(new SessionClosedError('the session pool is closed'));
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(idle);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #release(session: Session): void {
    if (!this.#sessions.includes(session)) return; // from a generation that was replaced
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(session);
    else this.#idle.push(session);
  }

  async #onSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    const session = await this.#acquire();
    try {
      this.#check(session);
      return await fn(session);
    } finally {
      this.#release(session);
    }
  }

  /**
   * Decides whether a failed attempt is tried again, once. A session invalidated while the token is
   * present (pulled out and put back between calls) marks the pool for a rebuild and is retried; a
   * removed token fails now (no hidden waiting).
   */
  #retry(err: unknown, attempt: number, generation: number): boolean {
    if (!(err instanceof TokengateError) || this.#closed) return false;
    // Sessions rebuilt while this call was under way: that rebuild already dealt with the failure,
    // and any key handle the call held from before is stale (handles die with the login).
    const stale = generation !== this.#generation;
    if (RECOVERABLE.has(err.code)) {
      if (err.code === 'ERR_TOKEN_REMOVED' || !stale) this.#broken = true;
      return err.code !== 'ERR_TOKEN_REMOVED' && attempt === 0;
    }
    return err.code === 'ERR_KEY_NOT_FOUND' && stale && attempt === 0;
  }

  /** Waits out (or starts) a rebuild of the sessions; throws once the pool is closed. */
  async #ready(): Promise<void> {
    if (this.#closed) throw new SessionClosedError('the session pool is closed');
    if (this.#broken || this.#reopening) await this.#recover();
  }

  async #withRecovery<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.#ready();
      const generation = this.#generation;
      try {
        return await fn();
      } catch (err) {
        if (!this.#retry(err, attempt, generation)) throw err;
      }
    }
  }

  /** What a Session would say about a failure on a session of ours: a lost session with no token is a removed token. */
  #explain(err: unknown): unknown {
    if (!sessionGone(err)) return err;
    if (this.#closed) return new SessionClosedError('the session pool is closed', { cause: err });
    if (err.code === 'ERR_TOKEN_REMOVED' || this.token.isPresent()) return err;
    return new TokenRemovedError(`token "${this.token.label}" was removed`, { cause: err, failure: err.failure });
  }

  /** Runs `fn` on a logged-in session of its own. A session lost to re-insertion is replaced and `fn` retried once. */
  async use<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    return this.#withRecovery(() => this.#onSession(fn));
  }

  /** Finds a private key once per generation of sessions; handles die with a removed token. */
  #key(ref: ObjectRef | TokenKey): Promise<TokenKey> {
    if ('handle' in ref) return Promise.resolve(ref);
    const cacheKey = describeRef(ref);
    let key = this.#keys.get(cacheKey);
    if (!key) {
      const generation = this.#generation;
      const found = this.#onSession((session) => session.findPrivateKey(ref));
      this.#keys.set(cacheKey, (key = found));
      found.then(
        (k) => generation === this.#generation && this.#found.set(cacheKey, k),
        () => this.#keys.get(cacheKey) === found && this.#keys.delete(cacheKey),
      );
    }
    return key;
  }

  /**
   * Signs a challenge with a private key of the token. Calls alone sign on one of the pool's
   * sessions; concurrent calls go to the signing workers in batches.
   */
  async signChallenge(key: ObjectRef | TokenKey, challenge: Uint8Array | string, options: SignOptions = {}): Promise<Buffer> {
    // One flat loop rather than #withRecovery and #onSession: on this path every extra async
    // layer shows up in single-signature latency (bench/sign.ts measures it against pkcs11js).
    // A token blocked while the pool runs (the blocklist refreshed) signs nothing more.
    this.#admission?.assertAllowed(this.#identity);
    this.#signing++;
    try {
      for (let attempt = 0; ; attempt++) {
        if (this.#closed || this.#broken || this.#reopening) await this.#ready();
        const generation = this.#generation;
        try {
          // A cached key costs no await: alone means alone now (of a burst made in one tick, the
          // first call signs directly and the rest, which find it under way, go to the workers).
          const resolved = ('handle' in key ? key : this.#found.get(describeRef(key))) ?? (await this.#key(key));
          const workers = this.#workers;
          // Alone, a signature is quickest as C_SignInit + C_SignAsync here (a worker adds a
          // thread hop each way); in company, worker batches win. A key that needs a
          // context-specific login (a PIN per signature) always signs here: PINs stay here.
          if (workers && workers.size > 0 && this.#signing > 1 && !resolved.alwaysAuthenticate) {
            return await this.#signOnWorker(workers, resolved, challenge, options);
          }
          // Checked here too: close() may have begun while the key was looked up.
          if (this.#closed) throw new SessionClosedError('the session pool is closed');
          const session = this.#idle.pop() ?? (await this.#acquire());
          this.#check(session);
          // The direct path: C_SignInit + C_SignAsync, what Session.signChallenge does minus its
          // per-session operation queue, which the pool makes redundant (this call holds the
          // session alone, and sessions close only once #direct is back to 0). Inline, because
          // each async layer here costs a measurable share of a fast signature.
          this.#direct++;
          try {
            if (resolved.alwaysAuthenticate) return await session.signChallenge(resolved, challenge, options);
            const prepared = prepareSignature(resolved, challenge, options);
            try {
              // The same C_SignInit + C_SignAsync as Session.signChallenge.
              return await signOn(this.token.module.raw, session.handle, resolved, prepared);
            } catch (err) {
              throw this.#explain(err);
            }
          } finally {
            if (--this.#direct === 0) for (const resolve of this.#directDone.splice(0)) resolve();
            this.#release(session);
          }
        } catch (err) {
          if (!this.#retry(err, attempt, generation)) throw err;
        }
      }
    } finally {
      this.#signing--;
    }
  }

  async #signOnWorker(workers: SignWorkers, key: TokenKey, challenge: Uint8Array | string, options: SignOptions): Promise<Buffer> {
    const prepared = prepareSignature(key, challenge, options);
    try {
      const output = await workers.sign({
        key: key.handle,
        mechanism: prepared.mechanism,
        mechanismId: prepared.algorithm,
        input: prepared.input,
        outputLength: prepared.outputLength,
      });
      return finishSignature(prepared, output);
    } catch (err) {
      throw this.#explain(err);
    }
  }

  async findPrivateKey(ref: ObjectRef): Promise<TokenKey> {
    return this.#withRecovery(() => this.#key(ref));
  }

  async publicKey(ref: ObjectRef): Promise<PublicKey> {
    return this.use((session) => session.publicKey(ref));
  }

  /** Stops the workers (after their batches in flight) and closes every session. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w.reject(new SessionClosedError('the session pool is closed'));
      await this.#reopening?.catch(() => undefined);
      await this.#workers?.close();
      await this.#closeSessions();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
