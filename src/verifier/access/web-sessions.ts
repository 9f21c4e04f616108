// Sessions for the web pages: a user's after a login (password + security token, checked by the
// Authenticator like any login; or a security key's WebAuthn answer, checked by the challenge
// service's FIDO path like the API's), or an API key's for the console (the key's scopes are its role).
// The cookie is 256 random bits; the store keeps only its keyed hash. A new sign-in always makes a
// new session and ends the one the browser held (rotation); a session ends at sign-out, after 30
// idle minutes or 12 hours, when its user can no longer log in (deactivated, frozen, deleted) or
// its key is revoked, and — by the reset itself, in its transaction — on a password or token reset.
import { createHmac, randomBytes } from 'node:crypto';
import type { Authenticator, LoginRequest } from '../accounts/authenticator.js';
import type { VerifierContext } from '../context.js';
import { RateLimitedError, UnauthorizedError } from '../errors.js';
import { appendAudit } from '../store/audit.js';
import { countIpFailure, ipFailures } from '../store/ip-failures.js';
import { deleteExpiredWebSessions, deleteWebSession, findWebSession, insertWebSession, touchWebSession } from '../store/web-sessions.js';
import type { ChallengeService, FidoChallengeResponse } from '../tokens/challenges.js';
import type { ApiKeys, ApiKeyScope } from './api-keys.js';

export const WEB_SESSION_IDLE_MS = 30 * 60_000;
export const WEB_SESSION_MAX_MS = 12 * 3600_000;
/** last_seen_at is written at most this often: a page view is not a write. */
const TOUCH_EVERY_MS = 60_000;

export type WebIdentity =
  | { readonly kind: 'user'; readonly userId: string; readonly username: string; readonly email: string; readonly loginIpRanges: string[] }
  | { readonly kind: 'console'; readonly apiKeyId: string; readonly label: string; readonly scopes: ApiKeyScope[] };

export interface WebSession {
  /** The cookie's value: only the browser holds it. */
  readonly cookie: string;
  /** Stands for the session where it must be named (the CSRF token's binding); not the cookie. */
  readonly binding: string;
  readonly identity: WebIdentity;
}

export class WebSessions {
  constructor(
    private readonly ctx: VerifierContext,
    private readonly authenticator: Authenticator,
    private readonly apiKeys: ApiKeys,
    private readonly challenges: ChallengeService,
  ) {}

  #hash(cookie: string): Buffer {
    return createHmac('sha256', this.ctx.secret.key('web-session-hash')).update(cookie, 'utf8').digest();
  }

  /** Keys the web pages' CSRF tokens: derived from the server secret, so every instance agrees. */
  csrfKey(): Buffer {
    return this.ctx.secret.key('web-csrf');
  }

  /** A login as `Verifier.login` checks it (same throttling, same one answer); then a new session. */
  async signIn(request: LoginRequest, previous?: string): Promise<WebSession> {
    const result = await this.authenticator.login(request);
    return this.#start({ userId: result.userId }, request.clientIp, previous);
  }

  /**
   * A security key's answer to a login challenge, checked as `POST /v1/fido/challenges/:id/response`
   * checks it (challenge consumed once, the address's budget, the policy's password, the key's
   * state, the signature, the counter compared and stored); then a new session for its user.
   */
  async signInWithKey(response: Omit<FidoChallengeResponse, 'purpose'>, previous?: string): Promise<WebSession> {
    const result = await this.challenges.respondFido({ ...response, purpose: 'login' });
    return this.#start({ userId: result.userId }, response.clientIp, previous);
  }

  /**
   * The console's sign-in with an API key. Refusals count on the client address's failure budget
   * like failed logins, and are answered alike: "not accepted", whatever was wrong with the key.
   */
  async signInConsole(key: string, clientIp: string, previous?: string): Promise<WebSession> {
    const { ctx } = this;
    const now = ctx.now();
    const budget = await ipFailures(ctx.db, clientIp, ctx.ipLimit.windowMs, now);
    if (budget.failures >= ctx.ipLimit.failures) {
      await appendAudit(ctx.db, { actor: 'anonymous', action: 'console.sign-in', clientIp, result: 'refused', reason: 'ip_rate_limited' }, now);
      throw new RateLimitedError(Math.max(1, Math.ceil((budget.windowEnds - now) / 1000)));
    }
    let found;
    try {
      found = await this.apiKeys.identify(key);
    } catch (err) {
      await ctx.db.transaction(async (tx) => {
        await countIpFailure(tx, clientIp, ctx.ipLimit.windowMs, now);
        await appendAudit(tx, { actor: 'anonymous', action: 'console.sign-in', clientIp, result: 'failure', reason: 'bad_api_key' }, now);
      });
      throw err instanceof UnauthorizedError ? new UnauthorizedError('the API key was not accepted (unknown or revoked)') : err;
    }
    await appendAudit(ctx.db, { actor: `api-key:${found.id}`, action: 'console.sign-in', subject: found.id, clientIp, result: 'success', reason: 'ok' }, now);
    return this.#start({ apiKeyId: found.id }, clientIp, previous);
  }

  async #start(owner: { userId: string } | { apiKeyId: string }, clientIp: string, previous: string | undefined): Promise<WebSession> {
    const cookie = randomBytes(32).toString('base64url');
    const idHash = this.#hash(cookie);
    const now = this.ctx.now();
    await this.ctx.db.transaction(async (tx) => {
      await deleteExpiredWebSessions(tx, now);
      if (previous) await deleteWebSession(tx, this.#hash(previous));
      await insertWebSession(tx, { idHash, ...owner, clientIp, now, expiresAt: now + WEB_SESSION_MAX_MS });
    });
    const resumed = await this.resume(cookie);
    if (!resumed) throw new UnauthorizedError('the session could not be started');
    return resumed;
  }

  /** The session the cookie names, if it is still alive; its owner's state is read fresh. */
  async resume(cookie: string | undefined): Promise<WebSession | undefined> {
    if (!cookie || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) return undefined;
    const { ctx } = this;
    const idHash = this.#hash(cookie);
    const row = await findWebSession(ctx.db, idHash);
    const now = ctx.now();
    if (!row) return undefined;
    if (row.expires_at <= now || row.last_seen_at + WEB_SESSION_IDLE_MS <= now) {
      await deleteWebSession(ctx.db, idHash);
      return undefined;
    }
    const identity = await this.#identity(row);
    if (!identity) {
      await deleteWebSession(ctx.db, idHash);
      return undefined;
    }
    if (now - row.last_seen_at >= TOUCH_EVERY_MS) await touchWebSession(ctx.db.relaxed, idHash, now);
    return { cookie, binding: idHash.toString('hex'), identity };
  }

  async #identity(row: Awaited<ReturnType<typeof findWebSession>> & object): Promise<WebIdentity | undefined> {
    if (row.user_id !== null) {
      // A user who can no longer log in has no session either.
      if (row.username === null || row.active !== 1 || row.frozen !== 0) return undefined;
      return { kind: 'user', userId: row.user_id, username: row.username, email: row.email ?? '', loginIpRanges: JSON.parse(row.login_ip_ranges ?? '[]') as string[] };
    }
    const key = row.api_key_id === null ? undefined : await this.apiKeys.byId(row.api_key_id);
    return key && { kind: 'console', apiKeyId: key.id, label: key.label, scopes: key.scopes };
  }

  /** Ends the session (sign-out); a cookie naming none is no error. */
  async end(cookie: string | undefined): Promise<void> {
    if (cookie) await deleteWebSession(this.ctx.db, this.#hash(cookie));
  }
}
