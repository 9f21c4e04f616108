// Which factors a challenge login needs: `token-only` (the card's PIN is the second factor) or
// `password+token`. A client range with a policy decides for addresses inside it (a kiosk
// network, say); elsewhere the user's own policy does.
import type { VerifierContext } from '../context.js';
import { InvalidInputError } from '../errors.js';
import { inRanges, normalizeCidr } from '../policy/ip-ranges.js';
import type { SqlExecutor } from '../store/database.js';
import type { UserRow } from '../store/users.js';

export type ChallengePolicy = 'token-only' | 'password+token';
export const CHALLENGE_POLICIES: readonly ChallengePolicy[] = ['token-only', 'password+token'];

export function checkChallengePolicy(policy: string): ChallengePolicy {
  if (!CHALLENGE_POLICIES.includes(policy as ChallengePolicy)) throw new InvalidInputError(`policy: ${CHALLENGE_POLICIES.join(' or ')}`);
  return policy as ChallengePolicy;
}

export async function rangePolicies(db: SqlExecutor): Promise<Array<{ cidr: string; policy: ChallengePolicy }>> {
  return db.all('SELECT cidr, policy FROM challenge_policy_ranges ORDER BY cidr');
}

/**
 * The range policies, read at most once a second per verifier instance: consulted on every
 * challenge, changed rarely (a change takes up to a second to apply everywhere).
 */
export class RangePolicyCache {
  #ranges: Promise<Array<{ cidr: string; policy: ChallengePolicy }>> | undefined;
  #readAt = 0;

  /** One read for all who ask while it runs (every login of that moment would otherwise read too). */
  get(db: SqlExecutor): Promise<Array<{ cidr: string; policy: ChallengePolicy }>> {
    if (!this.#ranges || Date.now() - this.#readAt > 1_000) {
      const ranges = rangePolicies(db);
      this.#ranges = ranges;
      this.#readAt = Date.now();
      // A failed read is not kept: the next caller reads again.
      ranges.catch(() => {
        if (this.#ranges === ranges) this.#ranges = undefined;
      });
    }
    return this.#ranges;
  }

  invalidate(): void {
    this.#ranges = undefined;
  }
}

export async function challengePolicyFor(ctx: VerifierContext, user: Pick<UserRow, 'challenge_policy'>, clientIp: string, cache?: RangePolicyCache): Promise<ChallengePolicy> {
  const ranges = cache ? await cache.get(ctx.db.relaxed) : await rangePolicies(ctx.db);
  // The most specific matching range wins.
  const matching = ranges.filter((r) => inRanges(clientIp, [r.cidr])).sort((a, b) => Number(b.cidr.split('/')[1]) - Number(a.cidr.split('/')[1]));
  if (matching[0]) return matching[0].policy;
  return userChallengePolicy(user);
}

/** The user's own policy, whatever the client range; an unknown stored value counts as the stricter one. */
export function userChallengePolicy(user: Pick<UserRow, 'challenge_policy'>): ChallengePolicy {
  return CHALLENGE_POLICIES.includes(user.challenge_policy as ChallengePolicy) ? (user.challenge_policy as ChallengePolicy) : 'password+token';
}

/** Sets (undefined: removes) the range's policy; `changed` is false when there was none to remove. */
export async function setRangePolicy(db: SqlExecutor, cidr: string, policy: ChallengePolicy | undefined, now: number): Promise<{ cidr: string; changed: boolean }> {
  const normalized = normalizeCidr(cidr);
  if (policy === undefined) {
    const { changes } = await db.run('DELETE FROM challenge_policy_ranges WHERE cidr = ?', [normalized]);
    return { cidr: normalized, changed: changes > 0 };
  }
  await db.run('INSERT INTO challenge_policy_ranges (cidr, policy, created_at) VALUES (?, ?, ?) ON CONFLICT (cidr) DO UPDATE SET policy = excluded.policy', [normalized, policy, now]);
  return { cidr: normalized, changed: true };
}
