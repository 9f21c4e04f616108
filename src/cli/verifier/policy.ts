// `tokengate verifier policy …`: which factors a challenge login (a token signing the verifier's
// challenge) needs, per user and per client range. A kiosk sends no password, so until its users
// are token-only, or its network is, every correct PIN at it is refused (ERR_PASSWORD_REQUIRED).
import { CHALLENGE_POLICIES, type ChallengePolicy } from '../../verifier/tokens/policy.js';
import type { Verifier } from '../../verifier/verifier.js';
import { UsageError } from '../exit-codes.js';
import { printTable } from '../table.js';

export const POLICY_HELP = `usage: tokengate verifier policy <command>

The challenge policy says what a login with an enrolled token needs:
  password+token   the user's password too (the default for every new user)
  token-only       the token alone: its PIN, checked by the card, is the second factor
A kiosk sends no password, so its users need token-only, or its network a range that says so.
A client range's policy overrides each user's own for addresses inside it (the most specific
range wins).

commands:
  policy set USERNAME token-only|password+token    the user's own policy
  policy range CIDR token-only|password+token      for clients inside CIDR, whatever the user's
  policy range CIDR --clear                        those clients fall back to each user's own
  policy list                                      the ranges, then every user's own policy

e.g. a door kiosk at 192.0.2.10:  tokengate verifier policy range 192.0.2.10/32 token-only
     or for one user:             tokengate verifier policy set dana token-only
`;

function policyArgument(value: string | undefined): ChallengePolicy {
  if (value === undefined || !CHALLENGE_POLICIES.includes(value as ChallengePolicy)) {
    throw new UsageError(`the policy: ${CHALLENGE_POLICIES.join(' or ')}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}; see tokengate verifier policy --help`);
  }
  return value as ChallengePolicy;
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what} (see tokengate verifier policy --help)`);
  return value;
}

export async function runPolicy(verifier: Verifier, actor: string, args: readonly string[], options: { json: boolean; clear: boolean }): Promise<void> {
  const [verb, target, policyText] = args;
  switch (verb) {
    case 'set': {
      const username = need(target, 'USERNAME');
      const policy = policyArgument(policyText);
      await verifier.admin.setChallengePolicy(actor, username, policy);
      console.log(`${username}: challenge policy ${policy}${policy === 'password+token' ? ' (a client that sends no password, such as a kiosk, is refused unless its range says token-only)' : ''}`);
      return;
    }
    case 'range': {
      const cidr = need(target, 'CIDR');
      if (options.clear === (policyText !== undefined)) throw new UsageError('policy range CIDR takes a policy or --clear (see tokengate verifier policy --help)');
      if (options.clear) {
        const cleared = await verifier.organisation.clearChallengePolicyRange(actor, cidr);
        console.log(cleared ? `clients in ${cidr}: each user's own policy again` : `clients in ${cidr} had no policy of their own: nothing to clear`);
        return;
      }
      const normalized = await verifier.organisation.setChallengePolicyRange(actor, cidr, policyArgument(policyText));
      console.log(`clients in ${normalized}: ${policyText}, whatever each user's own policy`);
      return;
    }
    case 'list': {
      const ranges = await verifier.organisation.challengePolicyRanges();
      const users = (await verifier.admin.list()).map((u) => ({ username: u.username, challengePolicy: u.challengePolicy }));
      if (options.json) console.log(JSON.stringify({ ranges, users }, null, 2));
      else printTable([...ranges.map((r) => ({ for: `clients in ${r.cidr}`, policy: r.policy })), ...users.map((u) => ({ for: `user ${u.username}`, policy: u.challengePolicy }))]);
      return;
    }
    default:
      throw new UsageError(`${verb === undefined ? 'policy needs a command' : `unknown policy command "${verb}"`}: set, range or list (see tokengate verifier policy --help)`);
  }
}
