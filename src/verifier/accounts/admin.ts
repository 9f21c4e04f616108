// What an administrator does to accounts: create, deactivate and reactivate, freeze, unlock,
// delete, set login IP ranges, reset a password, create and revoke named tokens. Each change and
// its audit entry (and any mail) commit together.
import { randomUUID } from 'node:crypto';
import type { VerifierContext } from '../context.js';
import { NoSecurityTokenError, SecurityTokenNotFoundError, UserExistsError, UserNotFoundError } from '../errors.js';
import { isLocked } from '../policy/lockout.js';
import { appendAudit } from '../store/audit.js';
import type { SqlExecutor } from '../store/database.js';
import { deleteToken, deleteTokensOf, tokensOf, tokensOfUsers, type SecurityTokenRow } from '../store/security-tokens.js';
import { countUsers, searchUsers, type UserSearch } from '../store/user-search.js';
import { endSessionsOf } from '../store/web-sessions.js';
import { deleteUser, findUser, insertUser, loginIpRanges, updateUser, type UserRow } from '../store/users.js';
import { checkChallengePolicy, userChallengePolicy, type ChallengePolicy } from '../tokens/policy.js';
import { DEFAULT_TOKEN_NAME, issueTokens } from './tokens.js';
import { checkCidrs, checkEmail, checkNewPassword, checkTokenName, checkUsername } from './validate.js';

export interface UserView {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly active: boolean;
  readonly frozen: boolean;
  readonly locked: boolean;
  readonly lockedUntil: Date | undefined;
  readonly failedLogins: number;
  readonly loginIpRanges: string[];
  /** The user's own challenge-login policy; a client range's policy overrides it inside that range. */
  readonly challengePolicy: ChallengePolicy;
  /** Names and ages only: a token itself is never shown again after its mail. */
  readonly securityTokens: Array<{ name: string; createdAt: Date }>;
  readonly createdAt: Date;
}

export interface NewUserInput {
  readonly username: string;
  readonly email: string;
  readonly password: string;
  /** Outside these ranges the user cannot log in at all, and has no security token. */
  readonly loginIpRanges?: readonly string[];
}

export type UserAction = 'deactivate' | 'reactivate' | 'freeze' | 'unfreeze' | 'unlock';

export class AccountAdmin {
  constructor(private readonly ctx: VerifierContext) {}

  async #view(tx: SqlExecutor, user: UserRow): Promise<UserView> {
    return this.#viewWith(user, await tokensOf(tx, user.id));
  }

  #viewWith(user: UserRow, tokens: readonly SecurityTokenRow[]): UserView {
    return {
      id: user.id,
      username: user.username,
      email: user.email,
      active: user.active === 1,
      frozen: user.frozen === 1,
      locked: isLocked(user, this.ctx.now()),
      lockedUntil: user.locked_until !== null && user.locked_until > this.ctx.now() ? new Date(user.locked_until) : undefined,
      failedLogins: user.failed_logins,
      loginIpRanges: loginIpRanges(user),
      challengePolicy: userChallengePolicy(user),
      securityTokens: tokens.map((t) => ({ name: t.name, createdAt: new Date(t.created_at) })),
      createdAt: new Date(user.created_at),
    };
  }

  /** Runs `change` on the user in one transaction with its audit entry. */
  #change<T>(actor: string, action: string, username: string, change: (tx: SqlExecutor, user: UserRow) => Promise<T>): Promise<T> {
    const { db } = this.ctx;
    return db.transaction(async (tx) => {
      const user = await findUser(tx, username, db.forUpdate);
      if (!user) throw new UserNotFoundError('no such user');
      const result = await change(tx, user);
      await appendAudit(tx, { actor, action, subject: user.username, result: 'success', reason: 'ok' }, this.ctx.now());
      return result;
    }).finally(() => this.ctx.delivery.kick());
  }

  async create(actor: string, input: NewUserInput): Promise<UserView> {
    const username = checkUsername(input.username);
    const email = checkEmail(input.email);
    const ranges = checkCidrs(input.loginIpRanges ?? []);
    const passwordHash = await this.ctx.hasher.hash(checkNewPassword(input.password));
    const { db } = this.ctx;
    try {
      return await db.transaction(async (tx) => {
        const id = randomUUID();
        if (!(await insertUser(tx, { id, username, email, passwordHash, loginIpRanges: ranges, now: this.ctx.now() }))) {
          throw new UserExistsError('a user with this username exists');
        }
        const user = (await findUser(tx, username))!;
        // Users bound to login ranges never get a token (Salesforce: the reset is not even offered).
        if (ranges.length === 0) await issueTokens(this.ctx, tx, user, [DEFAULT_TOKEN_NAME], 'created');
        await appendAudit(tx, { actor, action: 'user.create', subject: user.username, result: 'success', reason: 'ok' }, this.ctx.now());
        return this.#view(tx, user);
      });
    } finally {
      this.ctx.delivery.kick();
    }
  }

  async get(username: string): Promise<UserView> {
    const user = await findUser(this.ctx.db, username);
    if (!user) throw new UserNotFoundError('no such user');
    return this.#view(this.ctx.db, user);
  }

  /**
   * Every user whose username (or, with an `@`, email address) starts with `text`, in username
   * order, read a page at a time: a store of a million users is never held at once.
   */
  async *each(text = '', pageSize = 500): AsyncGenerator<UserView> {
    let after: string | undefined;
    do {
      const page = await this.search({ text, after, limit: pageSize });
      yield* page.users;
      after = page.next;
    } while (after !== undefined);
  }

  /** One page of the users whose username (or, with an `@`, email address) starts with `search.text`. */
  async search(search: UserSearch): Promise<{ users: UserView[]; next: string | undefined; previous: string | undefined }> {
    const page = await searchUsers(this.ctx.db, { ...search, limit: Math.min(Math.max(Math.trunc(search.limit), 1), 1000) });
    const tokens = await tokensOfUsers(this.ctx.db, page.users.map((u) => u.id));
    return { ...page, users: page.users.map((u) => this.#viewWith(u, tokens.get(u.id) ?? [])) };
  }

  /** How many users `search` would find, counted up to `cap`. */
  count(text: string, cap: number): Promise<number> {
    return countUsers(this.ctx.db, text, cap);
  }

  /**
   * deactivate: no login at all, tokens kept (reactivate brings the same token back); freeze:
   * login blocked without deactivating; unlock: the failure count and lock are cleared.
   */
  apply(actor: string, username: string, action: UserAction): Promise<void> {
    const fields = {
      deactivate: { active: 0 },
      reactivate: { active: 1 },
      freeze: { frozen: 1 },
      unfreeze: { frozen: 0 },
      unlock: { failed_logins: 0, lockouts: 0, locked_until: null, in_flight: 0, in_flight_since: null },
    }[action];
    return this.#change(actor, `user.${action}`, username, (tx, user) => updateUser(tx, user.id, fields));
  }

  delete(actor: string, username: string): Promise<void> {
    return this.#change(actor, 'user.delete', username, (tx, user) => deleteUser(tx, user.id));
  }

  setEmail(actor: string, username: string, email: string): Promise<void> {
    const checked = checkEmail(email);
    return this.#change(actor, 'user.email', username, (tx, user) => updateUser(tx, user.id, { email: checked }));
  }

  /** Restricting a user to login ranges takes their tokens away; lifting it gives them a new one. */
  setLoginIpRanges(actor: string, username: string, cidrs: readonly string[]): Promise<void> {
    const ranges = checkCidrs(cidrs);
    return this.#change(actor, 'user.login-ranges', username, async (tx, user) => {
      await updateUser(tx, user.id, { login_ip_ranges: JSON.stringify(ranges) });
      if (ranges.length > 0) await deleteTokensOf(tx, user.id);
      else if (loginIpRanges(user).length > 0) await issueTokens(this.ctx, tx, user, [DEFAULT_TOKEN_NAME], 'created');
    });
  }

  /** A new password set by an admin; the user's tokens are reset and mailed, as on any password reset. */
  async resetPassword(actor: string, username: string, newPassword: string): Promise<void> {
    const passwordHash = await this.ctx.hasher.hash(checkNewPassword(newPassword, 'new password'));
    await this.#change(actor, 'user.password-reset', username, (tx, user) => resetPasswordIn(this.ctx, tx, user, passwordHash));
  }

  /** Creates (or resets) the named token and mails it. */
  issueToken(actor: string, username: string, name: string): Promise<void> {
    const checked = checkTokenName(name);
    return this.#change(actor, 'token.issue', username, async (tx, user) => {
      if (loginIpRanges(user).length > 0) throw new NoSecurityTokenError('this user logs in from login IP ranges and has no security token');
      await issueTokens(this.ctx, tx, user, [checked], 'reset');
    });
  }

  /** `token-only` or `password+token` for this user's challenge logins (a client range's policy overrides). */
  setChallengePolicy(actor: string, username: string, policy: string): Promise<void> {
    const checked = checkChallengePolicy(policy);
    return this.#change(actor, 'user.challenge-policy', username, (tx, user) => updateUser(tx, user.id, { challenge_policy: checked }));
  }

  revokeToken(actor: string, username: string, name: string): Promise<void> {
    return this.#change(actor, 'token.revoke', username, async (tx, user) => {
      if (!(await deleteToken(tx, user.id, name))) throw new SecurityTokenNotFoundError('no security token with this name');
    });
  }
}

/** The password changes, every token of the user is reset and mailed and every web session ends, in the caller's transaction. */
export async function resetPasswordIn(ctx: VerifierContext, tx: SqlExecutor, user: UserRow, passwordHash: string): Promise<void> {
  // Signed out everywhere: a session opened with the old password dies with it.
  await endSessionsOf(tx, user.id);
  await updateUser(tx, user.id, { password_hash: passwordHash, password_changed_at: ctx.now(), failed_logins: 0, lockouts: 0, locked_until: null });
  if (loginIpRanges(user).length > 0) return;
  const names = (await tokensOf(tx, user.id)).map((t) => t.name);
  await issueTokens(ctx, tx, user, names.length > 0 ? names : [DEFAULT_TOKEN_NAME], 'password-reset');
}
