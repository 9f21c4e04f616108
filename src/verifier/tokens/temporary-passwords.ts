// The lost-token workflow after privacyIDEA's: the helpdesk blocks the lost token and issues a
// temporary replacement credential — a random password of at least 16 characters, valid 10 days
// by default, mailed or shown once — that stands in for the token next to the user's password.
// Stored as an HMAC under the server secret; a new one replaces the old.
import { createHmac, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Authenticator } from '../accounts/authenticator.js';
import { checkSecret } from '../accounts/secret-text.js';
import { queueMail, type VerifierContext } from '../context.js';
import { InvalidCredentialsError, InvalidInputError, UserNotFoundError } from '../errors.js';
import { appendAudit, appendAuditBatched } from '../store/audit.js';
import { findUser } from '../store/users.js';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
export const TEMPORARY_PASSWORD_LENGTH = 20;

export interface TemporaryPasswordOptions {
  readonly validDays?: number;
  /** `mail`: sent to the user's address; `show`: returned once, to be handed over in person. */
  readonly deliver: 'mail' | 'show';
}

export class TemporaryPasswords {
  constructor(
    private readonly ctx: VerifierContext,
    private readonly authenticator: Authenticator,
  ) {}

  #hash(value: string): Buffer {
    return createHmac('sha256', this.ctx.secret.key('temporary-password-hash')).update(value, 'utf8').digest();
  }

  /** Returns the password when `deliver` is `show`, else undefined (it is mailed). */
  async issue(actor: string, username: string, options: TemporaryPasswordOptions): Promise<{ password: string | undefined; expiresAt: Date }> {
    const days = options.validDays ?? 10;
    if (!Number.isInteger(days) || days < 1 || days > 30) throw new InvalidInputError('validDays: 1 to 30');
    const { ctx } = this;
    let password = '';
    for (let i = 0; i < TEMPORARY_PASSWORD_LENGTH; i++) password += ALPHABET[randomInt(ALPHABET.length)];
    const now = ctx.now();
    const expiresAt = now + days * 86_400_000;
    try {
      await ctx.db.transaction(async (tx) => {
        const user = await findUser(tx, username, ctx.db.forUpdate);
        if (!user) throw new UserNotFoundError('no such user');
        await tx.run('DELETE FROM temporary_passwords WHERE user_id = ?', [user.id]);
        await tx.run('INSERT INTO temporary_passwords (id, user_id, password_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?)', [
          randomUUID(),
          user.id,
          this.#hash(password).toString('hex'),
          expiresAt,
          now,
        ]);
        if (options.deliver === 'mail') {
          await queueMail(ctx, tx, user.email, {
            subject: 'Your temporary access password',
            text: [
              `Hello ${user.username},`,
              '',
              'Your security token was reported lost and is blocked. Until you have a new one, log in',
              `with your password and this temporary password, valid until ${new Date(expiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC:`,
              '',
              `Temporary password: ${password}`,
            ].join('\n'),
          });
        }
        await appendAudit(tx, { actor, action: 'temporary-password.issue', subject: user.username, result: 'success', reason: options.deliver, detail: { validDays: days } }, now);
      });
    } finally {
      ctx.delivery.kick();
    }
    return { password: options.deliver === 'show' ? password : undefined, expiresAt: new Date(expiresAt) };
  }

  /** The user's password (counted like a login) and an unexpired temporary password. */
  async login(request: { username: string; password: string; temporaryPassword: string; clientIp: string }): Promise<{ userId: string; username: string }> {
    // Before the password check counts the attempt: malformed input is not a failed login.
    checkSecret(request.temporaryPassword, 'temporary password');
    const user = await this.authenticator.checkPassword('login.temporary', request);
    const rows = await this.ctx.db.all<{ password_hash: string; expires_at: number }>('SELECT password_hash, expires_at FROM temporary_passwords WHERE user_id = ?', [user.id]);
    const candidate = this.#hash(request.temporaryPassword);
    const now = this.ctx.now();
    let ok = false;
    for (const row of rows) {
      const stored = Buffer.from(row.password_hash, 'hex');
      if (stored.length === candidate.length && timingSafeEqual(stored, candidate) && row.expires_at > now) ok = true;
    }
    await appendAuditBatched(this.ctx.db.relaxed, { actor: ok ? user.username : 'anonymous', action: 'login.temporary', subject: user.username, clientIp: request.clientIp, result: ok ? 'success' : 'failure', reason: ok ? 'ok' : 'bad_temporary_password' }, now);
    if (!ok) throw new InvalidCredentialsError();
    return { userId: user.id, username: user.username };
  }
}
