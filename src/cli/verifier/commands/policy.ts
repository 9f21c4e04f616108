// `tokengate verifier policy …`: which factors a challenge login (a token signing the verifier's
// challenge) needs, per user and per client range. A kiosk sends no password, so until its users
// are token-only, or its network is, every correct PIN at it is refused (ERR_PASSWORD_REQUIRED).
import type { ChallengePolicy } from '../../../verifier/index.js';
// The list of policies, to check the argument; the package exports only their type.
import { CHALLENGE_POLICIES } from '../../../verifier/tokens/policy.js';
import { defineGroup, withSynopsis } from '../../command.js';
import { jsonOption } from '../../commands/options.js';
import { UsageError } from '../../exit-codes.js';
import { printListing } from '../../table.js';
import { ACTOR, defineVerifierCommand, withVerifier } from '../command.js';
import { userPage, userPageOptions, type UserPageOptions } from '../paging.js';

const POLICY = 'token-only|password+token';
const POLICY_MEANS = 'token-only: the token and its PIN; password+token: the password too';

const ABOUT = `The challenge policy says what a login with an enrolled token needs:
  password+token   the user's password too (the default for every new user)
  token-only       the token alone: its PIN, which the card checks, suffices

A kiosk sends no password, so its users need token-only, or its network a range that says so. A client range's policy overrides each user's own for addresses inside it (the most specific range wins).`;

const EXAMPLES = `
e.g. a door kiosk at 192.0.2.10:  tokengate verifier policy range 192.0.2.10/32 token-only
     or for one user:             tokengate verifier policy set dana token-only`;

function policyArgument(value: string | undefined): ChallengePolicy {
  if (value === undefined || !CHALLENGE_POLICIES.includes(value as ChallengePolicy)) {
    throw new UsageError(`the policy: ${CHALLENGE_POLICIES.join(' or ')}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}; see tokengate verifier policy --help`);
  }
  return value as ChallengePolicy;
}

function setCommand() {
  return defineVerifierCommand('set', "The user's own policy")
    .argument('<USERNAME>', 'whose')
    .argument(`<${POLICY}>`, POLICY_MEANS)
    .action(
      withVerifier(async (verifier, [username, policyText]) => {
        const policy = policyArgument(policyText);
        await verifier.admin.setChallengePolicy(ACTOR, username!, policy);
        console.log(`${username}: challenge policy ${policy}${policy === 'password+token' ? ' (a client that sends no password, such as a kiosk, is refused unless its range says token-only)' : ''}`);
      }),
    );
}

function rangeCommand() {
  const command = defineVerifierCommand('range', "For clients inside CIDR, whatever the user's own (--clear: each user's own again)")
    .argument('<CIDR>', 'the client range, e.g. 192.0.2.10/32')
    .argument(`[${POLICY}]`, POLICY_MEANS)
    .option('--clear', "drop the range's policy: its clients fall back to each user's own");
  // Two forms: a policy, or --clear.
  return withSynopsis(command, `CIDR ${POLICY} | CIDR --clear`).action(
    withVerifier<{ clear?: boolean }>(async (verifier, [cidr, policyText], options) => {
      if ((options.clear === true) === (policyText !== undefined)) throw new UsageError('policy range CIDR takes a policy or --clear (see tokengate verifier policy --help)');
      if (options.clear) {
        const cleared = await verifier.organisation.clearChallengePolicyRange(ACTOR, cidr!);
        console.log(cleared ? `clients in ${cidr}: each user's own policy again` : `clients in ${cidr} had no policy of their own: nothing to clear`);
        return;
      }
      const normalized = await verifier.organisation.setChallengePolicyRange(ACTOR, cidr!, policyArgument(policyText));
      console.log(`clients in ${normalized}: ${policyText}, whatever each user's own policy`);
    }),
  );
}

function listCommand() {
  return jsonOption(userPageOptions(defineVerifierCommand('list', "The ranges' policies, then each user's own (the first 1000, or --search, --after)"))).action(
    withVerifier<UserPageOptions & { json?: boolean }>(async (verifier, _args, options) => {
      const ranges = await verifier.organisation.challengePolicyRanges();
      const users = (await userPage(verifier, options, 'tokengate verifier policy list')).map((u) => ({ username: u.username, challengePolicy: u.challengePolicy }));
      printListing(options.json, { ranges, users }, [...ranges.map((r) => ({ for: `clients in ${r.cidr}`, policy: r.policy })), ...users.map((u) => ({ for: `user ${u.username}`, policy: u.challengePolicy }))]);
    }),
  );
}

export function policyCommand() {
  return defineGroup('policy', 'What a token login needs: per user, or per client range (a kiosk sends no password)', ABOUT, [setCommand(), rangeCommand(), listCommand()]).addHelpText('after', EXAMPLES);
}
