// The session half of a SessionPool: a set of sessions under one login (PKCS#11 login state is
// per application and token), handed out one caller at a time, rebuilt when the token is pulled
// out and put back, and closed. The signing half is pool-signer.ts.
import { explainSessionLoss, sessionLoss, SessionClosedError, TokenNotPresentError, TokenRemovedError, TokengateError } from './errors.js';
import { describeRef, type ObjectRef, type TokenKey } from './objects.js';
import type { Handle } from './binding.js';
import { USER_TYPES, type Session, type UserType } from './session.js';
import { sendSecret } from './pin-attempt.js';
import { Pin, pinValue } from '../util/pin.js';
import type { SessionPoolOptions } from './pool.js';
import type { Token } from './token.js';
import { readTokenIdentity, type TokenAdmission, type TokenIdentity } from './admission.js';

export type SessionSetOptions = Pick<SessionPoolOptions, 'pin' | 'size' | 'userType' | 'admission'>;

/** Sessions opened elsewhere on this set's login (the signing workers'). */
export interface SessionCompanion {
  /** The set logged in again after a rebuild: open fresh sessions on `slot`. */
  reset(slot: Handle): void;
  /** Ends before the set's own sessions close. */
  close(): Promise<void>;
}

interface Waiter {
  resolve(session: Session): void;
  reject(err: unknown): void;
}

export const POOL_CLOSED = 'the session pool is closed';

export class SessionSet {
  readonly token: Token;
  readonly size: number;
  readonly #pin: Pin;
  readonly #userType: Exclude<UserType, 'contextSpecific'>;
  readonly #admission: TokenAdmission | undefined;
  #sessions: Session[] = [];
  #idle: Session[] = [];
  #waiters: Waiter[] = [];
  #keys = new Map<string, Promise<TokenKey>>();
  /** The keys of `#keys` that were found, for a lookup without a promise. */
  #found = new Map<string, TokenKey>();
  /** Counts session rebuilds: key handles found before one are stale. */
  #generation = 0;
  /** Sessions lent outside their own operation queue (they close only after), and who waits for none. */
  #lent = 0;
  #lentDone: Array<() => void> = [];
  #companion: SessionCompanion | undefined;
  #broken = false;
  #reopening: Promise<void> | undefined;
  #closed = false;
  /** Serial and certificate fingerprints, read at every (re)open for the admission check. */
  #identity: TokenIdentity = {};

  constructor(token: Token, options: SessionSetOptions) {
    this.token = token;
    this.size = Math.max(1, Math.floor(options.size ?? 4));
    this.#pin = Pin.from(options.pin);
    this.#userType = options.userType ?? 'user';
    this.#admission = options.admission;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Counts rebuilds; a call compares it before and after to tell whether one happened meanwhile. */
  get generation(): number {
    return this.#generation;
  }

  /** False while a rebuild is due or under way, or once closed: then `ready()` first. */
  get usable(): boolean {
    return !(this.#closed || this.#broken || this.#reopening);
  }

  /** Sessions opened elsewhere on this login: reset after every rebuild, closed first. */
  attach(companion: SessionCompanion): void {
    this.#companion = companion;
  }

  /** Refuses a token blocked since the sessions were opened (the blocklist refreshed). */
  admit(): void {
    this.#admission?.assertAllowed(this.#identity);
  }

  /** Opens this generation's sessions and logs in, counted like every login (Session.login). */
  async open(allowFinalTry = false): Promise<void> {
    const sessions: Session[] = [];
    try {
      for (let i = 0; i < this.size; i++) sessions.push(await this.token.openSession({ admission: this.#admission }));
      if (this.#admission) this.#identity = await sessions[0]!.exclusive((lib, handle) => readTokenIdentity(lib, handle, this.token.serial));
      await sessions[0]!.login(this.#pin, { userType: this.#userType, allowFinalTry });
      if (this.#closed) throw new SessionClosedError(POOL_CLOSED);
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
    for (const s of sessions) this.release(s); // callers that waited through a recovery go first
  }

  /**
   * Logs a signing process in with this set's PIN (SessionPoolOptions.workerProcesses): through
   * the token's counter like every login (pin-attempt.ts), and never with the last try.
   */
  async loginElsewhere(send: (userType: number, pin: string) => Promise<void>): Promise<void> {
    const secret = this.#userType === 'so' ? 'so' : 'user';
    await sendSecret({ token: this.token, secret, allowFinalTry: false, info: this.token.info() }, () => send(USER_TYPES[this.#userType], pinValue(this.#pin)));
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
        await this.open();
        // The companions' sessions died with the old ones; new ones are logged in by the login above.
        this.#companion?.reset(this.token.slot);
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

  /** Closes this generation's sessions: none is handed out from now on, and lent ones are given back first. */
  async #closeSessions(): Promise<void> {
    const sessions = this.#sessions;
    this.#sessions = [];
    this.#idle = [];
    if (this.#lent > 0) await new Promise<void>((resolve) => this.#lentDone.push(resolve));
    await Promise.allSettled(sessions.map((s) => s.close()));
  }

  /** Throws (recoverably) for a session handed over just before a rebuild or close began. */
  #check(session: Session): void {
    if (!this.#sessions.includes(session)) throw new SessionClosedError('the session was closed by the pool');
  }

  /** An idle session now, without waiting, if there is one. */
  idle(): Session | undefined {
    return this.#idle.pop();
  }

  /** A session of the caller's own, once one is free; `release` it after. */
  acquire(): Promise<Session> {
    if (this.#closed) return Promise.reject(new SessionClosedError(POOL_CLOSED));
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(idle);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  release(session: Session): void {
    if (!this.#sessions.includes(session)) return; // from a generation that was replaced
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(session);
    else this.#idle.push(session);
  }

  /**
   * Marks an acquired session as used outside its own operation queue (its raw handle): no
   * rebuild or close closes it until `giveBack`, which also releases it.
   */
  lend(session: Session): void {
    this.#check(session);
    this.#lent++;
  }

  giveBack(session: Session): void {
    if (--this.#lent === 0) for (const resolve of this.#lentDone.splice(0)) resolve();
    this.release(session);
  }

  async #onSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    const session = await this.acquire();
    try {
      this.#check(session);
      return await fn(session);
    } finally {
      this.release(session);
    }
  }

  /**
   * Decides whether a failed attempt is tried again, once. A session invalidated while the token is
   * present (pulled out and put back between calls) marks the set for a rebuild and is retried; a
   * removed token fails now (no hidden waiting).
   */
  retry(err: unknown, attempt: number, generation: number): boolean {
    if (!(err instanceof TokengateError) || this.#closed) return false;
    // Sessions rebuilt while this call was under way: that rebuild already dealt with the failure,
    // and any key handle the call held from before is stale (handles die with the login).
    const stale = generation !== this.#generation;
    const loss = sessionLoss(err);
    if (loss === 'session' || loss === 'token') {
      if (loss === 'token' || !stale) this.#broken = true;
      return loss === 'session' && attempt === 0;
    }
    return err.code === 'ERR_KEY_NOT_FOUND' && stale && attempt === 0;
  }

  /** Waits out (or starts) a rebuild of the sessions; throws once the set is closed. */
  async ready(): Promise<void> {
    if (this.#closed) throw new SessionClosedError(POOL_CLOSED);
    if (this.#broken || this.#reopening) await this.#recover();
  }

  async #withRecovery<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.ready();
      const generation = this.#generation;
      try {
        return await fn();
      } catch (err) {
        if (!this.retry(err, attempt, generation)) throw err;
      }
    }
  }

  /** What a Session would say about a failure on a session of ours (or a companion's). */
  explain(err: unknown): unknown {
    return explainSessionLoss(err, this, POOL_CLOSED);
  }

  /** Runs `fn` on a logged-in session of its own. A session lost to re-insertion is replaced and `fn` retried once. */
  async use<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    return this.#withRecovery(() => this.#onSession(fn));
  }

  /** A private key this generation has found already, without a promise. */
  foundKey(ref: ObjectRef | TokenKey): TokenKey | undefined {
    return 'handle' in ref ? ref : this.#found.get(describeRef(ref));
  }

  /** Finds a private key once per generation of sessions; handles die with a removed token. */
  key(ref: ObjectRef | TokenKey): Promise<TokenKey> {
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

  async findPrivateKey(ref: ObjectRef): Promise<TokenKey> {
    return this.#withRecovery(() => this.key(ref));
  }

  /** Closes the companions (after their work in flight), then every session. Call once. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(new SessionClosedError(POOL_CLOSED));
    await this.#reopening?.catch(() => undefined);
    await this.#companion?.close();
    await this.#closeSessions();
  }
}
