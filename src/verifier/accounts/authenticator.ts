// The login check, and the password check behind self-service. The order is deliberate:
//  1. the client address's failure budget (one source cannot lock out everyone);
//  2. the account (unknown, deactivated, frozen, outside its login ranges);
//  3. the attempt is counted before any hashing (policy/lockout.ts): a locked account never has
//     its password checked;
//  4. password (argon2id) and security token (keyed hash, constant time).
// Every failure answers InvalidCredentialsError; the real reason goes to the audit log only. And
// every failure costs one argon2id verification: a refusal that skips the password check (2, 3, a
// missing token) verifies against the dummy hash instead, so the time an answer takes does not
// tell whether the user exists or is locked. (The address budget's 429 is about the address, not
// the user, and stays cheap: hashing there would hand the work back to whoever exceeded it.)
import type { VerifierContext } from '../context.js';
import { InvalidCredentialsError, RateLimitedError } from '../errors.js';
import { inRanges } from '../policy/ip-ranges.js';
import { reserveAttempt, settleFailure, settleSuccess } from '../policy/lockout.js';
import { appendAudit, appendAuditBatched } from '../store/audit.js';
import { budgetOf, countIpFailure } from '../store/ip-failures.js';
import { trustedRanges } from '../store/ip-ranges.js';
import { tokensOf } from '../store/security-tokens.js';
import { findUserAndBudget, loginIpRanges, type UserRow } from '../store/users.js';
import { splitAppended } from './credentials.js';
import { checkSecret } from './secret-text.js';
import { matchSecurityToken } from './security-token.js';

export interface LoginRequest {
  readonly username: string;
  /** The password, or the password with the security token appended. */
  readonly password: string;
  /** The security token in its own field; when given, `password` is the password alone. */
  readonly securityToken?: string | undefined;
  readonly clientIp: string;
}

export interface LoginResult {
  readonly userId: string;
  readonly username: string;
  /** What stood in for the token: the named token, or the trusted or login range that made it unnecessary. */
  readonly via: { kind: 'security-token'; name: string } | { kind: 'trusted-range' } | { kind: 'login-range' };
}

export interface PasswordCheck {
  readonly username: string;
  readonly password: string;
  readonly clientIp: string;
}

type Failure =
  | 'unknown_user'
  | 'deactivated'
  | 'frozen'
  | 'outside_login_ranges'
  | 'locked'
  | 'busy'
  | 'bad_password'
  | 'token_missing'
  | 'bad_token';

/** What proved the login; `password` for the self-service checks that need the password alone. */
type Via = LoginResult['via'] | { kind: 'password' };

/** What a credential check settles on, once the password is known to be right or wrong. */
type Verdict = { ok: true; via: Via } | { ok: false; reason: Failure };

export class Authenticator {
  constructor(private readonly ctx: VerifierContext) {}

  /** password + security token (or password alone from a trusted range or the user's login ranges). */
  async login(request: LoginRequest): Promise<LoginResult> {
    checkSecret(request.password, 'password');
    checkSecret(request.securityToken, 'security token');
    const user = await this.#check('login', request, async (candidate, trusted): Promise<Verdict> => {
      const bound = loginIpRanges(candidate).length > 0;
      const split = await this.#split(candidate, request, !(trusted || bound));
      if (split === 'token_missing') {
        await this.ctx.hasher.verifyDummy(request.password);
        return { ok: false, reason: 'token_missing' };
      }
      const passwordOk = await this.ctx.hasher.verify(candidate.password_hash, split.password);
      if (!passwordOk) return { ok: false, reason: 'bad_password' };
      if (split.token === undefined) return { ok: true, via: bound ? { kind: 'login-range' } : { kind: 'trusted-range' } };
      const name = matchSecurityToken(this.ctx.secret, split.token, await this.#tokens(candidate));
      return name === undefined ? { ok: false, reason: 'bad_token' } : { ok: true, via: { kind: 'security-token', name } };
    });
    // #check returns what the verdict said, and login's verdicts never say `password`.
    return { userId: user.id, username: user.username, via: user.via as LoginResult['via'] };
  }

  /** The password alone, counted like a login: for self-service changes that need it. */
  async checkPassword(action: string, request: PasswordCheck): Promise<UserRow> {
    checkSecret(request.password, 'password');
    return this.#check(action, request, async (candidate) =>
      (await this.ctx.hasher.verify(candidate.password_hash, request.password)) ? { ok: true, via: { kind: 'password' } } : { ok: false, reason: 'bad_password' },
    );
  }

  async #tokens(user: UserRow): Promise<Array<{ name: string; hash: Uint8Array }>> {
    return (await tokensOf(this.ctx.db.relaxed, user.id)).map((t) => ({ name: t.name, hash: t.token_hash }));
  }

  /**
   * Where the token is: its own field; else, when required, the end of the password field; else
   * (trusted range) the end of the password field only if it is one of the user's tokens.
   */
  async #split(user: UserRow, request: LoginRequest, tokenRequired: boolean): Promise<{ password: string; token: string | undefined } | 'token_missing'> {
    if (request.securityToken !== undefined && request.securityToken !== '') return { password: request.password, token: request.securityToken };
    const appended = splitAppended(request.password, this.ctx.tokenLength);
    if (tokenRequired) return appended ?? 'token_missing';
    if (appended && matchSecurityToken(this.ctx.secret, appended.token, await this.#tokens(user)) !== undefined) return appended;
    return { password: request.password, token: undefined };
  }

  async #check(
    action: string,
    request: { username: string; password: string; clientIp: string },
    verify: (user: UserRow, trusted: boolean) => Promise<Verdict>,
  ): Promise<UserRow & { via: Via }> {
    const { ctx } = this;
    const now = ctx.now();
    const found = await findUserAndBudget(ctx.db.relaxed, request.username, request.clientIp);
    const budget = budgetOf(found.budget, ctx.ipLimit.windowMs, now);
    if (budget.failures >= ctx.ipLimit.failures) {
      await appendAuditBatched(ctx.db.relaxed, { actor: 'anonymous', action, subject: request.username, clientIp: request.clientIp, result: 'refused', reason: 'ip_rate_limited' }, now);
      throw new RateLimitedError(Math.max(1, Math.ceil((budget.windowEnds - now) / 1000)));
    }
    const verdict = await this.#decide(request, found.user, verify);
    // The outcome and its audit entry in one transaction: one commit (one fsync) per outcome.
    if (!verdict.ok) {
      await ctx.db.relaxed.transaction(async (tx) => {
        if (verdict.counted) await settleFailure(tx, ctx.db.relaxed.forUpdate, 'users', verdict.counted, ctx.lockout, ctx.now());
        await countIpFailure(tx, request.clientIp, ctx.ipLimit.windowMs, now);
        await appendAudit(tx, { actor: 'anonymous', action, subject: request.username, clientIp: request.clientIp, result: 'failure', reason: verdict.reason }, now);
      });
      throw new InvalidCredentialsError();
    }
    await ctx.db.relaxed.transaction(async (tx) => {
      await settleSuccess(tx, 'users', verdict.user.id);
      await appendAudit(tx, { actor: verdict.user.username, action, subject: verdict.user.username, clientIp: request.clientIp, result: 'success', reason: verdict.via.kind }, now);
    });
    return { ...verdict.user, via: verdict.via };
  }

  async #decide(
    request: { username: string; password: string; clientIp: string },
    user: UserRow | undefined,
    verify: (user: UserRow, trusted: boolean) => Promise<Verdict>,
  ): Promise<{ ok: true; user: UserRow; via: Via } | { ok: false; reason: Failure; counted?: string }> {
    const { ctx } = this;
    const refusal: Failure | undefined = !user
      ? 'unknown_user'
      : user.active !== 1
        ? 'deactivated'
        : user.frozen === 1
          ? 'frozen'
          : loginIpRanges(user).length > 0 && !inRanges(request.clientIp, loginIpRanges(user))
            ? 'outside_login_ranges'
            : undefined;
    if (refusal || !user) {
      await ctx.hasher.verifyDummy(request.password);
      return { ok: false, reason: refusal ?? 'unknown_user' };
    }
    const reservation = await reserveAttempt<UserRow>(ctx.db.relaxed, 'users', user.id, ctx.lockout, ctx.now);
    if (reservation.kind !== 'counted') {
      // Refused without a slot (deleted meanwhile, locked, or every slot held too long): the
      // password is not checked, yet the answer costs what a check would.
      await ctx.hasher.verifyDummy(request.password);
      return { ok: false, reason: reservation.kind === 'unknown' ? 'unknown_user' : reservation.kind };
    }
    let verdict: Verdict;
    try {
      const trusted = inRanges(request.clientIp, (await trustedRanges(ctx.db.relaxed)).map((r) => r.cidr));
      verdict = await verify(reservation.row, trusted);
    } catch (err) {
      // The slot was taken for a check that never finished: it counts as a failure.
      await ctx.db.relaxed.transaction((tx) => settleFailure(tx, ctx.db.relaxed.forUpdate, 'users', reservation.row.id, ctx.lockout, ctx.now()));
      throw err;
    }
    return verdict.ok ? { ok: true, user: reservation.row, via: verdict.via } : { ...verdict, counted: reservation.row.id };
  }
}
