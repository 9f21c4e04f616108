// Issuing security tokens inside a transaction: new random tokens, their hashes stored, and the
// mail that carries them queued — all or nothing. A reset also ends the user's web sessions: one
// opened with the old token does not outlive it.
import { queueMail, type VerifierContext } from '../context.js';
import { securityTokenMail, type TokenMailReason } from '../mail/messages.js';
import type { SqlExecutor } from '../store/database.js';
import { putToken } from '../store/security-tokens.js';
import type { UserRow } from '../store/users.js';
import { endSessionsOf } from '../store/web-sessions.js';
import { generateSecurityToken, hashSecurityToken } from './security-token.js';

export const DEFAULT_TOKEN_NAME = 'default';

export async function issueTokens(ctx: VerifierContext, tx: SqlExecutor, user: UserRow, names: readonly string[], reason: TokenMailReason): Promise<void> {
  if (names.length === 0) return;
  const issued = names.map((name) => ({ name, token: generateSecurityToken(ctx.tokenLength) }));
  for (const { name, token } of issued) await putToken(tx, user.id, name, hashSecurityToken(ctx.secret, token), ctx.now());
  await queueMail(ctx, tx, user.email, securityTokenMail(user.username, reason, issued));
  if (reason !== 'created') await endSessionsOf(tx, user.id);
}
