// What users do for themselves, each behind their current password (counted like a login):
// reset a security token (the new one is mailed, the old one dies at commit), create another
// named token, change the password (which resets and mails every token).
import type { VerifierContext } from '../context.js';
import { NoSecurityTokenError } from '../errors.js';
import { appendAudit } from '../store/audit.js';
import type { SqlExecutor } from '../store/database.js';
import { findUser, loginIpRanges, type UserRow } from '../store/users.js';
import { resetPasswordIn } from './admin.js';
import type { Authenticator, PasswordCheck } from './authenticator.js';
import { DEFAULT_TOKEN_NAME, issueTokens } from './tokens.js';
import { checkNewPassword, checkTokenName } from './validate.js';

export class SelfService {
  constructor(
    private readonly ctx: VerifierContext,
    private readonly authenticator: Authenticator,
  ) {}

  /** Resets (or creates) the named token, `default` unless told; the new one goes by mail only. */
  async resetSecurityToken(request: PasswordCheck & { readonly name?: string }): Promise<void> {
    const name = checkTokenName(request.name ?? DEFAULT_TOKEN_NAME);
    const checked = await this.authenticator.checkPassword('self.token-reset', request);
    if (loginIpRanges(checked).length > 0) throw new NoSecurityTokenError('this user logs in from login IP ranges and has no security token to reset');
    await this.#inTransaction(checked.username, 'self.token-reset', request.clientIp, async (tx, user) => issueTokens(this.ctx, tx, user, [name], 'reset'));
  }

  async changePassword(request: PasswordCheck & { readonly newPassword: string }): Promise<void> {
    const passwordHash = await this.ctx.hasher.hash(checkNewPassword(request.newPassword, 'new password'));
    const checked = await this.authenticator.checkPassword('self.password-change', request);
    await this.#inTransaction(checked.username, 'self.password-change', request.clientIp, (tx, user) => resetPasswordIn(this.ctx, tx, user, passwordHash));
  }

  /** The password alone, counted like a login, for self-service steps defined elsewhere (enrollment). */
  async checkPassword(action: string, request: PasswordCheck): Promise<void> {
    await this.authenticator.checkPassword(action, request);
  }

  async #inTransaction(
    username: string,
    action: string,
    clientIp: string,
    change: (tx: SqlExecutor, user: UserRow) => Promise<void>,
  ): Promise<void> {
    const { db } = this.ctx;
    try {
      await db.transaction(async (tx) => {
        const user = await findUser(tx, username, db.forUpdate);
        // Deleted between the password check and here: nothing to change.
        if (!user) return;
        await change(tx, user);
        await appendAudit(tx, { actor: user.username, action, subject: user.username, clientIp, result: 'success', reason: 'ok' }, this.ctx.now());
      });
    } finally {
      this.ctx.delivery.kick();
    }
  }
}
