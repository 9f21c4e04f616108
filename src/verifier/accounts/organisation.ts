// Organisation-wide settings: trusted IP ranges, the challenge policy per client range, and the
// reminders for tokens past their age.
import type { VerifierContext } from '../context.js';
import { queueMail } from '../context.js';
import { tokenAgeReminderMail } from '../mail/messages.js';
import { normalizeCidr } from '../policy/ip-ranges.js';
import { appendAudit } from '../store/audit.js';
import { addTrustedRange, removeTrustedRange, trustedRanges, type TrustedRangeRow } from '../store/ip-ranges.js';
import { markReminded, staleTokens } from '../store/security-tokens.js';
import { checkChallengePolicy, rangePolicies, setRangePolicy, type ChallengePolicy } from '../tokens/policy.js';

export class Organisation {
  constructor(private readonly ctx: VerifierContext) {}

  trustedRanges(): Promise<TrustedRangeRow[]> {
    return trustedRanges(this.ctx.db);
  }

  async addTrustedRange(actor: string, cidr: string, description = ''): Promise<string> {
    const normalized = normalizeCidr(cidr);
    await this.ctx.db.transaction(async (tx) => {
      await addTrustedRange(tx, normalized, description.slice(0, 200), this.ctx.now());
      await appendAudit(tx, { actor, action: 'org.trusted-range.add', subject: normalized, result: 'success', reason: 'ok' }, this.ctx.now());
    });
    return normalized;
  }

  async removeTrustedRange(actor: string, cidr: string): Promise<boolean> {
    const normalized = normalizeCidr(cidr);
    return this.ctx.db.transaction(async (tx) => {
      const removed = await removeTrustedRange(tx, normalized);
      await appendAudit(tx, { actor, action: 'org.trusted-range.remove', subject: normalized, result: removed ? 'success' : 'failure', reason: removed ? 'ok' : 'not_found' }, this.ctx.now());
      return removed;
    });
  }

  challengePolicyRanges(): Promise<Array<{ cidr: string; policy: ChallengePolicy }>> {
    return rangePolicies(this.ctx.db);
  }

  /** Sets (or, with undefined, removes) the challenge-login policy for clients inside `cidr`; returns the normalised range. */
  async setChallengePolicyRange(actor: string, cidr: string, policy: string | undefined): Promise<string> {
    return (await this.#setRange(actor, cidr, policy === undefined ? undefined : checkChallengePolicy(policy))).cidr;
  }

  /** Removes the range's policy (its clients fall back to each user's own); false when it had none. */
  async clearChallengePolicyRange(actor: string, cidr: string): Promise<boolean> {
    return (await this.#setRange(actor, cidr, undefined)).changed;
  }

  #setRange(actor: string, cidr: string, policy: ChallengePolicy | undefined): Promise<{ cidr: string; changed: boolean }> {
    return this.ctx.db.transaction(async (tx) => {
      const result = await setRangePolicy(tx, cidr, policy, this.ctx.now());
      // This instance sees the change at once; others within the cache's second.
      this.ctx.rangePolicies.invalidate();
      const reason = policy ?? (result.changed ? 'removed' : 'not_found');
      await appendAudit(tx, { actor, action: 'org.challenge-policy', subject: result.cidr, result: result.changed ? 'success' : 'failure', reason }, this.ctx.now());
      return result;
    });
  }

  /** Mails one reminder per token older than the maximum age; returns how many were queued. */
  async remindStaleTokens(): Promise<number> {
    const { ctx } = this;
    const stale = await staleTokens(ctx.db, ctx.now() - ctx.tokenMaxAgeMs);
    let queued = 0;
    for (const token of stale) {
      await ctx.db.transaction(async (tx) => {
        // Claimed first, so two instances never remind twice.
        if (!(await markReminded(tx, token.user_id, token.name, ctx.now()))) return;
        await queueMail(ctx, tx, token.email, tokenAgeReminderMail(token.username, token.name, new Date(token.created_at)));
        await appendAudit(tx, { actor: 'system', action: 'token.age-reminder', subject: token.username, result: 'success', reason: 'max_age', detail: { token: token.name } }, ctx.now());
        queued++;
      });
    }
    ctx.delivery.kick();
    return queued;
  }
}
