// A per-token pool of logged-in sessions for concurrent signing. It keeps one login for all its
// sessions (PKCS#11 login state is per application and token), hands each caller a session of its
// own, and when the token is pulled out and put back it opens fresh sessions and logs in again.
import { SessionClosedError, TokenNotPresentError, TokenRemovedError, TokengateError } from './errors.js';
import { describeRef, type ObjectRef, type TokenKey } from './objects.js';
import type { PublicKey } from './public-key.js';
import { checkPin, Session, type UserType } from './session.js';
import type { SignOptions } from './signing.js';
import type { Token } from './token.js';

export interface SessionPoolOptions {
  /** The PIN to log in with, and again after the token comes back. Kept in memory only. */
  pin: string;
  /** Sessions to open; defaults to 4. */
  size?: number;
  userType?: Exclude<UserType, 'contextSpecific'>;
}

const RECOVERABLE = new Set(['ERR_TOKEN_REMOVED', 'ERR_SESSION_CLOSED']);

export class SessionPool implements AsyncDisposable {
  readonly token: Token;
  readonly size: number;
  readonly #pin: string;
  readonly #userType: Exclude<UserType, 'contextSpecific'>;
  #sessions: Session[] = [];
  #idle: Session[] = [];
  #waiters: Array<(s: Session) => void> = [];
  #keys = new Map<string, Promise<TokenKey>>();
  #broken = false;
  #reopening: Promise<void> | undefined;
  #closed = false;

  private constructor(token: Token, options: SessionPoolOptions) {
    this.token = token;
    this.size = Math.max(1, Math.floor(options.size ?? 4));
    this.#pin = options.pin;
    this.#userType = options.userType ?? 'user';
  }

  static async open(token: Token, options: SessionPoolOptions): Promise<SessionPool> {
    checkPin(options.pin, token.info().pinLength);
    const pool = new SessionPool(token, options);
    await pool.#openSessions();
    return pool;
  }

  async #openSessions(): Promise<void> {
    const sessions: Session[] = [];
    try {
      for (let i = 0; i < this.size; i++) sessions.push(await this.token.openSession());
      await sessions[0]!.login(this.#pin, { userType: this.#userType });
    } catch (err) {
      await Promise.allSettled(sessions.map((s) => s.close()));
      throw err;
    }
    this.#sessions = sessions;
    this.#idle = [...sessions];
    this.#keys.clear();
    this.#broken = false;
  }

  async #recover(): Promise<void> {
    this.#reopening ??= (async () => {
      try {
        await Promise.allSettled(this.#sessions.map((s) => s.close()));
        this.#sessions = [];
        this.#idle = [];
        try {
          this.token.relocate();
        } catch (err) {
          if (err instanceof TokenNotPresentError) {
            throw new TokenRemovedError(`token "${this.token.label}" is not present`, { cause: err });
          }
          throw err;
        }
        await this.#openSessions();
      } finally {
        this.#reopening = undefined;
      }
    })();
    return this.#reopening;
  }

  #acquire(): Promise<Session> {
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(idle);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #release(session: Session): void {
    if (!this.#sessions.includes(session)) return; // from a generation that was replaced
    const waiter = this.#waiters.shift();
    if (waiter) waiter(session);
    else this.#idle.push(session);
  }

  /** Runs `fn` on a logged-in session of its own. A session lost to re-insertion is replaced and `fn` retried once. */
  async use<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new SessionClosedError('the session pool is closed');
      if (this.#broken || this.#reopening) await this.#recover();
      const session = await this.#acquire();
      try {
        return await fn(session);
      } catch (err) {
        if (!(err instanceof TokengateError) || !RECOVERABLE.has(err.code) || this.#closed) throw err;
        this.#broken = true;
        // A removed token fails now (no hidden waiting); a session invalidated while the token is
        // present (pulled out and put back between calls) is rebuilt and the call retried once.
        if (err.code === 'ERR_TOKEN_REMOVED' || attempt > 0) throw err;
      } finally {
        this.#release(session);
      }
    }
  }

  /** Finds a private key once per generation of sessions; handles die with a removed token. */
  async #key(ref: ObjectRef | TokenKey, session: Session): Promise<TokenKey> {
    if ('handle' in ref) return ref;
    const cacheKey = describeRef(ref);
    let key = this.#keys.get(cacheKey);
    if (!key) {
      key = session.findPrivateKey(ref);
      this.#keys.set(cacheKey, key);
      key.catch(() => this.#keys.delete(cacheKey));
    }
    return key;
  }

  async signChallenge(key: ObjectRef, challenge: Uint8Array | string, options: SignOptions = {}): Promise<Buffer> {
    return this.use(async (session) => session.signChallenge(await this.#key(key, session), challenge, options));
  }

  async findPrivateKey(ref: ObjectRef): Promise<TokenKey> {
    return this.use((session) => this.#key(ref, session));
  }

  async publicKey(ref: ObjectRef): Promise<PublicKey> {
    return this.use((session) => session.publicKey(ref));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#sessions.map((s) => s.close()));
    this.#sessions = [];
    this.#idle = [];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
